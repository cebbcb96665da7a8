"""Check a staff member's claim against the reports: supported, contradicted, or not found."""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from assistant.grounding import extract_figures, figure_in_text, normalize_figure, split_sentences
from assistant.grounding import support_overlap as bigram_overlap
from assistant.models import quoted_passage_dict
from corpus.errors import BadQueryError
from retriever.hybrid import HybridRetriever
from retriever.models import Hit

MAX_CLAIM_CHARS = 300
VERDICTS = ("supported", "contradicted", "not_found")
LABELS = {"supported": "支持", "contradicted": "不一致", "not_found": "未找到"}
MAX_EVIDENCE = 3

# Share of the claim's wording (IDF-weighted) a sentence must cover to count as evidence. On the
# dev split of evals/claims.jsonl (python -m evals.claims --split dev --min-match X) every value
# from 0.30 to 0.50 judged all 60 claims right; at 0.25 two unfounded claims come out as
# contradicted (全市常住人口 taken for 出生人口, park areas for 人均公园绿地面积), at 0.55 the
# sentences that cover a claim only in part (the 十四五 GDP growth) are lost. 0.40 is the middle.
MIN_MATCH = 0.4
# A claim without figures can only be supported by wording, so it needs a closer match. Not
# calibrated: the dev split's two such claims both match at 1.0.
MIN_MATCH_NO_FIGURES = 0.8
# A term found only in the passage's title or headings counts this much of a term in the sentence.
_CONTEXT_WEIGHT = 0.5
# Candidates of a figure whose clause matches the claim about as well as the best one (within
# this share) are all "the same thing"; then the one equal to the claim's value wins.
_ALIGN_TOLERANCE = 0.15
# A value the sentence gives as the starting point ("从上年的279亿千瓦时增长至354亿千瓦时") is not
# the value it states for now; its clause match is scaled down by this much.
_BASELINE_FACTOR = 0.5
# How much a contradicting sentence's rank drops per unit of relative gap between the values.
_DISTANCE_WEIGHT = 0.5
# A not-found check shows the sentences covering at least this share of `min_match`.
_CLOSEST_SHARE = 0.5
# The characters right before a figure name what it counts ("完工822部" vs "新开工1099部"), so
# they weigh twice the rest of the clause when matching the claim's figure to the sentence's.
_LEAD_CHARS = 4
_LEAD_WEIGHT = 2.0
# Words people use to hedge or total a figure ("大约", "一共", "已经"). The reports rarely use
# them, so their IDF is high, yet they say nothing about what the figure is.
_HEDGES = frozenset(
    "大约 大概 约 约为 左右 已经 已 一共 共 总共 合计 总计 加起来 目前 现在 如今 整整 足足".split()
)
# Names with digits (PM10, PM2.5, C40, 5G) name the subject: evidence must name it too.
_CODE_NAME = re.compile(r"[a-z]+\d+(?:\.\d+)?|\d+[a-z]+")

# Places the reports speak of besides Beijing as a whole, with the names that stand for them. A
# claim about one of them needs evidence that is about it: "全市常住人口" is not 通州's.
_PLACES = tuple(
    tuple(group.split("/"))
    for group in (
        "通州/城市副中心/副中心 天津 河北 雄安 上海 浦东 广州 深圳 石家庄 保定 廊坊 唐山 张家口 承德 "
        "沧州 秦皇岛 北三县/三河/大厂/香河 大兴 亦庄 顺义 昌平 房山 怀柔 平谷 密云 延庆 门头沟 "
        "海淀 朝阳 丰台 石景山 东城 西城"
    ).split()
)
_YEAR = re.compile(r"(?:1[89]|20)\d\d年")
_CLAUSE_SPLIT = re.compile(r"[，,；;。！？!?、：:]")
# "由上年的279亿千瓦时增长至354亿千瓦时": the part between 从/由 and the verb is the baseline.
_BASELINE = re.compile(
    r"(?:从|由)(?P<base>[^，,；;。、]*?)(?:降至|降到|下降至|下降到|减少至|减少到|提升至|提升到|"
    r"提高至|提高到|增长至|增长到|增加至|增加到|增至|上升至|上升到|扩大至|扩大到|缩短至|缩短到|至|到)"
)
_MAGNITUDE = re.compile(r"^(?:万亿|万|亿|千|百)")
_MAGNITUDE_VALUE = {"万亿": 1e12, "万": 1e4, "亿": 1e8, "千": 1e3, "百": 1e2}
_NUMBER_PART = re.compile(r"^(\d+(?:\.\d+)?)(.*)$", re.DOTALL)
_CJK_CHAR = re.compile(r"[\u4e00-\u9fff]")
_DIGITS = re.compile(r"[\d.%‰]+")


