"""The model-free backend: answer by quoting the passage sentences that best cover the question."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field

from assistant.answer_fit import asks_quantity, asks_when, quantities_asked, states_when
from assistant.grounding import extract_figures, split_figure, split_sentences
from assistant.models import REFUSAL
from corpus.sentences import SENTENCE_END
from retriever.filters import compact_text, quoted_phrases
from retriever.tokenizer import ChineseTokenizer

# Words that make a question ask for a figure or a date: a sentence with figures then helps.
_QUANTITY_CUES = re.compile(
    r"多少|几|比例|比重|面积|人口|规模|增长|增加|减少|下降|提高|达到|占|率|总量|数量|多大|多长|多高|"
    r"里程|目标|指标|何时|什么时候|哪一年|哪年|时间"
)
_FIGURE_BONUS = 0.15
# A sentence continues the one before it ("…京雄走廊…高质量发展走廊。走廊北起北京怀柔科学城，南至…";
# a table row after its heading): the question terms of the previous sentence (in the same
# passage) that it does not repeat count at this weight. Dev split, extractive accuracy by weight:
# 0 81.0%, 0.3 82.1%, 0.5 83.9%, 0.7 82.7%, 1.0 77.4%; held-out test at 0.5: 79.0% -> 80.7%.
# Only for quoting: choosing the local model's context with it moved 10 of its 199 dev answers
# (5 better, 5 worse) and lowered citation precision 92.1% -> 91.1%, so the context is chosen without.
_CARRY = 0.5
# A question that asks what a quoted term means or names ("“两翼”指的是哪两个地方", "“三城一区”是指
# 哪几个") is answered by the sentence that spells the term out, not by the ones
# that only use it ("形成“一核、两区……一廊”的格局"). The reports spell a term out right after it
# ("“五辅”即雄县、容城……", "三城一区（中关村科学城、…）", "通武廊地区包括…") or list its parts right
# before it ("雄安新区和城市副中心“两翼”"): such a sentence comes first.
_ASKS_NAMES = re.compile(r"哪[几些两三四五六七八九十]|什么(?!时候|时间)|指的?是|是指|是哪|包括|意思|内容|分别是")
_DEFINES_AFTER = (
    r"[”」』\"']?(?:地区|区域|片区)?\s*"
    r"(?:[，,]\s*(?:即|也就是|就是)|即|指|是指|就是|主要包括|包括|分为|[（(：:])"
)
_LISTED_BEFORE = re.compile(r"[^，。；;,]{2,}[、和与及][^，。；;,、和与及]{2,}$")
_OPENING_QUOTES = "“「『\"'"
# Three or more items listed with enumeration commas: "北京顺义、天津武清、河北廊坊".
_LISTS = re.compile(r"[^、，。；]{2,15}、[^、，。；]{2,15}、[^、，。；]{2,15}")
# Retrieval rank breaks near-ties only; coverage of the question's terms must decide.
_RANK_BONUS = 0.05
_LONG_SENTENCE = 150  # characters; longer sentences bury the answer
_SHORT_SENTENCE = 8  # content characters; a heading or a label, not an answer
_NOT_CONTENT = re.compile(r"[^\w%.]|_")
# A further sentence joins the answer only when it scores close to the best one. On the dev split
# 0.6 -> 0.85 cost one correct answer (84.2% -> 82.9%) and lifted citation precision 63.7% -> 76.0%:
# weaker second quotes mostly cited passages without the fact.
_SECOND_SENTENCE_RATIO = 0.85
# A question that compares two years, reports or places ("2023年和2024年各是多少", "两年读本分别…")
# is answered by two sentences, usually in two passages; a sentence from another passage than the
# first quote joins it at this lower ratio. Dev split (`planqa eval --backend extractive`), accuracy
# by ratio: 0.85 75.6%, 0.7 76.2%, 0.6 76.8%, 0.5 76.8% (citation precision 68.2% -> 67.5% at 0.6);
# held-out test at 0.6: 75.0% -> 76.1%, citation precision 71.7% -> 70.7%.
# Besides a comparison, a question in parts: "…多大？其中起步区多大？".
_IN_PARTS = re.compile(r"其中|[？?].+[？?]")
# Two sides compared: two years, before and after, one thing against another.
_TWO_SIDED = r"两年|前后|变化|相比|[和与跟同].{1,20}比"
COMPARES = re.compile(rf"分别|各(?:是|为|有|说)|{_TWO_SIDED}")
_COMPARED_SENTENCE_RATIO = 0.6
_CLAUSE_BREAK = "，,；;、："
# Clause breaks between the statements of a sentence (not 、, which lists); a comma between
# thousands ("1,800亿元") is not one.
CLAUSES = re.compile(r"[，；。;]|,(?!\d{3}(?!\d))")
# A year a question names ("2023年", "2024"); the chain reads it too.
QUESTION_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")
# How close in meaning a sentence is to the question (multilingual-e5-small cosine, from the
# sentence vectors the index holds) adds `_DENSE_WEIGHT * (similarity - _DENSE_CENTER)` to its
# score: e5 rates every sentence of these reports 0.75-0.93 against a question, so the centre
# keeps the feature near zero for a middling sentence. It finds the answer sentence when the
# question words are spread over neighbours ("京雄走廊从哪里延伸到哪里" -> "走廊北起…，南至…").
# Dev split, extractive accuracy by weight (vectors made on the fly): 0 83.9%, 0.5 85.1%, 1 85.7%,
# 2 85.7%, 3 85.7%, 5 85.1%. At 2, with the index's float16 vectors: dev 86.3% (citation
# precision 69.7% -> 72.3%); held-out test 80.7% -> 82.4%, unanswerable refused 36.4% as before.
_DENSE_WEIGHT = 2.0
_DENSE_CENTER = 0.8
# A yearly report's title names the year all its sentences are about: "…公众读本（2023年度）".
# (A plan period's ends, "（2023—2035年）", are not the year of each sentence.)
_TITLE_YEAR = re.compile(r"((?:19|20)\d\d)年度")
# A passage's report title and section name what its sentences are about ("北京城市副中心…规划纲要"
# for "森林覆盖率达到34.62%"; "通勤圈" for its area): a question term only the heading holds counts
# at this weight in a sentence's coverage. Decision sets (dev, qa_fresh, qa_fresh2, qa_fresh3,
# `planqa eval --backend extractive`), accuracy by weight: 0 88.7/82.0/85.5/88.2%, 0.3
# 90.5/84.0/87.3/89.7%, 0.5 90.5/88.0/85.5/92.6%, 0.7 91.1/90.0/87.3/92.6%, 1.0
# 92.9/88.0/83.6/91.2%. Counted in the score only (not the coverage that refuses) was worse at
# 0.7 (90.5/88.0/85.5/91.2%, measured on an earlier machine).
_HEADING_WEIGHT = 0.7
# (question, sentences) -> similarity of each sentence to the question, None where unknown
Similarity = Callable[[str, Sequence[str]], Sequence[float | None]]


def truncate_sentence(sentence: str, max_chars: int, terms: Sequence[str] = ()) -> str:
    """A too-long sentence, cut after its last clause break that fits (verbatim, with `…`).

    With `terms` (the question's), the clauses kept are the run that fits and holds the most of
    them: a run-on sentence of achievements ("北京通州站建成投运，京唐城际全线贯通，……北运河通州段
    与河北段全线62公里实现旅游通航，……") states the asked fact in a late clause, which a cut after
    the head drops. `…` marks each side where text was left out; the head wins ties."""
    if len(sentence) <= max_chars:
        return sentence
    if terms:
        window = _best_clauses(sentence, max_chars - 2, terms)
        if window is not None:
            return window
    head = sentence[:max_chars]
    cut = max(head.rfind(c) for c in _CLAUSE_BREAK)
    return (head[:cut] if cut > 0 else head) + "…"


def _best_clauses(sentence: str, max_chars: int, terms: Sequence[str]) -> str | None:
    """The run of whole clauses of `sentence` within `max_chars` that holds the most `terms` (of
    two characters or more), starting at the sentence's head or at a clause holding one, with `…`
    where it leaves text out; None when the run from the head holds as many."""
    terms = [t for t in dict.fromkeys(terms) if len(t) >= 2]
    clauses = re.findall(f"[^{_CLAUSE_BREAK}]+[{_CLAUSE_BREAK}]?", sentence)
    best: tuple[int, int, int] | None = None  # (terms held, first clause, clause after the last)
    for i, clause in enumerate(clauses):
        if i and not any(t in clause for t in terms):
            continue
        j, size = i, 0
        while j < len(clauses) and size + len(clauses[j]) <= max_chars:
            size += len(clauses[j])
            j += 1
        held = sum(t in "".join(clauses[i:j]) for t in terms)
        if j > i and (best is None or held > best[0]):
            best = (held, i, j)
    if best is None or best[1] == 0:
        return None
    _, i, j = best
    text = "".join(clauses[i:j])
    if j < len(clauses):
        text = text.rstrip(_CLAUSE_BREAK) + "…"
    return "…" + text


@dataclass(frozen=True)
class ScoredSentence:
    """One passage sentence scored against a question (`n` is the 1-based passage number)."""

    score: float
    coverage: float  # rarity-weighted share of the question's terms the sentence holds
    n: int
    position: int  # index of the sentence within its passage
    start: int  # [start, end) within the passage
    end: int
    text: str
    spells_out: bool = False  # spells out the term the question asks about (`_spells_out`)
    held: frozenset[str] = frozenset()  # the question's terms the sentence holds


def score_sentences(
    question: str,
    passages: Sequence[str],
    tokenizer: ChineseTokenizer,
    carry: float = 0.0,
    similarity: Similarity | None = None,
    titles: Sequence[str] | None = None,
    headings: Sequence[str] | None = None,
) -> list[ScoredSentence]:
    """Every sentence of `passages` that holds a question term, best first.

    Score = IDF-weighted share of the question's content tokens a sentence holds (tokens
    common across the passages' sentences weigh less), plus a bonus when the question asks
    for a quantity or date and the sentence states a figure, plus `carry` times the weight of
    the question terms only the sentence before it holds (`_CARRY` when quoting), plus a small
    bonus for earlier passages, plus the sentence's closeness in meaning to the question when
    `similarity` is given (`_DENSE_WEIGHT`), minus a penalty for very long or very short
    sentences. A sentence that spells out the term a question asks the meaning of
    (`_spells_out`) comes before all others. `titles` (each passage's report title): every
    sentence of a yearly report holds the year its title names ("2023年和2024年各是多少" is
    answered by "全市…浓度为32微克" of the 2023 reader, which never repeats its year).
    `headings` (each passage's title and section): a question term only its heading holds
    counts at `_HEADING_WEIGHT` in each of its sentences' coverage.
    """
    terms = list(dict.fromkeys(tokenizer.tokenize(question)))
    candidates: list[tuple[int, int, int, int, str, frozenset[str]]] = []
    headed: dict[int, frozenset[str]] = {}
    for n, passage in enumerate(passages, start=1):
        dated = _title_years(titles[n - 1] if titles and n <= len(titles) else "")
        if headings and n <= len(headings):
            headed[n] = frozenset(tokenizer.tokenize(headings[n - 1]))
        for position, (start, end) in enumerate(split_sentences(passage)):
            text = passage[start:end]
            if _NOT_CONTENT.sub("", text):
                tokens = frozenset(tokenizer.tokenize(text)) | dated
                candidates.append((n, position, start, end, text, tokens))
    if not terms or not candidates:
        return []
    df = Counter(t for *_, tokens in candidates for t in set(terms) & tokens)
    n_sentences = len(candidates)
    idf = {
        t: math.log(1 + n_sentences / df[t]) if df[t] else math.log(1 + n_sentences) for t in terms
    }
    total = sum(idf.values())
    asked = frozenset(terms)
    wants_figure = bool(_QUANTITY_CUES.search(question))
    # A question asking when (and not also how many) is answered by a sentence stating a
    # time, not by any figure.
    wants_time = asks_when(question) and not asks_quantity(question)
    defined = _defined_terms(question) if _ASKS_NAMES.search(question) else []
    # A sentence holding no question term itself is not scored, whatever its heading holds.
    coverages = [
        (
            sum(idf[t] for t in terms if t in tokens)
            + _HEADING_WEIGHT
            * sum(idf[t] for t in terms if t not in tokens and t in headed.get(n, ()))
        )
        / total
        if asked & tokens
        else 0.0
        for n, *_, tokens in candidates
    ]
    # Only a sentence holding a question term is scored, so only it is compared in meaning.
    held = [c[4] for c, coverage in zip(candidates, coverages, strict=True) if coverage > 0]
    close = iter(similarity(question, held) if similarity is not None else [None] * len(held))
    scored: list[ScoredSentence] = []
    previous: dict[tuple[int, int], frozenset[str]] = (
        {(n, position + 1): tokens for n, position, _, _, _, tokens in candidates} if carry else {}
    )
    for (n, position, start, end, text, tokens), coverage in zip(
        candidates, coverages, strict=True
    ):
        if coverage <= 0:
            continue
        score = coverage + _RANK_BONUS * (1 - (n - 1) / len(passages))
        sim = next(close)
        if sim is not None:
            score += _DENSE_WEIGHT * (sim - _DENSE_CENTER)
        if carry:
            before = previous.get((n, position), frozenset())
            score += carry * sum(idf[t] for t in terms if t in before and t not in tokens) / total
        if wants_figure and extract_figures(text) and (not wants_time or states_when(text)):
            score += _FIGURE_BONUS
        spelled = bool(defined) and _spells_out(text, defined)
        if len(text) > _LONG_SENTENCE:
            score -= min(0.2, (len(text) - _LONG_SENTENCE) / 300)
        if len(_NOT_CONTENT.sub("", text)) < _SHORT_SENTENCE:
            score -= 0.1
        scored.append(
            ScoredSentence(
                score, coverage, n, position, start, end, text, spelled, tokens & asked
            )
        )
    # A sentence that spells the asked term out answers the question, however little else of
    # the question it repeats: it comes first.
    scored.sort(key=lambda s: (not s.spells_out, -s.score, s.n, s.position))
    return scored


def _title_years(title: str) -> frozenset[str]:
    """The year tokens a report title gives each of its sentences: "2023年" and "2023" for
    "…（2023年度）" (what the tokenizer makes of a question's "2023年"); none for a plan."""
    return frozenset(t for y in _TITLE_YEAR.findall(title) for t in (f"{y}年", y))


def _defined_terms(question: str) -> list[str]:
    """The term a question asks the meaning of: the last one it puts in quotation marks
    ("“一核、两区……一廊”中的“一廊”指什么" asks about 一廊; the first quote only says where)."""
    quoted = quoted_phrases(question)
    term = quoted[-1] if quoted else ""
    return [term] if len(term) >= 2 and not term.isdigit() else []


def _spells_out(sentence: str, terms: Sequence[str]) -> bool:
    """Does `sentence` spell one of `terms` out (`_DEFINES_AFTER`), or list its parts just before
    it in quotation marks (`_LISTED_BEFORE`)?"""
    text = compact_text(sentence)
    for term in terms:
        for m in re.finditer(re.escape(term), text):
            if re.match(_DEFINES_AFTER, text[m.end() :]):
                return True
            # "雄安新区和城市副中心“两翼”": the parts, then the term in quotation marks
            # (not "通州区与北三县", where the term is one more item of a list).
            before = text[max(0, m.start() - 41) : m.start()]
            if before[-1:] in _OPENING_QUOTES and _LISTED_BEFORE.search(before[:-1]):
                return True
    return False


def extractive_answer(
    question: str,
    passages: Sequence[str],
    tokenizer: ChineseTokenizer,
    max_sentences: int = 2,
    max_chars: int = 220,
    min_coverage: float = 0.0,
    similarity: Similarity | None = None,
    titles: Sequence[str] | None = None,
    headings: Sequence[str] | None = None,
) -> str:
    """Quote the passage sentences that best cover the question (`score_sentences`), each
    with its `[n]`: `据报告：“…”[n]` (sentences verbatim), or REFUSAL when no sentence holds
    any question term, or none covers `min_coverage` of it. `titles`: each passage's report
    title, for the year a yearly report's sentences are about; `headings`: each passage's title
    and section, whose terms its sentences hold at a lower weight (`score_sentences`).
    """
    if max_sentences < 1:
        raise ValueError(f"max_sentences must be >= 1, got {max_sentences}")
    if max_chars < 1:
        raise ValueError(f"max_chars must be >= 1, got {max_chars}")
    if not 0 <= min_coverage <= 1:
        raise ValueError(f"min_coverage must be in [0, 1], got {min_coverage}")
    scored = score_sentences(
        question,
        passages,
        tokenizer,
        carry=_CARRY,
        similarity=similarity,
        titles=titles,
        headings=headings,
    )
    # No sentence covers enough of the question (weighted by rarity): the passages talk about
    # something near the question, not the question itself.
    # A sentence spelling out the term asked about answers it even if the question's other
    # words ("都市圈规划说的…是哪两个机场") are not there.
    if not scored or (
        max(s.coverage for s in scored) < min_coverage and not scored[0].spells_out
    ):
        return REFUSAL

    best_score = scored[0].score
    terms = tokenizer.tokenize(question)
    # A question naming two years ("2023年是多少、2024年降到了多少") compares them: each further
    # quote must add a year the quotes so far do not hold (a yearly report's sentences hold its
    # title's year, `score_sentences`).
    years = {f"{y}年" for y in QUESTION_YEAR.findall(question)}
    years = years if len(years) >= 2 else set()
    compares = bool(COMPARES.search(question)) or bool(years)
    missing_years = set(years)  # the compared years no quote holds yet
    answered = False  # the first quote answers a how-many question (`_answered`)
    quotes: list[str] = []
    chosen: list[ScoredSentence] = []
    used = 0
    for sentence in scored:
        if len(quotes) >= max_sentences:
            break
        text = sentence.text
        ratio = _SECOND_SENTENCE_RATIO
        if compares and sentence.n != scored[0].n:
            ratio = _COMPARED_SENTENCE_RATIO
        if quotes and (sentence.score < ratio * best_score or used + len(text) > max_chars):
            continue
        if quotes and missing_years and not sentence.held & missing_years:
            continue
        if is_caption(text):
            continue
        # A how-many question whose best sentence states a quantity is answered by it: a
        # sentence from another passage only adds a citation without the fact (`_answered`).
        if answered and sentence.n != chosen[0].n:
            continue
        text = truncate_sentence(text, max_chars, terms) if not quotes else text
        if any(text in q for q in quotes):
            continue  # the same sentence in two overlapping passages
        quotes.append(f"“{text}”[{sentence.n}]")
        chosen.append(sentence)
        if len(chosen) == 1:
            answered = (
                not compares
                and (_answered(question, chosen) or _names_answered(question, sentence))
            ) or (not years and _lists_each(question, sentence))
            answered = answered or _states_each(question, sentence, years)
        missing_years -= sentence.held
        used += len(text)
    # A question in parts whose best sentence answers one of them: the sentence for another part
    # joins it however it scores overall. Dev split: 87.5% -> 88.1% (六环路南段和北段), no other
    # answer moved; second set unchanged.
    if (
        len(chosen) == 1
        and max_sentences > 1
        and not answered
        and (compares or _IN_PARTS.search(question))
    ):
        extra = _other_part(question, terms, chosen[0], scored, max_chars - used)
        if extra is not None:
            quotes.append(f"“{extra.text}”[{extra.n}]")
    return "据报告：" + "；".join(quotes)


# A figure's or table's caption ("图04首都都市圈产业发展空间格局规划示意图", "表6-2对外交通重点项目表")
# or an entry of a list of documents ("4.《北京城市总体规划（2016年—2035年）》"): a line that names
# what is shown elsewhere, never a statement that answers.
_CAPTION = re.compile(r"(?:示意图|规划图|布局图|分布图|结构图|项目表|一览表|统计表)$")
_REFERENCE = re.compile(r"^(?:[-•]\s*)?\d{1,2}[.、．]\s*《[^》]+》$")
_ENDS_SENTENCE = re.compile(f"[{SENTENCE_END}]")


def is_caption(text: str) -> bool:
    """Is `text` a caption or a document list's entry (`_CAPTION`, `_REFERENCE`), not a sentence?
    Never quoted. Decision sets: dev 91.1 -> 91.7% (a list question whose first quote was the
    table's caption), citation precision dev 85.0 -> 85.4%, qa_fresh3 93.7 -> 94.9%."""
    line = text.strip()
    return not _ENDS_SENTENCE.search(line) and bool(
        _CAPTION.search(line) or _REFERENCE.match(line)
    )


# Units that date a sentence rather than measure what a how-many question asks.
_DATE_UNITS = ("", "年", "年度", "月", "日", "号")


def _answered(question: str, chosen: Sequence[ScoredSentence]) -> bool:
    """Does the first quote answer a how-many question that is asked in one part (not a
    comparison, not "…？其中…？"), by stating a quantity with its unit (not a date, not the
    question's own figure)? Then only sentences of its own passage may join it.

    Decision sets (`planqa eval --backend extractive`), before -> after: accuracy unchanged
    (dev 91.1%, qa_fresh 90.0%, qa_fresh2 87.3%, qa_fresh3 92.6%); unanswerable refused: dev
    64.5% both, qa_fresh 60.0 -> 90.0%, qa_fresh2 76.0 -> 80.0%, qa_fresh3 83.3% both; citation
    precision: dev 78.1 -> 81.2%, qa_fresh 77.9 -> 88.3%, qa_fresh2 70.1 -> 76.1%, qa_fresh3
    85.4 -> 88.2%. The four refusals gained were near-misses answered with two
    sentences ("2024年…人均GDP" with 2023's figure plus a 2024 sentence on something else),
    which the chain's checks then read as one answer about the asked year.
    Also tried: any second quote from another passage dropped, how-many or not (accuracy
    89.3 / 84.0 / 85.5 / 92.6%: the first sentence of a list question is often only its topic).
    """
    if not chosen or not asks_quantity(question) or _IN_PARTS.search(question):
        return False
    own = set(extract_figures(question))
    return any(
        f not in own and split_figure(f)[1] not in _DATE_UNITS
        for f in extract_figures(chosen[0].text)
    )


def _states_each(question: str, first: ScoredSentence, years: set[str]) -> bool:
    """Does one clause of the first quote state every figure a question asking for two or more
    (`quantities_asked`: "三地PM2.5浓度…分别下降了多少", "从多少提高到多少") asks, in one unit,
    beside a question term: "…分别下降64.2%、57.3%和64.3%", "解决率均值从去年的94.3%提升到96.7%"?
    Then, as for `_answered`, only sentences of its own passage may join it. Figures in
    separate clauses ("建成…生活圈62个、实现覆盖率100%" for the city's and the district's counts,
    "PM2.5…30微克/立方米、较2020年改善19%" for two forest covers) answer other questions. When
    the question compares `years`, the quote must hold each: "由2013年的1284公里增长到2669公里"
    of one reader does not give "2023年度和2024年度…分别说是多少"."""
    asked = quantities_asked(question)
    if asked < 2 or not years <= first.held:
        return False
    own = set(extract_figures(question))
    terms = [t for t in first.held if len(t) >= 2]
    for clause in CLAUSES.split(first.text):
        if not any(t in clause for t in terms):
            continue
        units = Counter(
            split_figure(f)[1]
            for f in extract_figures(clause)
            if f not in own and split_figure(f)[1] not in _DATE_UNITS
        )
        if units and max(units.values()) >= asked:
            return True
    return False


def _names_answered(question: str, first: ScoredSentence) -> bool:
    """Does the first quote answer a question asking for names, asked in one part: by spelling
    out the term it asks about ("推动“四网融合”（干线铁路、城际铁路…）"), or, for a question asking
    which ones, by listing three or more ("在北京顺义、天津武清、河北廊坊建设…")? Then, as for
    `_answered`, only sentences of its own passage may join it: another passage's sentence
    naming the same term ("深化“四网融合”，优化运营服务") adds a citation without the answer.
    Decision sets (`planqa eval --backend extractive`), citation precision, spelling out: dev
    83.5 -> 85.0%, qa_fresh 88.3 -> 89.8%, qa_fresh3 90.4 -> 93.7%, qa_fresh4 86.4 -> 87.3%;
    listing, after that and `is_caption`: dev 85.4 -> 87.5%, qa_fresh2 78.3 -> 80.6%,
    qa_fresh3 94.9 -> 96.1%, qa_fresh4 87.3 -> 88.5%; accuracy unchanged on each. Not for a
    question in parts, whose other part may be in another passage ("…是哪天签的？现在能在多少家
    …用？"): that cost qa_fresh q950."""
    if _IN_PARTS.search(question):
        return False
    return first.spells_out or bool(_ASKS_NAMES.search(question) and _LISTS.search(first.text))


# "分别建在哪里", "分别在哪儿": where each of several things is.
_ASKS_WHERE_EACH = re.compile(r"分别.{0,6}哪(?:里|儿)")
# Two sides compared (`_TWO_SIDED`), or two reports ("两本读本").
_TWO_SIDES = re.compile(rf"两本|{_TWO_SIDED}")


def _lists_each(question: str, first: ScoredSentence) -> bool:
    """Does the first quote list three or more items for a question asking which or where each
    of several is ("3个…园区分别建在哪里？" -> "在北京顺义、天津武清、河北廊坊建设3个…园区")? A
    "分别" question compares, so `_names_answered` does not apply, but a list answers it whole."""
    asks = _ASKS_NAMES.search(question) or _ASKS_WHERE_EACH.search(question)
    if not asks or asks_quantity(question) or _TWO_SIDES.search(question):
        return False  # "两年读本分别是多少": two figures, not a list
    return not _IN_PARTS.search(question) and bool(_LISTS.search(first.text))


def _other_part(
    question: str,
    terms: Sequence[str],
    first: ScoredSentence,
    scored: Sequence[ScoredSentence],
    room: int,
) -> ScoredSentence | None:
    """For a question in parts whose best sentence answers one part ("南段和北段分别多长" ->
    "…南段…长约17.7公里"): the sentence holding most of the question terms the first one lacks
    (北段), with a figure when a figure is asked, within `room` characters; None when the first
    sentence already states two figures or holds every term, or no sentence adds a term."""
    wants_figure = bool(_QUANTITY_CUES.search(question))
    if wants_figure and len(extract_figures(first.text)) >= 2:
        return None
    missing = set(terms) - first.held
    best: tuple[int, ScoredSentence] | None = None
    for sentence in scored[1:] if missing else ():
        text = sentence.text
        if text in first.text or first.text in text or len(text) > room:
            continue
        if wants_figure and not extract_figures(text):
            continue
        held = len(missing & sentence.held)
        if held and (best is None or held > best[0]):
            best = (held, sentence)
    return best[1] if best else None


class ExtractiveChatModel(BaseChatModel):
    """LangChain chat model over `extractive_answer`, so the chain treats it like any LLM.

    It reads no prompt text: the chain puts the inputs in the last message's
    `additional_kwargs["planqa"] = {"question": str, "passages": list[str]}`, where
    `passages[0]` is cited as [1], and optionally `"titles": list[str]`, each passage's report
    title, and `"headings": list[str]`, each passage's title and section.
    """

    tokenizer: ChineseTokenizer | None = None
    max_sentences: int = Field(default=2, ge=1)
    max_chars: int = Field(default=220, ge=1)
    min_coverage: float = Field(default=0.0, ge=0.0, le=1.0)
    # the question's closeness in meaning to each sentence (`HybridRetriever.sentence_similarities`)
    similarity: Similarity | None = None

    model_config = ConfigDict(arbitrary_types_allowed=True)

    @property
    def _llm_type(self) -> str:
        return "planqa-extractive"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"max_sentences": self.max_sentences, "max_chars": self.max_chars}

    def _answer(self, messages: list[BaseMessage]) -> str:
        inputs = messages[-1].additional_kwargs.get("planqa") if messages else None
        if not isinstance(inputs, dict) or "question" not in inputs or "passages" not in inputs:
            raise ValueError(
                "ExtractiveChatModel needs its inputs in the last message's "
                'additional_kwargs["planqa"] = {"question": str, "passages": list[str]}; '
                "pass the question and the retrieved passages there."
            )
        question, passages = inputs["question"], inputs["passages"]
        titles = inputs.get("titles")
        headings = inputs.get("headings")
        for key, value in (("titles", titles), ("headings", headings)):
            if value is not None and not all(isinstance(t, str) for t in value):
                raise ValueError(f'additional_kwargs["planqa"]["{key}"] must be a list of str')
        if not isinstance(question, str) or not all(isinstance(p, str) for p in passages):
            raise ValueError(
                'additional_kwargs["planqa"] must hold a str "question" and a list of str '
                f'"passages", got {type(question).__name__} and {type(passages).__name__}'
            )
        if self.tokenizer is None:
            # Made on first use: building jieba's dictionary takes a second.
            self.tokenizer = ChineseTokenizer()
        return extractive_answer(
            question,
            list(passages),
            self.tokenizer,
            self.max_sentences,
            self.max_chars,
            self.min_coverage,
            self.similarity,
            titles,
            headings,
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        message = AIMessage(content=self._answer(messages))
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        # The answer exists whole at once; one chunk per quote keeps streaming UIs responsive.
        text = self._answer(messages)
        pieces = re.findall(r"[^；]+；?", text) or [text]
        for piece in pieces:
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk
