"""Benchmark metrics as pure functions: evidence in retrieved passages, answer matching, rates.

Text is compared after `normalize_for_match` (NFKC, whitespace removed). Answers are compared in
a canonical form that also writes Chinese numerals as Arabic ones (`八处` = `8处`, `两个` = `2个`,
`二〇三五年` = `2035年`), so a model may write a figure either way.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence

from assistant.grounding import extract_figures, strip_markers, unstated_figures
from evals.dataset import normalize_for_match

RANKS = (1, 3, 5, 10)  # hit@k reported in metrics.json
RANK_DEPTH = 10  # MRR@10, nDCG@10 and the hit-by-rank curve look at the first 10 passages
BUDGETS = (1000, 2000, 4000)  # characters of context, passages concatenated in rank order

__all__ = [
    "BUDGETS",
    "RANKS",
    "RANK_DEPTH",
    "answer_matches",
    "canonical_answer",
    "chars_to_evidence",
    "chinese_numerals_to_arabic",
    "contains_answer",
    "first_relevant_rank",
    "holds_evidence",
    "hit_at_k",
    "mrr_at_k",
    "ndcg_at_k",
    "percentile",
    "rate",
    "score_answer",
    "score_retrieval",
    "summarise_answers",
    "summarise_latency",
    "summarise_retrieval",
]


# ---------------------------------------------------------------- numerals


_CN_DIGIT = {
    "零": 0, "〇": 0, "○": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
    "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}  # fmt: skip
_CN_UNIT = {"十": 10, "百": 100, "千": 1000}
_DIGIT_CHARS = "".join(_CN_DIGIT)
_RUN_CHARS = _DIGIT_CHARS + "".join(_CN_UNIT)
# An integer part, then an optional decimal part ("四十四点九"), optionally as "百分之…".
_CN_NUMBER = re.compile(rf"(百分之)?([{_RUN_CHARS}]+)(?:点([{_DIGIT_CHARS}]+))?")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


def _leading_value(run: str) -> tuple[int, int]:
    """(value, characters used) of the longest well-formed numeral at the start of `run`.

    Well formed: digits and the units 十/百/千 with units descending ("三千零五", "十五",
    "一百二十"). "十五五" reads as 十五 then 五; a run of bare digits is read by `_digits`.
    """
    total, digit, last_unit, used = 0, None, 10_000, 0
    for i, ch in enumerate(run):
        if ch in _CN_DIGIT:
            value = _CN_DIGIT[ch]
            if digit is not None and digit != 0:
                break  # two digits in a row inside a unit numeral: a new number starts here
            digit = value
        else:
            unit = _CN_UNIT[ch]
            if unit >= last_unit:
                break
            total += (1 if digit is None else digit) * unit
            digit, last_unit = None, unit
        used = i + 1
    if digit is not None:
        total += digit
    return total, used


def _integer(run: str) -> str:
    if not any(ch in _CN_UNIT for ch in run):
        return "".join(str(_CN_DIGIT[ch]) for ch in run)  # "二〇三五" -> "2035", "八" -> "8"
    parts = []
    while run:
        if run[0] in _CN_DIGIT and (len(run) == 1 or run[1] in _CN_DIGIT):
            parts.append(str(_CN_DIGIT[run[0]]))
            run = run[1:]
            continue
        value, used = _leading_value(run)
        parts.append(str(value))
        run = run[max(used, 1) :]
    return "".join(parts)


def chinese_numerals_to_arabic(text: str) -> str:
    """Write Chinese numerals with Arabic digits; 万 and 亿 stay as units, as the reports write them.

    "八处" -> "8处", "两个" -> "2个", "二〇三五年" -> "2035年", "一百二十三" -> "123",
    "三千五百万" -> "3500万", "四十四点九" -> "44.9", "百分之六" -> "6%". Numerals inside words
    ("一核两翼" -> "1核2翼") change too; both sides of a comparison go through this function,
    so such words still match themselves.
    """

    def convert(m: re.Match[str]) -> str:
        percent, integer, decimals = m.group(1), m.group(2), m.group(3)
        number = _integer(integer)
        if decimals:
            number += "." + "".join(str(_CN_DIGIT[ch]) for ch in decimals)
        return number + "%" if percent else number

    return _CN_NUMBER.sub(convert, text)


def canonical_answer(text: str) -> str:
    """The form in which answers are compared: normalised, no thousands separators, Arabic numerals."""
    return chinese_numerals_to_arabic(_THOUSANDS.sub("", normalize_for_match(text)))


def _digit_before(text: str, start: int) -> bool:
    """text[start] continues a number: a digit, or a decimal point after a digit, comes before it."""
    before = text[start - 1] if start > 0 else ""
    return before.isdigit() or (before == "." and start > 1 and text[start - 2].isdigit())


def _digit_after(text: str, end: int) -> bool:
    """text[end - 1] is continued by a digit, or by a decimal point and a digit."""
    after = text[end] if end < len(text) else ""
    return after.isdigit() or (after == "." and end + 1 < len(text) and text[end + 1].isdigit())


def contains_answer(text: str, expected: str) -> bool:
    """Does `text` state the answer string `expected`? Canonical forms are compared, and a figure
    must stand alone: "8处" is not in "18处", "44.9" is not in "44.95"."""
    needle = canonical_answer(expected)
    haystack = canonical_answer(text)
    if not needle:
        return False
    start = haystack.find(needle)
    while start != -1:
        end = start + len(needle)
        if not (needle[0].isdigit() and _digit_before(haystack, start)) and not (
            needle[-1].isdigit() and _digit_after(haystack, end)
        ):
            return True
        start = haystack.find(needle, start + 1)
    return False


def answer_matches(answers: Sequence[str], match: str, text: str) -> bool:
    """`match` "any": one accepted answer is in `text`; "all": every one is. No answers: False."""
    if not answers:
        return False
    hits = [contains_answer(text, a) for a in answers]
    return all(hits) if match == "all" else any(hits)


# ---------------------------------------------------------------- retrieval


def holds_evidence(passage: str, evidence: Sequence[str]) -> bool:
    """A passage holds the evidence when it contains any evidence string (normalised)."""
    text = normalize_for_match(passage)
    return any(normalize_for_match(e) in text for e in evidence)


def first_relevant_rank(relevant: Sequence[bool]) -> int | None:
    """1-based rank of the first relevant passage, None if there is none."""
    return next((rank for rank, r in enumerate(relevant, start=1) if r), None)


def hit_at_k(relevant: Sequence[bool], k: int) -> bool:
    """A relevant passage is among the first k."""
    return any(relevant[:k])


def mrr_at_k(relevant: Sequence[bool], k: int = RANK_DEPTH) -> float:
    """1 / rank of the first relevant passage within the first k, else 0."""
    first = first_relevant_rank(relevant[:k])
    return 1.0 / first if first else 0.0


def ndcg_at_k(relevant: Sequence[bool], k: int = RANK_DEPTH) -> float:
    """Binary-relevance nDCG@k: DCG = sum 1/log2(rank+1) over relevant passages; the ideal list puts
    the relevant passages found in the first k at the top. 0 when none is relevant."""
    top = list(relevant[:k])
    dcg = sum(1.0 / math.log2(rank + 1) for rank, r in enumerate(top, start=1) if r)
    n_relevant = sum(bool(r) for r in top)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, n_relevant + 1))
    return dcg / ideal if ideal else 0.0


def chars_to_evidence(passages: Sequence[str], evidence: Sequence[str]) -> int | None:
    """The smallest context budget (characters of the passages concatenated in rank order) that
    holds every evidence string, or None if the whole text does not."""
    if not evidence:
        return None
    joined = "".join(passages)
    needles = [normalize_for_match(e) for e in evidence]

    def holds_all(n: int) -> bool:
        prefix = normalize_for_match(joined[:n])
        return all(e in prefix for e in needles)

    if not holds_all(len(joined)):
        return None
    low, high = 1, len(joined)  # holds_all(high) is True; find the smallest such n
    while low < high:
        mid = (low + high) // 2
        if holds_all(mid):
            high = mid
        else:
            low = mid + 1
    return low


def score_retrieval(
    passages: Sequence[str],
    evidence: Sequence[str],
    ranks: Sequence[int] = RANKS,
    budgets: Sequence[int] = BUDGETS,
) -> dict:
    """Per-question retrieval scores of a ranked passage list (best first)."""
    relevant = [holds_evidence(p, evidence) for p in passages[:RANK_DEPTH]]
    needed = chars_to_evidence(passages, evidence)
    scores: dict = {
        "relevant": relevant,
        "first_rank": first_relevant_rank(relevant),
        "chars_to_evidence": needed,
    }
    for k in ranks:
        scores[f"hit@{k}"] = hit_at_k(relevant, k)
    scores["mrr@10"] = mrr_at_k(relevant, RANK_DEPTH)
    scores["ndcg@10"] = ndcg_at_k(relevant, RANK_DEPTH)
    for budget in budgets:
        scores[f"evidence@{budget}"] = needed is not None and needed <= budget
    return scores


def rate(flags: Iterable[bool]) -> float | None:
    """Share of True; None for no items (a rate of nothing is not 0)."""
    flags = list(flags)
    return sum(bool(f) for f in flags) / len(flags) if flags else None


def summarise_retrieval(
    rows: Sequence[Mapping],
    ranks: Sequence[int] = RANKS,
    budgets: Sequence[int] = BUDGETS,
    budget_grid: Sequence[int] = tuple(range(250, 4001, 250)),
) -> dict:
    """Means of `score_retrieval` rows, plus the hit-by-rank (k=1..10) and hit-by-budget curves."""
    summary: dict = {"n": len(rows)}
    for k in ranks:
        summary[f"hit@{k}"] = rate(r[f"hit@{k}"] for r in rows)
    summary["mrr@10"] = sum(r["mrr@10"] for r in rows) / len(rows) if rows else None
    summary["ndcg@10"] = sum(r["ndcg@10"] for r in rows) / len(rows) if rows else None
    for budget in budgets:
        summary[f"evidence@{budget}"] = rate(
            r["chars_to_evidence"] is not None and r["chars_to_evidence"] <= budget for r in rows
        )
    summary["hit_by_rank"] = {
        str(k): rate(r["first_rank"] is not None and r["first_rank"] <= k for r in rows)
        for k in range(1, RANK_DEPTH + 1)
    }
    summary["hit_by_budget"] = {
        str(b): rate(
            r["chars_to_evidence"] is not None and r["chars_to_evidence"] <= b for r in rows
        )
        for b in budget_grid
    }
    return summary


# ---------------------------------------------------------------- answers


def score_answer(
    answers: Sequence[str],
    match: str,
    evidence: Sequence[str],
    answerable: bool,
    record: Mapping,
) -> dict:
    """Per-question answer scores of an `Answer.to_dict()`-shaped record.

    `correct`: answerable, not refused and the answer holds any/all accepted answers. A citation is
    `precise` when its passage holds an evidence string or an accepted answer. Records without
    citation checks (`grounded` None, e.g. a baseline) count no citations.
    """
    refused = bool(record["refused"])
    citations = record.get("citations", [])
    cited = [c["text"] for c in citations]
    precise = [
        holds_evidence(t, evidence) or any(contains_answer(t, a) for a in answers) for t in cited
    ]
    grounded = record.get("grounded")
    missing = []
    if grounded:
        figures = extract_figures(strip_markers(record["answer"]))
        # a year may be stated by the cited report's title (「2023年度：44.9%」 from the 2023 reader)
        headings = [f"{c.get('title', '')} {c.get('section', '')}" for c in citations]
        missing = unstated_figures(figures, cited, headings)
    return {
        "answerable": answerable,
        "refused": refused,
        "correct": answerable and not refused and answer_matches(answers, match, record["answer"]),
        # handled right: an answerable one answered correctly, an unanswerable one refused
        "right": (not refused and answer_matches(answers, match, record["answer"]))
        if answerable
        else refused,
        "citations": len(cited),
        "precise_citations": sum(precise),
        "grounded": grounded,
        "grounded_with_missing_figure": bool(grounded and missing),
        "fallback": record.get("backend") == "extractive" and bool(record.get("fallback")),
    }


def summarise_answers(rows: Sequence[Mapping]) -> dict:
    """Rates over `score_answer` rows; None where a rate has no questions to count."""
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    answered = [r for r in rows if not r["refused"]]
    cites = sum(r["citations"] for r in answered)
    checked = [r for r in answerable if not r["refused"] and r["grounded"] is not None]
    return {
        "n": len(rows),
        "answer_accuracy": rate(r["correct"] for r in answerable),
        "overall_accuracy": rate(r["right"] for r in rows),
        "refusal_accuracy": rate(r["refused"] for r in unanswerable),
        "false_refusal_rate": rate(r["refused"] for r in answerable),
        "citation_precision": sum(r["precise_citations"] for r in answered) / cites
        if cites
        else None,
        "grounded_rate": rate(r["grounded"] for r in checked),
        "grounded_with_missing_figure": sum(r["grounded_with_missing_figure"] for r in rows),
        "fallbacks": sum(r["fallback"] for r in rows),
    }


# ---------------------------------------------------------------- latency


def percentile(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (0-100), linear between closest ranks (numpy's default); None if empty."""
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be in [0, 100], got {p}")
    ordered = sorted(values)
    if not ordered:
        return None
    position = (len(ordered) - 1) * p / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarise_latency(timings: Sequence[Mapping[str, float]]) -> dict:
    """p50/p95/max in ms per stage (retrieve, generate, total) of `timings_ms` dicts."""
    stages: dict[str, list[float]] = {}
    for t in timings:
        for stage, ms in t.items():
            if ms is not None:
                stages.setdefault(stage, []).append(float(ms))
    return {
        stage: {
            "n": len(values),
            "p50": percentile(values, 50),
            "p95": percentile(values, 95),
            "max": max(values),
        }
        for stage, values in stages.items()
    }