@dataclass(frozen=True)
class FigureComparison:
    """One figure of the claim against the value the report states for the same thing."""

    claimed: str  # as written in the claim, e.g. "45%"
    stated: str | None  # the report's value for the same thing, e.g. "44.95%"; None if none found
    matches: bool

    def to_dict(self) -> dict:
        return {"claimed": self.claimed, "stated": self.stated, "matches": self.matches}


@dataclass(frozen=True)
class Evidence:
    """A sentence of a retrieved passage that bears on the claim."""

    hit: Hit
    quote: str  # exact substring of hit.chunk.text
    quote_start: int
    quote_end: int
    score: float  # how much of the claim's wording the sentence covers, 0..1

    @property
    def source_lines(self) -> tuple[int, int]:
        return (self.hit.chunk.line_start, self.hit.chunk.line_end)

    def to_dict(self) -> dict:
        return {
            **quoted_passage_dict(self.hit, self.quote, self.quote_start, self.quote_end),
            "score": round(float(self.score), 4),
        }


@dataclass(frozen=True)
class FactCheck:
    """The verdict on one claim, with the report sentences and figures it rests on."""

    claim: str
    verdict: str  # "supported" | "contradicted" | "not_found"
    # best first, at most 3: the sentences that support (or contradict) the claim; for not_found
    # the closest sentences, which do not settle it
    evidence: tuple[Evidence, ...]
    figures: tuple[FigureComparison, ...]
    timings_ms: dict = field(default_factory=dict)
    id: str | None = None

    @property
    def label(self) -> str:
        return LABELS[self.verdict]

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "claim": self.claim,
            "verdict": self.verdict,
            "label": self.label,
            "figures": [f.to_dict() for f in self.figures],
            "evidence": [e.to_dict() for e in self.evidence],
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
        }


# ---------------------------------------------------------------- figures


@dataclass(frozen=True)
class _Figure:
    """One figure found in a clause: normalised text, its kind of unit, whether it is a baseline,
    and the words right before it ("完工" in "新开工1099部、完工822部")."""

    text: str
    kind: str
    clause: int
    baseline: bool = False
    lead: str = ""


def _kind(figure: str, after: str) -> str:
    """What a figure counts: `%`, `人`, `平方公里`, `年`, `date`; a bare number takes the word after it.

    `2185.8万人` and `1.5万人` are both `人`; `46` in `第46届` is `届`; `822` in `822部` is `部`.
    """
    if "月" in figure and figure.endswith("日"):
        return "date"
    m = _NUMBER_PART.match(figure)
    unit = m.group(2) if m else figure
    base = _MAGNITUDE.sub("", unit)
    if base:
        return base
    nxt = after[:1]
    return nxt if _CJK_CHAR.match(nxt) else unit


def _value(figure: str) -> float | None:
    """The figure as a number with its magnitude applied (`2.7万` → 27000), else None."""
    m = _NUMBER_PART.match(figure)
    if not m:
        return None
    number = float(m.group(1))
    magnitude = _MAGNITUDE.match(m.group(2))
    return number * _MAGNITUDE_VALUE[magnitude.group(0)] if magnitude else number


def _same_value(claimed: str, stated: str) -> bool:
    if figure_in_text(claimed, stated):
        return True
    a, b = _value(claimed), _value(stated)
    return a is not None and b is not None and abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1.0)


def _clauses(text: str) -> list[str]:
    # Table rows keep their cells together: the label cell is the value cell's context.
    return [c for c in _CLAUSE_SPLIT.split(text.replace("\t", "|")) if c.strip()]


def _figures_in(text: str) -> list[_Figure]:
    """Every figure of `text` with its clause, kind and baseline flag, in reading order."""
    found: list[_Figure] = []
    for index, clause in enumerate(_clauses(text)):
        flat = normalize_figure(clause)
        baselines = [m.span("base") for m in _BASELINE.finditer(flat)]
        for figure in extract_figures(clause):
            pattern = rf"(?<![\d.]){re.escape(figure)}(?![\d])"
            for m in re.finditer(pattern, flat):
                before = flat[m.start() - 1] if m.start() else ""
                after = flat[m.end() :]
                # `PM2.5`, `C40`, `5G`, `5A级`: part of a name, not a quantity.
                if (before.isascii() and before.isalpha()) or (
                    after[:1].isascii() and after[:1].isalpha()
                ):
                    continue
                inside = any(s <= m.start() and m.end() <= e for s, e in baselines)
                lead = _words(flat[: m.start()]).replace(" ", "")[-_LEAD_CHARS:]
                found.append(_Figure(figure, _kind(figure, after), index, inside, lead))
    return found


def _as_written(claim: str, figure: str) -> str:
    """The claim's own spelling of a normalised figure (`45％` for `45%`), else the figure."""
    chars: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(claim):
        for c in unicodedata.normalize("NFKC", ch):
            if not c.isspace():
                chars.append(c)
                origin.append(i)
    m = re.search(rf"(?<![\d.]){re.escape(figure)}", "".join(chars))
    if not m:
        return figure
    return claim[origin[m.start()] : origin[m.end() - 1] + 1]


@dataclass(frozen=True)
class _ClaimFigures:
    values: tuple[_Figure, ...]  # the figures the claim asserts
    years: tuple[str, ...]  # years that set the time the claim speaks of (context)
    clauses: tuple[str, ...]
    places: tuple[tuple[str, ...], ...] = ()  # places it is about, each with its other names
    codes: tuple[str, ...] = ()  # names with digits it is about ("pm10"), lower case


def _claim_figures(claim: str) -> _ClaimFigures:
    """Split the claim's figures into asserted values and context years.

    "2024年北京森林覆盖率达到45%": 45% is asserted, 2024年 is context. A claim whose only figures
    are years ("规划远景展望到2050年") is about a date: then the years are the values.
    """
    figures = _figures_in(claim)
    unique: list[_Figure] = []
    for f in figures:
        if all(f.text != u.text for u in unique):
            unique.append(f)
    years = [f for f in unique if _YEAR.fullmatch(f.text)]
    values = [f for f in unique if not _YEAR.fullmatch(f.text)]
    if not values:
        values, years = years, []
    places = tuple(names for names in _PLACES if any(n in claim for n in names))
    codes = tuple(dict.fromkeys(_CODE_NAME.findall(normalize_figure(claim).lower())))
    return _ClaimFigures(
        tuple(values), tuple(y.text for y in years), tuple(_clauses(claim)), places, codes
    )


# ---------------------------------------------------------------- sentences


def _words(text: str) -> str:
    return _DIGITS.sub(" ", text)


@dataclass(frozen=True)
class _Sentence:
    hit: Hit
    start: int
    end: int
    score: float

    @property
    def text(self) -> str:
        return self.hit.chunk.text[self.start : self.end]


def _claim_terms(claim: str, retriever: HybridRetriever) -> dict[str, float]:
    """The claim's words (figures left out), each weighted by its rarity in the reports."""
    terms = [
        t
        for t in retriever.tokenizer.tokenize(claim)
        if not any(c.isdigit() for c in t) and t not in _HEDGES
    ]
    bm25 = retriever.index.bm25
    return {t: bm25.idf(t) for t in dict.fromkeys(terms)}


def wording_match(terms: dict[str, float], sentence: set[str], context: set[str]) -> float:
    """IDF-weighted share of the claim's terms in the sentence; terms only in the passage's
    title or headings count half."""
    total = sum(terms.values())
    if not total:
        return 0.0
    got = sum(
        w if t in sentence else _CONTEXT_WEIGHT * w if t in context else 0.0
        for t, w in terms.items()
    )
    return got / total


def _sentences(
    hits: Sequence[Hit], terms: dict[str, float], retriever: HybridRetriever
) -> list[_Sentence]:
    tokenize = retriever.tokenizer.tokenize
    seen: set[str] = set()
    out: list[_Sentence] = []
    for hit in hits:
        c = hit.chunk
        context = set(tokenize(f"{c.title} {' '.join(c.section)}"))
        for start, end in split_sentences(c.text):
            text = c.text[start:end]
            key = normalize_figure(text)
            if key in seen:
                continue  # the same sentence in two overlapping passages
            seen.add(key)
            score = wording_match(terms, set(tokenize(text)), context)
            out.append(_Sentence(hit, start, end, score))
    return out


