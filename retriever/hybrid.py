"""The search component: BM25 + dense candidates, weighted RRF, report preference, dedupe, rerank."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from corpus.errors import BadQueryError
from embeddings.base import Embedder
from embeddings.vector_index import search as dense_search
from retriever.filters import ReportFilter, compact_text, named_reports, quoted_terms
from retriever.fusion import fuse_rrf, fuse_scores, is_near_duplicate
from retriever.index import LoadedIndex
from retriever.models import Hit
from retriever.rerank import Reranker
from retriever.tokenizer import ChineseTokenizer

log = logging.getLogger(__name__)

MODES = ("hybrid", "bm25", "dense")
FUSIONS = ("rrf", "score")


@dataclass(frozen=True)
class RetrieverSettings:
    """Fusion weights and depths; defaults chosen on the dev split of the original 168 questions (evals/qa.jsonl q001-q168)."""

    mode: str = "hybrid"
    top_k: int = 5
    candidates: int = 50  # per retriever, before fusion
    # Score fusion with a light dense weight won on the dev split (bench/tune_retrieval.py;
    # rank-1 92.1% vs 86.8% BM25 alone, flat for dense weights 0.15-0.35): the 4-bit e5-small is
    # a good tie-breaker but a noisy ranker alone, and RRF gave its noisy ranks as much say.
    fusion: str = "score"  # "score" (min-max scaled score sum) or "rrf" (rank based)
    bm25_weight: float = 1.0
    dense_weight: float = 0.25
    rrf_k: int = 60
    # Extra weight for chunks of a report the question names ("2023年度读本里…").
    prefer_weight: float = 0.3
    # Extra weight for chunks holding the terms a question quotes ("“三区叠加”是哪三区"), which
    # also brings such chunks into the candidates when neither retriever found them. A term in
    # more than `quote_max_chunks` chunks ("十四五") says too little to prefer any. Dev split
    # (`planqa eval --retrieval-only`), hit@1 by weight: 0 86.9%, 0.15 88.1%, 0.3 87.5%, 0.5 86.9%;
    # on the held-out test split 0.15 kept hit@1 (89.2%) and raised hit@5 97.2% -> 97.7%.
    quote_weight: float = 0.15
    quote_max_chunks: int = 20
    dedupe: bool = True

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.top_k <= 0:
            raise ValueError(f"top_k must be > 0, got {self.top_k}")
        if self.candidates < self.top_k:
            raise ValueError(f"candidates ({self.candidates}) must be >= top_k ({self.top_k})")
        if min(self.bm25_weight, self.dense_weight, self.prefer_weight, self.quote_weight) < 0:
            raise ValueError("weights must be >= 0")
        if self.quote_max_chunks < 1:
            raise ValueError(f"quote_max_chunks must be >= 1, got {self.quote_max_chunks}")
        if self.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {', '.join(FUSIONS)}, got {self.fusion!r}")
        if self.rrf_k <= 0:
            raise ValueError(f"rrf_k must be > 0, got {self.rrf_k}")

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict) -> RetrieverSettings:
        return cls(**data)


class HybridRetriever:
    """One job: a question in, `top_k` ranked `Hit`s out. Models and index are handed in."""

    def __init__(
        self,
        index: LoadedIndex,
        embedder: Embedder,
        tokenizer: ChineseTokenizer,
        settings: RetrieverSettings | None = None,
        reranker: Reranker | None = None,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.tokenizer = tokenizer
        self.settings = settings or RetrieverSettings()
        self.reranker = reranker
        if embedder.embedder_id != index.manifest.embedder_id:
            raise BadQueryError(
                f"The index was built with {index.manifest.embedder_id} but the embedder is "
                f"{embedder.embedder_id}. Search with the same --embedder (or PLANQA_EMBEDDER), "
                "or rebuild with `planqa index --embedder NAME`."
            )
        self.doc_ids = frozenset(c.doc_id for c in index.chunks)
        self._normed: list[str] | None = None  # chunk texts for quoted-term lookups, made once
        self._last_query: tuple[str, np.ndarray] | None = None  # (text, vector) of the last search

    def _query_vector(self, text: str) -> np.ndarray:
        """The query's vector; the last one is kept, since the answer step asks again."""
        last = self._last_query
        if last is None or last[0] != text:
            last = (text, self.embedder.embed_queries([text])[0])
            self._last_query = last
        return last[1]

    def sentence_similarities(
        self, question: str, sentences: Sequence[str]
    ) -> list[float | None]:
        """Semantic (e5 cosine) similarity of `question` to each sentence, from the sentence
        vectors the index holds; a sentence it lacks is embedded now."""
        if not sentences or not question.strip():
            return [None] * len(sentences)
        text = question.strip()[: self.embedder.max_query_chars]
        return self.index.sentences.similarities(self._query_vector(text), sentences, self.embedder)

    def run(
        self,
        query: str,
        top_k: int | None = None,
        mode: str | None = None,
        filters: ReportFilter | None = None,
        prefer_named: bool = True,
    ) -> list[Hit]:
        s = self.settings
        top_k = s.top_k if top_k is None else top_k
        mode = s.mode if mode is None else mode
        if not isinstance(query, str) or not query.strip():
            raise BadQueryError("The question is empty. Type a question, e.g. 北京常住人口是多少？")
        if top_k <= 0:
            raise BadQueryError(f"-k must be a positive number of passages, got {top_k}.")
        if mode not in MODES:
            raise BadQueryError(f"Unknown search mode {mode!r}; use one of {', '.join(MODES)}.")
        if filters is not None and filters.doc_ids is not None:
            unknown = sorted(filters.doc_ids - self.doc_ids)
            if unknown:
                raise BadQueryError(
                    f"Unknown report id {unknown[0]!r}. Known: {', '.join(sorted(self.doc_ids))}."
                )
        query = query.strip()
        chunks = self.index.chunks
        allowed = None
        if filters is not None and not filters.is_empty:
            allowed = np.array([filters.accepts(c) for c in chunks], dtype=bool)
            if not allowed.any():
                return []
        depth = max(s.candidates, top_k * 4)
        rankings: dict[str, list[int]] = {}
        bm25_scores: dict[int, float] = {}
        dense_scores: dict[int, float] = {}
        if mode in ("hybrid", "bm25"):
            scores = self.index.bm25.scores(self.tokenizer.tokenize(query))
            if allowed is not None:
                scores = np.where(allowed, scores, 0.0)
            positive = np.flatnonzero(scores > 0)
            order = positive[np.argsort(-scores[positive], kind="stable")][:depth]
            rankings["bm25"] = [int(i) for i in order]
            bm25_scores = {int(i): float(scores[i]) for i in order}
        if mode in ("hybrid", "dense"):
            text = query
            if len(text) > self.embedder.max_query_chars:
                log.warning(
                    "The question is %d characters long; only the first %d are used for "
                    "semantic search.", len(text), self.embedder.max_query_chars,
                )
                text = text[: self.embedder.max_query_chars]
            qvec = self._query_vector(text)
            # Filtering happens after the FAISS search, so search deeper when filtering.
            want = depth if allowed is None else self.index.vectors.ntotal
            sims, ids = dense_search(self.index.vectors, qvec, want)
            pairs = [(int(i), float(v)) for i, v in zip(ids, sims, strict=True)]
            if allowed is not None:
                pairs = [(i, v) for i, v in pairs if allowed[i]]
            pairs = pairs[:depth]
            rankings["dense"] = [i for i, _ in pairs]
            dense_scores = dict(pairs)

        if mode == "bm25":
            ordered = [(i, bm25_scores[i]) for i in rankings["bm25"]]
        elif mode == "dense":
            ordered = [(i, dense_scores[i]) for i in rankings["dense"]]
        else:
            weights = {"bm25": s.bm25_weight, "dense": s.dense_weight}
            named = named_reports(query, self.index.catalog) if prefer_named else frozenset()
            quoted = self._quoted(query, allowed) if s.quote_weight > 0 else {}
            if s.fusion == "rrf":
                if named and s.prefer_weight > 0:
                    pool = list(dict.fromkeys(rankings["bm25"] + rankings["dense"]))
                    # Named-report chunks, in the order of their best single-retriever rank.
                    best = _best_rank(rankings)
                    rankings["named"] = sorted(
                        (i for i in pool if chunks[i].doc_id in named), key=lambda i: best[i]
                    )
                    weights["named"] = s.prefer_weight
                if quoted:
                    best = _best_rank(rankings)
                    far = len(chunks)
                    rankings["quoted"] = sorted(quoted, key=lambda i: (-quoted[i], best.get(i, far)))
                    weights["quoted"] = s.quote_weight
                ordered = fuse_rrf(rankings, weights, k=s.rrf_k)
            else:
                per_source: dict[str, dict[int, float]] = {"bm25": bm25_scores, "dense": dense_scores}
                if named and s.prefer_weight > 0:
                    pool = set(bm25_scores) | set(dense_scores)
                    per_source["named"] = {
                        i: (1.0 if chunks[i].doc_id in named else 0.0) for i in pool
                    }
                    weights["named"] = s.prefer_weight
                if quoted:
                    pool = set(bm25_scores) | set(dense_scores) | set(quoted)
                    per_source["quoted"] = {i: quoted.get(i, 0.0) for i in pool}
                    weights["quoted"] = s.quote_weight
                ordered = fuse_scores(per_source, weights)

        if s.dedupe:
            ordered = self._dedupe(ordered, limit=top_k if self.reranker is None else depth)
        hits_rows = ordered if self.reranker is not None else ordered[:top_k]
        hits = [
            Hit(
                chunk=chunks[i],
                score=score,
                rank=rank,
                bm25_score=bm25_scores.get(i),
                dense_score=dense_scores.get(i),
            )
            for rank, (i, score) in enumerate(hits_rows, start=1)
        ]
        if self.reranker is not None and hits:
            hits = self._rerank(query, hits[: max(top_k * 3, 20)], top_k)
        return hits

    def _quoted(self, query: str, allowed: np.ndarray | None) -> dict[int, float]:
        """row -> the share of the question's quoted terms (`quoted_terms`) the chunk holds, for
        chunks holding at least one; terms in more than `quote_max_chunks` chunks are ignored."""
        terms = quoted_terms(query)
        if not terms:
            return {}
        if self._normed is None:
            self._normed = [compact_text(c.text) for c in self.index.chunks]
        rows_by_term = []
        for term in terms:
            rows = [
                i
                for i, text in enumerate(self._normed)
                if term in text and (allowed is None or allowed[i])
            ]
            if 0 < len(rows) <= self.settings.quote_max_chunks:
                rows_by_term.append(rows)
        share: dict[int, float] = {}
        for rows in rows_by_term:
            for i in rows:
                share[i] = share.get(i, 0.0) + 1.0 / len(rows_by_term)
        return share

    def _dedupe(self, ordered: list[tuple[int, float]], limit: int) -> list[tuple[int, float]]:
        chunks = self.index.chunks
        kept: list[tuple[int, float]] = []
        for row, score in ordered:
            c = chunks[row]
            if any(
                is_near_duplicate(
                    (c.doc_id, c.char_start, c.char_end),
                    (chunks[k].doc_id, chunks[k].char_start, chunks[k].char_end),
                    c.text,
                    chunks[k].text,
                )
                for k, _ in kept
            ):
                continue
            kept.append((row, score))
            if len(kept) >= limit:
                break
        return kept

    def _rerank(self, query: str, hits: list[Hit], top_k: int) -> list[Hit]:
        assert self.reranker is not None
        scores = self.reranker.score(query, [h.chunk.text for h in hits])
        order = sorted(range(len(hits)), key=lambda i: -scores[i])[:top_k]
        return [
            Hit(
                chunk=hits[i].chunk,
                score=scores[i],
                rank=rank,
                bm25_score=hits[i].bm25_score,
                dense_score=hits[i].dense_score,
                rerank_score=scores[i],
            )
            for rank, i in enumerate(order, start=1)
        ]


def _best_rank(rankings: dict[str, list[int]]) -> dict[int, int]:
    best: dict[int, int] = {}
    for ranking in rankings.values():
        for rank, row in enumerate(ranking):
            best[row] = min(best.get(row, rank), rank)
    return best
