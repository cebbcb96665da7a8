"""Pure functions that merge ranked lists and drop near-duplicate passages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def fuse_rrf(
    rankings: Mapping[str, Sequence[int]],
    weights: Mapping[str, float],
    k: int = 60,
) -> list[tuple[int, float]]:
    """Weighted reciprocal-rank fusion: score(d) = sum_i w_i / (k + rank_i(d)), best first.

    Ties keep the order in which ids first appear, so results are deterministic.
    """
    if k <= 0:
        raise ValueError(f"rrf k must be > 0, got {k}")
    fused: dict[int, float] = {}
    for name, ranking in rankings.items():
        weight = float(weights.get(name, 1.0))
        if weight == 0:
            continue
        for rank, doc in enumerate(ranking, start=1):
            fused[doc] = fused.get(doc, 0.0) + weight / (k + rank)
    order = sorted(fused.items(), key=lambda item: -item[1])
    return order


def char_bigrams(text: str) -> set[str]:
    compact = "".join(text.split())
    return {compact[i : i + 2] for i in range(len(compact) - 1)}


def is_near_duplicate(
    a_span: tuple[str, int, int],
    b_span: tuple[str, int, int],
    a_text: str,
    b_text: str,
    overlap_ratio: float = 0.5,
    jaccard: float = 0.85,
) -> bool:
    """Is candidate `a` mostly already shown by `b`: the same report and most of a's characters
    inside b's span, or (any report) nearly the same wording?

    Spans are (doc_id, char_start, char_end). Neighbouring chunks share one sentence of
    overlap; that alone does not make them duplicates, even when the neighbour is short.
    """
    doc_a, start_a, end_a = a_span
    doc_b, start_b, end_b = b_span
    if doc_a == doc_b:
        shared = min(end_a, end_b) - max(start_a, start_b)
        if shared / max(1, end_a - start_a) > overlap_ratio:
            return True
    grams_a, grams_b = char_bigrams(a_text), char_bigrams(b_text)
    if not grams_a or not grams_b:
        return a_text.strip() == b_text.strip()
    return len(grams_a & grams_b) / len(grams_a | grams_b) >= jaccard


def fuse_scores(
    scores: Mapping[str, Mapping[int, float]],
    weights: Mapping[str, float],
) -> list[tuple[int, float]]:
    """Weighted sum of per-retriever scores, each min-max scaled to [0, 1] over its candidates.

    A candidate missing from one retriever's list gets 0 from it. Unlike RRF this keeps how far
    ahead a clear BM25 winner is, so a noisy dense rank cannot overturn it on its own.
    """
    fused: dict[int, float] = {}
    for name, by_doc in scores.items():
        weight = float(weights.get(name, 1.0))
        if weight == 0 or not by_doc:
            continue
        low, high = min(by_doc.values()), max(by_doc.values())
        span = high - low
        for doc, value in by_doc.items():
            scaled = (value - low) / span if span > 0 else 1.0
            fused[doc] = fused.get(doc, 0.0) + weight * scaled
    return sorted(fused.items(), key=lambda item: -item[1])