def _surroundings(sentence: _Sentence) -> str:
    """The sentence with its paragraph so far, headings and title: what sets its time and place."""
    c = sentence.hit.chunk
    paragraph_start = c.text.rfind("\n", 0, sentence.start) + 1
    return f"{c.text[paragraph_start : sentence.end]} {' '.join(c.section)} {c.title}"


def _in_context(claim: _ClaimFigures, sentence: _Sentence, single_year: dict[str, int]) -> bool:
    """Does the sentence speak of the claim's years, places and coded names (PM10)? A year counts
    when the sentence, its paragraph or headings name it, or it comes from that year's annual
    report."""
    around = _surroundings(sentence)
    if not all(any(n in around for n in names) for names in claim.places):
        return False
    codes = set(_CODE_NAME.findall(normalize_figure(around).lower()))
    if not all(code in codes for code in claim.codes):
        return False
    report_year = single_year.get(sentence.hit.chunk.doc_id)
    return all(report_year == int(year[:4]) or figure_in_text(year, around) for year in claim.years)


# ---------------------------------------------------------------- comparison


def _compare(
    value: _Figure,
    claim: _ClaimFigures,
    text: str,
    figures: Sequence[_Figure],
    clauses: Sequence[str],
) -> FigureComparison | None:
    """The sentence's value for the claim's `value`: the same-kind figure whose clause reads most
    like the claim's clause; None when the sentence has no figure of that kind."""
    same_kind = [f for f in figures if f.kind == value.kind]
    if not same_kind:
        # A bare number without a same-kind rival names something ("12345热线" in "12345市民
        # 服务热线"): the sentence states it when it holds the number.
        bare = value.text.replace(".", "").isdigit()
        if bare and figure_in_text(value.text, text):
            return FigureComparison(value.text, value.text, True)
        return None
    claim_clause = _words(claim.clauses[value.clause]) if value.clause < len(claim.clauses) else ""

    def align(f: _Figure) -> float:
        score = bigram_overlap(claim_clause, [_words(clauses[f.clause])]) if claim_clause else 0.0
        if value.lead:
            score += _LEAD_WEIGHT * bigram_overlap(value.lead, [f.lead])
        return score * _BASELINE_FACTOR if f.baseline and not value.baseline else score

    aligned = {id(f): align(f) for f in same_kind}
    best = max(aligned.values())
    close = [f for f in same_kind if aligned[id(f)] >= best - _ALIGN_TOLERANCE]
    for f in close:
        if _same_value(value.text, f.text):
            return FigureComparison(value.text, f.text, True)
    claimed_value = _value(value.text)

    def distance(f: _Figure) -> float:
        v = _value(f.text)
        return abs(v - claimed_value) if v is not None and claimed_value is not None else 0.0

    stated = max(close, key=lambda f: (aligned[id(f)], -distance(f)))
    return FigureComparison(value.text, stated.text, False)


@dataclass(frozen=True)
class _Judgement:
    sentence: _Sentence
    verdict: str  # supported | contradicted | neutral
    figures: tuple[FigureComparison, ...]


def _judge(sentence: _Sentence, claim: _ClaimFigures, min_match: float) -> _Judgement:
    text = sentence.text
    if not claim.values:
        ok = sentence.score >= max(min_match, MIN_MATCH_NO_FIGURES)
        return _Judgement(sentence, "supported" if ok else "neutral", ())
    figures = _figures_in(text)
    clauses = _clauses(text)
    comparisons: list[FigureComparison] = []
    for value in claim.values:
        found = _compare(value, claim, text, figures, clauses)
        comparisons.append(found or FigureComparison(value.text, None, False))
    if all(c.matches for c in comparisons):
        verdict = "supported"
    elif any(c.stated is not None and not c.matches for c in comparisons):
        verdict = "contradicted"
    else:
        verdict = "neutral"
    return _Judgement(sentence, verdict, tuple(comparisons))


def _distance(figures: Sequence[FigureComparison]) -> float:
    """Mean relative gap (0..1) between the claimed and stated values that disagree."""
    gaps = []
    for f in figures:
        if f.stated is None or f.matches:
            continue
        a, b = _value(f.claimed), _value(f.stated)
        if a is None or b is None or max(abs(a), abs(b)) == 0:
            gaps.append(1.0)
        else:
            gaps.append(min(1.0, abs(a - b) / max(abs(a), abs(b))))
    return sum(gaps) / len(gaps) if gaps else 0.0


def _evidence(sentence: _Sentence) -> Evidence:
    return Evidence(
        hit=sentence.hit,
        quote=sentence.text,
        quote_start=sentence.start,
        quote_end=sentence.end,
        score=sentence.score,
    )


def check_claim(
    claim: str,
    retriever: HybridRetriever,
    *,
    top_k: int = 6,
    min_match: float = MIN_MATCH,
    qid: str | None = None,
) -> FactCheck:
    """Check `claim` against the indexed reports.

    - supported: a sentence covering at least `min_match` of the claim's wording (IDF-weighted)
      states every figure of the claim (`45％` = `45%`, `2185.8万` = `2185.8万人`); a claim
      without figures needs a sentence covering MIN_MATCH_NO_FIGURES of it.
    - contradicted: such a sentence gives a different value of the same kind (% for %, 万人 for
      万人) for a claimed figure, in the clause that reads most like the claim's.
    - not_found: no sentence matches well enough; evidence then holds the closest sentences.
    Supported wins over contradicted: a claim without a year that one report states and another
    updates ("森林覆盖率44.9%") is supported. Evidence holds the sentences of the verdict.
    A year in the claim ("2024年…") is context, not a compared value: a sentence counts only when
    it, its paragraph or headings name that year, or it is from that year's annual report.
    """
    if not isinstance(claim, str) or not claim.strip():
        raise BadQueryError(
            'The claim is empty. Example: planqa check "2024年北京森林覆盖率达到44.95%"'
        )
    if top_k <= 0:
        raise BadQueryError(f"top_k must be a positive number of passages, got {top_k}.")
    if not 0.0 <= min_match <= 1.0:
        raise ValueError(f"min_match must be within [0, 1], got {min_match}")
    claim = claim.strip()[:MAX_CLAIM_CHARS]
    started = time.perf_counter()
    hits = retriever.run(claim, top_k=top_k)
    retrieved_at = time.perf_counter()

    parts = _claim_figures(claim)
    terms = _claim_terms(claim, retriever)
    single_year = {
        e.doc_id: e.year for e in retriever.index.catalog if e.year and e.period == str(e.year)
    }
    sentences = sorted(_sentences(hits, terms, retriever), key=lambda s: -s.score)
    judged: list[_Judgement] = []
    for sentence in sentences:
        if sentence.score < min_match:
            break
        if not _in_context(parts, sentence, single_year):
            continue
        judged.append(_judge(sentence, parts, min_match))

    supporting = [j for j in judged if j.verdict == "supported"]
    # A wrong figure is usually near the right one (a slip, a rounding, last year's value): of two
    # sentences that disagree with the claim, the one with the closer value is about its subject.
    contradicting = sorted(
        (j for j in judged if j.verdict == "contradicted"),
        key=lambda j: -(j.sentence.score - _DISTANCE_WEIGHT * _distance(j.figures)),
    )
    if supporting:
        verdict, decisive = "supported", supporting
    elif contradicting:
        verdict, decisive = "contradicted", contradicting
    else:
        verdict, decisive = "not_found", []
    if decisive:
        figures = decisive[0].figures
        ordered = [j.sentence for j in decisive]
    else:
        figures = tuple(FigureComparison(v.text, None, False) for v in parts.values)
        # The closest sentences, for a reader to judge; a title that shares a word is not one.
        ordered = [s for s in sentences if s.score >= _CLOSEST_SHARE * min_match]
    figures = tuple(
        FigureComparison(_as_written(claim, f.claimed), f.stated, f.matches) for f in figures
    )
    finished = time.perf_counter()
    return FactCheck(
        claim=claim,
        verdict=verdict,
        evidence=tuple(_evidence(s) for s in ordered[:MAX_EVIDENCE]),
        figures=figures,
        timings_ms={
            "retrieve": (retrieved_at - started) * 1000,
            "check": (finished - retrieved_at) * 1000,
            "total": (finished - started) * 1000,
        },
        id=qid,
    )
