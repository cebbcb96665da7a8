"""The answer chain: rewrite a follow-up, retrieve, decide relevance, pack context, generate,
verify every citation and figure, and return an `Answer` (or the fixed refusal)."""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables import Runnable, RunnableLambda

from assistant.answer_fit import (
    answers_only_with,
    asked_figures,
    asks_quantity,
    asks_when,
    chinese_quantities,
    misfit,
    quantities_asked,
)
from assistant.backend_extractive import (
    CLAUSES,
    COMPARES,
    QUESTION_YEAR,
    ExtractiveChatModel,
    ScoredSentence,
    extractive_answer,
    is_caption,
    score_sentences,
    truncate_sentence,
)
from assistant.facilities import unnamed_facilities
from assistant.figure_choice import better_clauses, figure_sentences, question_terms
from assistant.grounding import (
    Verification,
    derived_in,
    extract_figures,
    figure_in_text,
    find_quote,
    invented_figures,
    is_refusal,
    parse_citations,
    split_sentences,
    strip_markers,
    verify_answer,
)
from assistant.models import REFUSAL, Answer, Citation, Turn
from assistant.modes import other_mode
from assistant.names_quote import left_out
from assistant.parts import Part, question_parts
from assistant.periods import DOCUMENT_NAME, SectionPeriods, other_period
from assistant.settings import ChainSettings
from corpus.cleaning import CJK, normalize_for_match
from corpus.errors import BadQueryError
from corpus.models import Chunk
from prompts import load_prompt
from retriever.hybrid import HybridRetriever
from retriever.models import Hit
from retriever.tokenizer import DATA_DIR, ChineseTokenizer, read_name_list

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000
TokenCallback = Callable[[str], None]


def _with_heading(chunk: Chunk, text: str) -> str:
    """`text` of `chunk` with its report title and section in front: what a check that a
    question's year, place or name is mentioned reads."""
    return f"{chunk.title} {' '.join(chunk.section)} {text}"


def _headings(packed: Sequence[Hit]) -> list[str]:
    """Each packed passage's report title and section, for `verify_answer(headings=…)`."""
    return [_with_heading(h.chunk, "").strip() for h in packed]


def query_coverage(
    question: str, hits: Sequence[Hit], retriever: HybridRetriever, top: int = 3
) -> float:
    """IDF-weighted share of the question's words found in the top passages (title and section
    included). Words no report uses ("上海", "GDP") weigh most, so their absence pulls it down."""
    tokens = list(dict.fromkeys(retriever.tokenizer.tokenize(question)))
    if not tokens:
        return 0.0
    bm25 = retriever.index.bm25
    text = " ".join(_with_heading(h.chunk, h.chunk.text) for h in hits[:top])
    present = set(retriever.tokenizer.tokenize(text))
    seen = normalize_for_match(text)
    for word, report_words in everyday_words().items():
        if word in question and any(normalize_for_match(w) in seen for w in report_words):
            present.update(retriever.tokenizer.tokenize(word))
    return covered_share(tokens, present, bm25)


def covered_share(tokens: Sequence[str], present: set[str], bm25) -> float:
    """The IDF-weighted share of `tokens` (a question's words) that are in `present`."""
    weights = {t: bm25.idf(t) for t in tokens}
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in present) / total if total else 0.0


def figure_clause_coverage(
    question: str,
    sentences: str | Sequence[str],
    figures: Sequence[str],
    retriever: HybridRetriever,
    with_head: bool = False,
) -> float:
    """How much of `question` (its rarity-weighted words, as `query_coverage`) the clauses of
    `sentences` that state `figures` hold: "全市森林覆盖率达到44.9%" holds none of "绿色出行比例是多少".
    `with_head`: each sentence's first clause counts too, which names what a table row or a
    list of figures is about ("通州第四水厂\t位于…，占地10公顷，规模12万立方米/日")."""
    held = []
    for sentence in [sentences] if isinstance(sentences, str) else sentences:
        clauses = [c for c in CLAUSES.split(sentence) if c.strip()]
        stating = [c for c in clauses if any(figure_in_text(f, c) for f in figures)]
        if stating and with_head and clauses[0] not in stating:
            held.append(clauses[0])
        held += stating
    tokens = list(dict.fromkeys(retriever.tokenizer.tokenize(question)))
    present = set(retriever.tokenizer.tokenize("，".join(held)))
    return covered_share(tokens, present, retriever.index.bm25)


@functools.cache
def everyday_words() -> dict[str, tuple[str, ...]]:
    """Everyday words -> the reports' words for the same thing (`retriever/data/everyday.txt`)."""
    return read_name_list(DATA_DIR / "everyday.txt")


def is_relevant(coverage: float, best_dense: float | None, settings: ChainSettings) -> bool:
    if coverage < settings.min_coverage:
        return False
    return best_dense is None or best_dense >= settings.min_dense


def pack_context(hits: Sequence[Hit], budget_chars: int) -> list[Hit]:
    """Whole passages in rank order while they fit the budget (the first always fits)."""
    packed: list[Hit] = []
    used = 0
    for hit in hits:
        size = len(hit.chunk.text)
        if packed and used + size > budget_chars:
            continue
        packed.append(hit)
        used += size
    return packed


def format_context(hits: Sequence[Hit], labels: Mapping[str, str] | None = None) -> str:
    blocks = []
    for n, hit in enumerate(hits, start=1):
        c = hit.chunk
        section = f" {c.section_label}" if c.section else ""
        blocks.append(f"[{n}] {_label(c, labels)}{section}\n{c.text}")
    return "\n\n".join(blocks)


def _label(chunk: Chunk, labels: Mapping[str, str] | None) -> str:
    """The report's name in the prompt: its catalog short title where `labels` has one."""
    return (labels or {}).get(chunk.doc_id) or chunk.label


# A sentence longer than this is cut at a clause break in the focused context.
_FOCUS_SENTENCE_CHARS = 200


def focus_context(
    question: str,
    hits: Sequence[Hit],
    tokenizer: ChineseTokenizer,
    budget_chars: int,
    scored: Sequence[ScoredSentence] | None = None,
    labels: Mapping[str, str] | None = None,
    min_ratio: float = 0.0,
) -> tuple[list[Hit], str]:
    """The sentences of `hits` that best cover the question, within `budget_chars`.

    A small model reads ~130 prompt tokens a second on two cores, and reads better without
    the rest of each passage: on the dev split the best 600 characters of sentences from the
    top passages hold the answer as often as 2,000 characters of whole passages (and more
    often than 1,200). Returns the passages that contribute a sentence, in rank order (the
    prompt numbers them [1], [2], …, and citations point to the whole passage), and the
    context block: `[n] 《title》` then that passage's chosen sentences in text order, with
    `……` where text was left out. `scored`: `score_sentences` of these hits, if already made.
    `labels`: doc_id -> the report's name in the prompt (default: its full title).
    `min_ratio`: sentences scoring below this share of the best score are left out even when
    the budget has room (they only share a word or two with the question).
    """
    if scored is None:
        scored = score_sentences(question, [h.chunk.text for h in hits], tokenizer)
    floor = min_ratio * max((s.score for s in scored), default=0.0)
    terms = tokenizer.tokenize(question)
    chosen: dict[int, list[tuple[int, str]]] = {}
    seen: set[str] = set()
    used = 0
    for sentence in scored:
        text = truncate_sentence(sentence.text, _FOCUS_SENTENCE_CHARS, terms)
        if text in seen:
            continue  # the same sentence in two overlapping passages
        if chosen and (used + len(text) > budget_chars or sentence.score < floor):
            continue
        seen.add(text)
        chosen.setdefault(sentence.n, []).append((sentence.position, text, sentence.score))
        used += len(text)
    if not chosen:  # no sentence shares a word with the question: the best passage, whole
        return pack_context(hits[:1], budget_chars), format_context(hits[:1], labels)
    packed: list[Hit] = []
    blocks: list[str] = []
    for n in sorted(chosen):
        hit = hits[n - 1]
        packed.append(hit)
        blocks.append(f"[{len(packed)}] {_label(hit.chunk, labels)}\n" + _runs(chosen[n]))
    return packed, "\n\n".join(blocks)


def _runs(sentences: Sequence[tuple[int, str, float]]) -> str:
    """A passage's chosen sentences (position, text, score): each run of adjacent ones in text
    order, the runs best-scoring first, `……` between them. The small model answers with the
    first figure that seems to fit: "2023年北京共新增落地首店946家" read before "全年疏解提质一般
    制造业企业112家" answered "2023年…一般制造业企业分别是多少家" with 946家."""
    runs: list[list[tuple[int, str, float]]] = []
    for sentence in sorted(sentences):
        if runs and sentence[0] == runs[-1][-1][0] + 1:
            runs[-1].append(sentence)
        else:
            runs.append([sentence])
    runs.sort(key=lambda run: -max(score for _, _, score in run))
    return "……".join("".join(text for _, text, _ in run) for run in runs)


_COMPARISON = re.compile(r"分别|各(?:是|为|有|说)|比|变化|两年|增加|减少|和|与")
_ADMIN_SUFFIXES = ("省", "市", "区", "县", "镇", "乡")


# A yearly report named by its year ("2024年度北京体检报告提到…"), and another document the question
# then asks about ("…。按北京城市副中心“十五五”规划纲要，这条线全长多少公里"): the year says where the
# question read of the thing, not when the asked fact is from.
_REPORT_YEAR = re.compile(r"((?:19|20)\d\d)年度[^，。？?]{0,10}?(?:报告|读本)")
_OTHER_DOCUMENT = re.compile(r"《[^》]*规划[^》]*》|规划纲要|空间协同规划")


def _single_year(question: str) -> list[str]:
    """The question's year if it names one; a comparison ("2023年和2024年各是多少") finds its
    years in different sentences, so it has none to check, and a yearly report's year
    (`_REPORT_YEAR`) is none when the question asks about another document."""
    unsourced = _REPORT_YEAR.sub(" ", question)
    if _OTHER_DOCUMENT.search(unsourced):
        question = unsourced
    years = list(dict.fromkeys(QUESTION_YEAR.findall(question)))
    return years if len(years) == 1 and not _COMPARISON.search(question) else []


def unmatched_specifics(
    question: str,
    hits: Sequence[Hit],
    tokenizer: ChineseTokenizer,
    windows: int = 2,
    scored: Sequence[ScoredSentence] | None = None,
) -> list[str]:
    """The years and place names of the question that the best evidence does not mention.

    The evidence is the best `windows` sentences of the passages (`score_sentences`), each
    with its neighbours, its report title and section. "天津市2024年末的常住人口" finds
    Beijing's population sentence; "2022年…优良天数" finds 2023's. Such near-miss questions
    pass the relevance gate (the topic is there) and a small model answers them with the
    neighbouring figure. Only a question's single year (not a comparison's years) and
    administrative place names (…市/区/县) are checked. `scored`: as for `focus_context`.
    """
    specifics = _single_year(question)
    # Administrative names only: jieba also tags "新建" and "中关村" as places.
    specifics += [p for p in tokenizer.place_names(question) if p.endswith(_ADMIN_SUFFIXES)]
    if not specifics:
        return []
    if scored is None:
        scored = score_sentences(question, [h.chunk.text for h in hits], tokenizer)
    # Distinct sentences: overlapping chunks repeat one, which must not fill both windows.
    best: dict[str, ScoredSentence] = {}
    for sentence in scored:
        if len(best) == windows:
            break
        best.setdefault(normalize_for_match(sentence.text), sentence)
    evidence: list[str] = []
    for sentence in best.values():
        chunk = hits[sentence.n - 1].chunk
        spans = split_sentences(chunk.text)
        first = spans[max(0, sentence.position - 1)][0]
        last = spans[min(len(spans) - 1, sentence.position + 1)][1]
        evidence.append(_with_heading(chunk, chunk.text[first:last]))
    text = normalize_for_match(" ".join(evidence))
    return [
        s
        for s in specifics
        if not any(
            normalize_for_match(n) in text
            for n in (s, s.rstrip("市区县省"), *tokenizer.listed_places.get(s, ()))
        )
    ]


# Place names a question may use without the cited sentence repeating them: the whole city or
# country is what every report is about, and jieba also tags words built on them ("北京地铁",
# where the reports say 轨道交通). 通州 is named 城市副中心 in most of its report.
_GENERAL_PLACES = ("北京", "首都", "中国", "全国", "我国")
_PLACE_ALIASES = {"通州": ("副中心",)}
# A region named for its members: a sentence on "京津冀三地…分别下降64.2%、57.3%和64.3%" is about each
# of them, for a question that names two or more of them ("北京、天津、河北三地…各降了多少").
_REGIONS = {"京津冀": ("北京", "天津", "河北")}


def _regions_asked(question: str) -> tuple[str, ...]:
    """The regions (`_REGIONS`) two or more of whose members the question names."""
    return tuple(
        region
        for region, members in _REGIONS.items()
        if sum(member in question for member in members) >= 2
    )


def question_specifics(question: str, tokenizer: ChineseTokenizer) -> list[str]:
    """A question's single year (not a comparison's years), its place names, except the city's
    and the country's own, and its names in letters and digits (`_CODE`, outside a comparison):
    what an answer's cited sentences must also be about. The reports'
    own place names (`tokenizer.listed_places`: 雄安新区, 通武廊) only outside a comparison:
    "雄安新区和城市副中心的规划范围分别有多大" is answered from two passages."""
    compares = bool(_COMPARISON.search(question))
    return (
        _single_year(question)
        + [
            p
            for p in tokenizer.place_names(question)
            if (not compares if p in tokenizer.listed_places else not p.startswith(_GENERAL_PLACES))
        ]
        + [a for a in _AREAS if a in question and not compares]
        + ([] if compares else list(dict.fromkeys(_CODE.findall(question))))
    )


# A name in letters and digits: a pollutant (PM10, PM2.5), a line (M102), a road (G103), a
# network (C40). One close to it is another thing: "2024年PM10年均浓度" answered with PM2.5's.
_CODE = re.compile(r"(?<![A-Za-z0-9.])[A-Za-z]{1,4}\d+(?:\.\d+)?(?![\d.])")


# Areas whose parts a passage describes without naming the area again ("“多组团”依托水网、绿网、
# 路网，形成12个民生共享组团" in the passage on 城市副中心's structure), with their other names: a
# question naming one needs it in a cited passage (its text, report title or section), not in
# the sentences around the quote. "副中心的森林覆盖率" answered with 全市's 44.95%, "首都都市圈现在的
# 常住人口" with Beijing's: passages on the city alone. The capital region's rings (通勤圈, 功能圈,
# 产业协同圈) likewise: "功能圈到2035年常住人口规模控制在多少" answered with 副中心's 130万人.
_AREAS = {
    "副中心": ("城市副中心", "通州"),
    "首都都市圈": (),
    "通勤圈": (),
    "功能圈": (),
    "产业协同圈": ("产业圈",),
}


def uncited_specifics(
    question: str, citations: Sequence[Citation], tokenizer: ChineseTokenizer
) -> list[str]:
    """The specifics of the question (`question_specifics`) that none of the answer's cited
    sentences mentions, counting the sentence before and after each quote, its report title and
    section. "通州2024年优良天数" answered with the city's 290天, "2023年新增运营里程" with the 2024
    reader's 43公里: the figure is real and cited, but about another place or year. An area
    (`_AREAS`) may be named anywhere in a cited passage. Unlike `unmatched_specifics` (before the
    model, on the best evidence), this reads what was cited."""
    specifics = question_specifics(question, tokenizer)
    if not specifics or not citations:
        return []
    windows = " ".join(_with_heading(c.hit.chunk, quote_window(c)) for c in citations)
    passages = " ".join(_with_heading(c.hit.chunk, c.hit.chunk.text) for c in citations)
    return [
        s
        for s in specifics
        if _unmentioned([s], passages if s in _AREAS else windows, question, tokenizer)
    ]


def quote_window(citation: Citation) -> str:
    """The sentences of a citation's passage its quote spans, with the sentence before and
    after (the whole passage when the quote is not found)."""
    text = citation.hit.chunk.text
    spans = split_sentences(text) or [(0, len(text))]
    inside = [
        i for i, (a, b) in enumerate(spans) if a < citation.quote_end and b > citation.quote_start
    ]
    first, last = (min(inside), max(inside)) if inside else (0, len(spans) - 1)
    return text[spans[max(0, first - 1)][0] : spans[min(len(spans) - 1, last + 1)][1]]


def _unmentioned(
    specifics: Sequence[str], text: str, question: str, tokenizer: ChineseTokenizer
) -> list[str]:
    """The `specifics` (`question_specifics`) that `text` never mentions, by name or alias."""
    seen = normalize_for_match(text)
    # A year in a document's name (《…发展规划（2024—2035年）》) says when the plan runs, not when
    # what the sentence reports happened.
    seen_years = normalize_for_match(DOCUMENT_NAME.sub(" ", text))
    regions = _regions_asked(question)
    missing = []
    for s in specifics:
        if s.isdigit():
            if s not in seen_years:
                missing.append(s)
            continue
        bare = s.rstrip("".join(_ADMIN_SUFFIXES))
        names = (s, bare, *_PLACE_ALIASES.get(bare, ()), *tokenizer.listed_places.get(s, ()))
        names += _AREAS.get(s, ())
        names += tuple(r for r in regions if bare.startswith(_REGIONS[r]))
        if not any(n and normalize_for_match(n) in seen for n in names):
            missing.append(s)
    return missing


def passages_naming(
    question: str, specifics: Sequence[str], hits: Sequence[Hit], tokenizer: ChineseTokenizer
) -> list[Hit]:
    """The `hits` whose text, report title or section mention every one of `specifics`."""
    return [
        h
        for h in hits
        if not _unmentioned(specifics, _with_heading(h.chunk, h.chunk.text), question, tokenizer)
    ]


def citations_stating(answer: str, question: str, citations: Sequence[Citation]) -> list[Citation]:
    """The citations whose passage states one of the answer's figures (`_stated_figures`); all of
    them when none does. A year or place the question asks about must be near the figure, not in
    any passage cited: "2024年北京新增造林绿化1.5万亩[2][6]" cites 2023's 1.5万亩 and, as [6], a
    sentence on 2024's air; "2023年实体书店超2000家[1][3]" cites the 2024 reader's 2000家 and, as
    [3], a 2023 sentence on first stores."""
    figures = _stated_figures(strip_markers(answer), question)
    stating = [c for c in citations if any(figure_in_text(f, c.hit.chunk.text) for f in figures)]
    return stating or list(citations)


# A bare answer ("于家务乡", "起步区") is at most this long; a longer one is a sentence.
_BARE_NAME_CHARS = 12


def whole_name(answer: str, passages: Sequence[str], tokenizer: ChineseTokenizer) -> str:
    """A bare answer that starts inside a word wherever its cited passages hold it, with the
    word's start put back: the model copies 「家务乡」 out of 「位于于家务乡」 (位于 + 于家务乡) or
    「于家务乡稳定保留」. Only when every occurrence lacks the same one or two characters."""
    body = strip_markers(answer).strip()
    item = re.split(r"[、，,；;。\s]", body, maxsplit=1)[0]
    if len(body) > _BARE_NAME_CHARS or not re.match(rf"[{CJK}]", item):
        return answer
    prefixes = set()
    for passage in passages:
        if item not in passage:
            continue
        spans = tokenizer.word_spans(passage)
        for m in re.finditer(re.escape(item), passage):
            word = next(((a, b) for a, b in spans if a <= m.start() < b), None)
            prefixes.add(passage[word[0] : m.start()] if word else "")
    if len(prefixes) != 1:
        return answer
    (prefix,) = prefixes
    if not re.fullmatch(rf"[{CJK}]{{1,2}}", prefix):
        return answer
    at = answer.index(item)
    return f"{answer[:at]}{prefix}{answer[at:]}"


# A general place a name may start with that a table row leaves out ("北京舞蹈学院" -> 舞蹈学院).
_NAME_PREFIXES = re.compile(r"^(?:北京市?|首都|中国|国家)(?=..)")


def unnamed_in_rows(
    question: str, citations: Sequence[Citation], tokenizer: ChineseTokenizer
) -> list[str]:
    """The organizations the question names (jieba's `nt` words: 北京舞蹈学院, 首都儿科研究所) that
    the answer's cited table rows never mention, when every citation is a row of a table.

    A row of the project tables ("中国人民大学通州校区二期\t位于潞城镇，…可承载学生超2万人。") is
    about what its first cell names; the rows around it are other projects, so unlike
    `uncited_specifics` no neighbour counts, only the row, its report title and section.
    "北京舞蹈学院通州校区能容纳多少学生" answered from 人大's row, "首儿所通州院区的床位" from the
    妇幼保健院's: real figures of another project."""
    names = [w for w, tag in tokenizer.word_tags(question).items() if tag == "nt" and len(w) >= 3]
    if not names or not citations:
        return []
    rows = []
    for c in citations:
        text = c.hit.chunk.text
        start = text.rfind("\n", 0, c.quote_start) + 1
        end = text.find("\n", c.quote_end)
        line = text[start : end if end >= 0 else len(text)]
        if "\t" not in line:
            return []
        rows.append(_with_heading(c.hit.chunk, line))
    seen = normalize_for_match(" ".join(rows))
    return [
        name
        for name in names
        if not any(normalize_for_match(v) in seen for v in (name, _NAME_PREFIXES.sub("", name)))
    ]


_CONNECTIVES = "那么|那|还有|另外"  # 那么 before 那, or stripping 那 leaves "么" behind
_CONNECTIVE = re.compile(f"^({_CONNECTIVES})")
# A question that leans on the one before: it opens with a connective, a pronoun or a comparison
# ("跟2020年比…", "加上北三县…", "具体是哪几条"), points back ("这个指数", "其中", "又是哪两个",
# "…呢？"), or is too short to name its own subject.
_FOLLOW_UP = re.compile(
    rf"^({_CONNECTIVES}|它|其|这|该|此|同期|同时|具体|跟|和|与|比|相比|加上|除了|再|又|还|分别|各)"
    r"|这个|这些|这两|这几|这项|这条|这座|这次|其中|它的|上述|又是|呢[？?]|[呢吗][？?]?$|^.{0,8}$"
)
_YEAR = re.compile(r"20\d\d年(?:度)?")


def leans_on_history(question: str, tokenizer: ChineseTokenizer | None = None) -> bool:
    """Does `question` need the conversation to be understood? It matches `_FOLLOW_UP`, or (with
    a tokenizer) names at most one thing besides years and figures ("能提供多少个学位？",
    "十四五期间实际增长了多少？", "2023年度那份报告里写的是多少？"): a question that stands alone
    names its subject and what it asks of it."""
    question = question.strip()
    if _FOLLOW_UP.search(question):
        return True
    if tokenizer is None:
        return False
    named = [w for w in content_words(question, tokenizer) if not any(c.isdigit() for c in w)]
    return len(named) <= 1


def heuristic_rewrite(
    question: str, history: Sequence[Turn], tokenizer: ChineseTokenizer | None = None
) -> str:
    """Without a model: carry the last question's subject into a short follow-up.

    "那2023年呢？" after "2024年北京常住人口是多少？" becomes "2023年北京常住人口是多少？";
    other follow-ups (`leans_on_history`) are prefixed with the previous question so retrieval
    sees both.
    """
    if not history or not leans_on_history(question, tokenizer):
        return question
    previous = history[-1].standalone_question or history[-1].question
    years = _YEAR.findall(question)
    core = _CONNECTIVE.sub("", question.strip()).strip("？?呢吗 ")
    if years and _YEAR.search(previous) and _YEAR.sub("", core).strip() == "":
        return _YEAR.sub(years[0], previous, count=1)
    return f"{previous} {question.strip()}"


# What a rewrite replaces rather than keeps: pronouns (这两个地方 -> 雄安新区和城市副中心), numerals,
# adverbs, adjectives, question and function words ("具体", "其中", "一共", "哪几个"), verbs
# ("加上北三县一共多大" -> "通州和北三县总面积") and time words (去年 -> 2023年); by jieba's tags.
_REPLACEABLE_TAGS = ("r", "m", "d", "a", "c", "p", "u", "y", "q", "f", "v", "t", "b", "z")
# Words that stand for the subject as a pronoun would ("这两个地方"). Question words (哪几个, 多大,
# 各是, 时候…) never get here: the tokenizer drops them.
_GENERIC_WORDS = frozenset({"地方", "情况", "东西"})


def content_words(text: str, tokenizer: ChineseTokenizer) -> list[str]:
    """The names, nouns, figures and English words of `text` (two characters or more, or a
    figure); not its pronouns, question words, adverbs, verbs: what a rewrite replaces."""
    tags = tokenizer.word_tags(text)

    def replaceable(word: str) -> bool:
        if any(c.isdigit() for c in word):
            return False
        if word in _GENERIC_WORDS:
            return True
        # A word the tagger cut differently is tagged by its parts; a planning term it does
        # not know ("北三县") is tagged x, a content word.
        parts = {word: tags[word]} if word in tags else tokenizer.word_tags(word)
        # A unit of two characters or more is what is asked for ("多少千伏" rewritten as the
        # previous question's "有多长" has lost it); a one-character one ("几座") is not.
        return bool(parts) and all(
            tag.startswith(_REPLACEABLE_TAGS) and not (tag == "q" and len(part) >= 2)
            for part, tag in parts.items()
        )

    return [
        t
        for t in dict.fromkeys(tokenizer.tokenize(text))
        if (len(t) >= 2 or t.isdigit()) and not replaceable(t)
    ]


def drops_words(question: str, rewrite: str, tokenizer: ChineseTokenizer) -> list[str]:
    """The follow-up's own content words (`content_words`) missing from its rewrite: "PM2.5呢？"
    rewritten as the previous question about forest cover drops "pm"; "这个规划要构建什么样的空间
    格局" rewritten as the previous question drops "格局"."""
    seen = normalize_for_match(rewrite).lower()
    own = _CONNECTIVE.sub("", question.strip())
    return [t for t in content_words(own, tokenizer) if t not in seen]


def adds_words(question: str, rewrite: str, tokenizer: ChineseTokenizer) -> bool:
    """Does the rewrite name something (`content_words`) the follow-up does not?"""
    seen = normalize_for_match(question).lower()
    return any(t not in seen for t in content_words(rewrite, tokenizer))


# A question asks something: a question mark or a question word. A "rewrite" without either
# ("人大通州校区二期建在通州区。") is the model answering instead of rewriting.
_ASKS = re.compile(r"[？?]|多少|几|哪|什么|谁|何|如何|怎|是否|吗|呢|多[大长高久远宽深]")


def clean_rewrite(text: str, fallback: str) -> str:
    line = text.strip().splitlines()[0].strip() if text.strip() else ""
    line = re.sub(r"^(独立问题|改写后的问题|问题)[:：]\s*", "", line).strip("\"' ")
    # Quotes around the whole line go; a question that starts or ends with a quoted term
    # ("“一带”和“一轴”各依托什么？") keeps its quotes.
    if line.startswith("“") and line.endswith("”") and line.count("“") == 1:
        line = line[1:-1].strip()
    if not line or len(line) > 200 or line == REFUSAL or not _ASKS.search(line):
        return fallback
    return line


class AnswerChain:
    """One job: a question (and its conversation) in, a verified `Answer` out."""

    def __init__(
        self,
        retriever: HybridRetriever,
        chat_model: BaseChatModel | None,
        backend: str,
        settings: ChainSettings | None = None,
        tokenizer: ChineseTokenizer | None = None,
    ) -> None:
        self.retriever = retriever
        self.backend = backend
        self.settings = settings or ChainSettings()
        self.extractive = ExtractiveChatModel(
            tokenizer=tokenizer or retriever.tokenizer,
            min_coverage=self.settings.extractive_min_coverage,
            similarity=retriever.sentence_similarities,
        )
        self.chat_model = chat_model or self.extractive
        # doc_id -> the report's name in the prompt (its catalog short title, if any)
        self.prompt_labels = {e.doc_id: e.prompt_label for e in retriever.index.catalog}
        # An answer of only these says nothing: the names of the reports, as the prompt gives them.
        self.report_names = {n for e in retriever.index.catalog for n in (e.label, e.prompt_label)}
        self._periods: tuple[object, SectionPeriods] | None = None

    @property
    def periods(self) -> SectionPeriods:
        """The period each section of the indexed reports opens with (`assistant.periods`),
        read again when the retriever's index is replaced (a report added or removed)."""
        index = self.retriever.index
        if self._periods is None or self._periods[0] is not index:
            self._periods = (index, SectionPeriods(index.chunks))
        return self._periods[1]

    def as_runnable(self) -> Runnable:
        """The chain as a LangChain runnable: {"question", "history"?} -> Answer."""
        return RunnableLambda(
            lambda inputs: self.ask(inputs["question"], history=inputs.get("history", ()))
        )

    # -- steps -------------------------------------------------------------------------------

    def rewrite(self, question: str, history: Sequence[Turn]) -> str:
        if not history:
            return question
        fallback = heuristic_rewrite(question, history, self.retriever.tokenizer)
        if self.chat_model is self.extractive or not self.settings.rewrite_with_model:
            return fallback
        lines = []
        for turn in history[-3:]:
            lines.append(f"用户：{turn.standalone_question or turn.question}")
            if turn.answer:
                lines.append(f"助手：{turn.answer[:200]}")
        prompt = load_prompt("rewrite").format(history="\n".join(lines), question=question)
        try:
            reply = self.chat_model.invoke([HumanMessage(content=prompt)])
        except Exception as exc:  # the answer step reports backend faults; here fall back quietly
            log.warning("question rewrite failed (%s); using the heuristic rewrite", exc)
            return fallback
        rewritten = clean_rewrite(str(reply.content), fallback)
        dropped = drops_words(question, rewritten, self.retriever.tokenizer)
        if dropped:
            log.info("the model's rewrite %r drops %s; using the heuristic one", rewritten, dropped)
            return fallback
        if fallback != question and not adds_words(question, rewritten, self.retriever.tokenizer):
            # A follow-up ("具体是哪几条线路开通了？") rewritten with nothing from the conversation
            # ("哪几条线路开通了？") is no more standalone than it was.
            log.info(
                "the model's rewrite %r adds nothing to the follow-up; using the heuristic one",
                rewritten,
            )
            return fallback
        return rewritten

    def context(
        self, question: str, hits: Sequence[Hit], scored: Sequence[ScoredSentence] | None = None
    ) -> tuple[list[Hit], str]:
        """The passages the prompt numbers, and the prompt's context block."""
        labels = self.prompt_labels
        if self.settings.context_mode == "sentences":
            return focus_context(
                question,
                hits,
                self.retriever.tokenizer,
                self.settings.context_chars,
                scored,
                labels,
                # The quoting backend picks its own sentences from whole passages.
                0.0 if self.chat_model is self.extractive else self.settings.context_min_ratio,
            )
        packed = pack_context(hits, self.settings.context_chars)
        return packed, format_context(packed, labels)

    def _generate(
        self, question: str, packed: Sequence[Hit], context: str, on_token: TokenCallback | None
    ) -> tuple[str, str, str, str]:
        """(text, backend used, notice, fallback reason). Falls back to extractive on any fault."""
        messages = _answer_messages(question, packed, context)
        if self.chat_model is self.extractive:
            return str(self.extractive.invoke(messages).content), "extractive", "", ""
        try:
            parts: list[str] = []
            finish = None
            for chunk in self.chat_model.stream(messages):
                piece = str(chunk.content)
                finish = (chunk.response_metadata or {}).get("finish_reason") or finish
                if piece:
                    parts.append(piece)
                    if on_token is not None:
                        on_token(piece)
            text = "".join(parts)
            if finish == "timeout":
                raise TimeoutError("the model took too long")
            if not text.strip():
                raise ValueError("the model returned an empty answer")
            return text, self.backend, "", ""
        except Exception as exc:
            log.warning("backend %s failed: %s", self.backend, exc)
            reason, words = _reason(exc)
            notice = f"{self.backend} 后端不可用（{words}），已改用摘录式回答。"
            return str(self.extractive.invoke(messages).content), "extractive", notice, reason

    def _look_again(
        self, question: str, packed: Sequence[Hit], passages: list[str], context: str, reply: str
    ) -> tuple[Verification, bool] | None:
        """The model refused: one more turn asks it to read the passages again and quote.

        The conversation so far is the prompt llama.cpp has just read, so only the new turn is
        read (about a second here). Its answer is kept only when it passes `_second_answer`'s
        checks. Otherwise (None) the refusal stands. (answer, whether it is a quote): when the
        model copies out a passage block with its `[n] 《report》` heading, it points at that
        passage without answering; the passage's sentences that best cover the question are
        quoted instead when they cover `look_again_quote_min_coverage` of it (`_quote`).
        """
        messages = [
            *_answer_messages(question, packed, context),
            AIMessage(content=reply),
            HumanMessage(content=load_prompt("look_again")),
        ]
        try:
            text = str(self.chat_model.invoke(messages).content)
        except Exception as exc:  # a second try that fails leaves the first answer standing
            log.warning("look-again turn failed (%s); keeping the refusal", exc)
            return None
        threshold = self.settings.support_threshold
        block = _BLOCK_HEADING.match(text)
        n = int(re.search(r"\d+", block.group(0)).group(0)) if block else 0
        if 0 < n <= len(packed) and self.settings.look_again_quote_min_coverage <= 1:
            quoted = self._quote(
                question, [packed[n - 1]], self.settings.look_again_quote_min_coverage
            )
            if quoted == REFUSAL:
                return None
            # the quote is of passage [n] alone: its citation [1] is [n] of the prompt
            text = re.sub(r"\[1\]", f"[{n}]", quoted)
            second = self._second_answer(text, question, packed, passages, threshold)
            return None if second is None else (second, True)
        second = self._second_answer(text, question, packed, passages, threshold)
        return None if second is None else (second, False)

    def _answer_anyway(
        self, question: str, packed: Sequence[Hit], passages: list[str], context: str
    ) -> tuple[Verification, str] | None:
        """The model refused, looking again did not help and no sentence covers the question
        well enough to quote: ask for its best answer to the same prompt, the refusal's first
        token ruled out (a local model only: it needs the logits). The small model refuses
        answerable questions whose answer is in its passages; forced, it often writes the
        answer, but also invents one for a question the reports do not answer. So the answer is
        kept only when it passes the look-again turn's checks with each sentence nearly
        copied from its passage (`answer_anyway_min_support` of its character pairs), not
        paraphrased. A paraphrase whose figures one sentence it saw states together is answered
        with that sentence, quoted (`_forced_quote`, "answer_anyway_quote"). Otherwise (None)
        the refusal stands."""
        messages = _answer_messages(question, packed, context)
        try:
            text = str(self.chat_model.invoke(messages, avoid_start=REFUSAL).content)
        except Exception as exc:  # a fault here leaves the refusal standing
            log.warning("answer-anyway turn failed (%s); keeping the refusal", exc)
            return None
        check = self._second_answer(
            _without_echo(text, question),
            question,
            packed,
            passages,
            self.settings.answer_anyway_min_support,
        )
        if check is not None:
            return check, "answer_anyway"
        if not self.settings.quote_forced_figures:
            return None
        quoted = self._forced_quote(text, question, packed, passages, context)
        return None if quoted is None else (quoted, "answer_anyway_quote")

    def _forced_quote(
        self, text: str, question: str, packed: Sequence[Hit], passages: list[str], context: str
    ) -> Verification | None:
        """The one passage sentence the model saw that states every figure of its forced answer
        (one or two, besides bare years and the question's own), quoted with its citation and
        checked as a second answer is; None when no sentence, or more than one, states them."""
        if is_refusal(text):
            return None
        figures = _stated_figures(text, question)
        if not 1 <= len(figures) <= 2:
            return None
        terms = self.retriever.tokenizer.tokenize(question)  # as the context cut its sentences
        found = [
            (n, quote)
            for n, quote in _seen_sentences(packed, context, terms)
            if set(figures) <= set(extract_figures(quote))
        ]
        if len({quote for _, quote in found}) != 1:
            return None
        n, quote = found[0]
        # the clauses stating the figures must be about the question, not only hold its figure
        covered = figure_clause_coverage(question, quote, figures, self.retriever)
        if covered < self.settings.forced_quote_min_coverage:
            return None
        return self._second_answer(
            f"据报告：“{quote}”[{n}]", question, packed, passages, self.settings.support_threshold
        )

    def _second_answer(
        self,
        text: str,
        question: str,
        packed: Sequence[Hit],
        passages: list[str],
        support_threshold: float,
    ) -> Verification | None:
        """A second answer after a refusal, verified; None unless it passes every check a first
        answer faces and more: something besides markers, not a passage block copied whole with
        its `[n] 《report》` heading (what the model writes when it finds nothing), every figure
        in a cited passage, every sentence supported by its passages, and it fits the question."""
        check = verify_answer(
            text, passages, support_threshold=support_threshold, headings=_headings(packed)
        )
        if (
            check.refused
            or not _has_content(check.text, self._names(packed))
            or _BLOCK_HEADING.match(text)
            or not check.grounded
            or check.ungrounded_figures
            or check.unsupported_sentences
            or misfit(question, check.text, passages)
        ):
            return None
        return check

    def _other_half(
        self, question: str, packed: Sequence[Hit], passages: list[str], first: Verification
    ) -> Verification | None:
        """A comparison answered from one passage with one figure ("…分别是多少？" -> "10.4万亿元[1]"):
        the small model often answers one side only, though the other side is in the other
        passages. The same question is asked over those passages alone; when the reply states a
        figure the first answer lacks, the passage sentence that states it (as the model saw it)
        is added as a quote with its citation: the model points at the other side, the report's
        own words state it. None when nothing is added."""
        figures = _stated_figures(first.text, question)
        if len(first.cited) != 1 or len(figures) > 1:
            return None
        rest = [h for i, h in enumerate(packed, start=1) if i not in first.cited]
        if not rest:
            return None
        sub, context = self.context(question, rest)
        try:
            reply = str(self.chat_model.invoke(_answer_messages(question, sub, context)).content)
        except Exception as exc:  # the first answer stands
            log.warning("comparison turn failed (%s); keeping the first answer", exc)
            return None
        new = [f for f in _stated_figures(reply, question) if f not in figures]
        if not new or verify_answer(reply, [h.chunk.text for h in sub]).refused:
            return None
        # the first sentence the model saw that states one of its new figures
        found = next(
            (
                (sub[i - 1], quote)
                for figure in new
                for i, quote in _seen_sentences(sub, context)
                if figure in extract_figures(quote)
            ),
            None,
        )
        if found is None:
            return None
        hit, quote = found
        n = next(i for i, h in enumerate(packed, start=1) if h is hit)
        return self._with_quotes(question, packed, passages, first, f"另据报告：“{quote}”[{n}]")

    def _with_quotes(
        self,
        question: str,
        packed: Sequence[Hit],
        passages: list[str],
        first: Verification,
        quotes: str,
    ) -> Verification | None:
        """`first`'s answer with `quotes` (report sentences with their citations) on a new line,
        checked again; None when that answer is refused or has an ungrounded figure `first`
        did not have."""
        check = verify_answer(
            f"{first.text.rstrip()}\n{quotes}",
            passages,
            support_threshold=self.settings.support_threshold,
            question=question,
            headings=_headings(packed),
        )
        if check.refused or set(check.ungrounded_figures) - set(first.ungrounded_figures):
            return None
        return check

    def _requote_figures(
        self, question: str, packed: Sequence[Hit], passages: list[str], check: Verification
    ) -> tuple[Verification, str] | None:
        """The report's sentences instead of an answer whose figure another clause of its line
        fits better (`assistant.figure_choice`): the better-fitting sentences first, then the
        ones stating the answer's own figures, each quoted with its citation; with the notice
        naming both figures. None when every figure fits as well as any other of its kind."""
        cited = {n: passages[n - 1] for n in check.cited if 0 < n <= len(passages)}
        figures = _stated_figures(strip_markers(check.text), question)
        words = self.retriever.tokenizer.tokenize(question)
        bm25 = self.retriever.index.bm25
        terms = question_terms(question, words, {w: bm25.idf(w) for w in words}, bm25.unseen_idf)
        better = better_clauses(question, figures, cited, terms)
        if not better:
            return None
        spans = dict.fromkeys(
            [(b.n, b.better_sentence) for b in better] + figure_sentences(figures, cited)
        )
        keep = [figure for b in better for figure in (b.figure, b.better)]
        quotes = [
            f"“{truncate_sentence(passages[n - 1][start:end], _FOCUS_SENTENCE_CHARS, keep)}”[{n}]"
            for n, (start, end) in spans
        ]
        requoted = verify_answer(
            "据报告：" + "；".join(quotes),
            passages,
            support_threshold=self.settings.support_threshold,
            headings=_headings(packed),
        )
        if requoted.refused:
            return None
        pairs = "、".join(f"“{b.figure}”（同一段还写有“{b.better}”）" for b in better)
        return requoted, f"回答中的{pairs}未必是问题所问的那一项；以下为报告原文。"

    def _quote_derived(
        self, question: str, packed: Sequence[Hit], passages: list[str], check: Verification
    ) -> tuple[Verification, str] | None:
        """An answer whose only unstated figures are each the difference of two figures one
        sentence of its cited passages states ("下降了0.24" for "从上年的6.32降至6.08"): the model
        worked the change out, and the report states the two sides. Those sentences are quoted
        instead, with a notice naming the worked-out figures; None unless every unstated
        figure is such a difference."""
        # the passages it cites, or all of them when a repair dropped its markers
        cited = [n for n in check.cited if 0 < n <= len(passages)] or range(1, len(passages) + 1)
        spans: dict[tuple[int, int, int], None] = {}
        for figure in check.ungrounded_figures:
            found = [
                (n, start, end)
                for n in cited
                for start, end in split_sentences(passages[n - 1])
                if derived_in(figure, passages[n - 1][start:end])
            ]
            if not found:
                return None
            spans[found[0]] = None
        quotes = [
            f"“{truncate_sentence(passages[n - 1][start:end], _FOCUS_SENTENCE_CHARS)}”[{n}]"
            for n, start, end in spans
        ]
        quoted = verify_answer(
            "据报告：" + "；".join(quotes),
            passages,
            support_threshold=self.settings.support_threshold,
            headings=_headings(packed),
        )
        if quoted.refused or quoted.ungrounded_figures:
            return None
        worked = "、".join(check.ungrounded_figures)
        return quoted, f"回答中的{worked}是模型由报告中的数字算出的，报告未直接写明；以下为报告原文。"

    def _rest_of_sentence(
        self, question: str, packed: Sequence[Hit], passages: list[str], check: Verification
    ) -> Verification | None:
        """A question asking for several figures ("供水能力有多大？比2020年提高了多少？")
        answered with fewer: the small model often states the first and stops, though the
        sentence it cites states the others too ("…达到90万吨/日，较2020年提高25%"). That
        sentence is added as a quote with its citation, so the reader sees every figure it
        gives; nothing is added when the sentences stating the answer's figures state no
        other. None when nothing is added."""
        asked = quantities_asked(question)
        figures = _stated_figures(strip_markers(check.text), question)
        # a range ("2-5分钟", "40万—50万") is one value, though it reads as two figures
        values = _stated_figures(_RANGE_START.sub("", strip_markers(check.text)), question)
        if asked < 2 or not figures or len(values) >= asked:
            return None
        cited = {n: passages[n - 1] for n in check.cited if 0 < n <= len(passages)}
        quotes = []
        for n, (start, end) in figure_sentences(figures, cited):
            sentence = truncate_sentence(passages[n - 1][start:end], _FOCUS_SENTENCE_CHARS, figures)
            if any(f not in figures for f in _stated_figures(sentence, question)):
                quotes.append(f"“{sentence}”[{n}]")
        if not quotes:
            return None
        return self._with_quotes(question, packed, passages, check, "据报告：" + "；".join(quotes))

    def _rest_of_names(
        self, question: str, packed: Sequence[Hit], passages: list[str], check: Verification
    ) -> Verification | None:
        """A question asking for names answered with part of the sentence the answer is drawn
        from ("C40的城市气候领导联盟" for "什么奖", when the sentence goes on to "“地方气候领袖”奖"):
        that sentence is added as a quote with its citation (`assistant.names_quote`). None when
        nothing is added."""
        cited = {n: passages[n - 1] for n in check.cited if 0 < n <= len(passages)}
        source = left_out(question, check.text, cited)
        if source is None:
            return None
        sentence = truncate_sentence(
            cited[source.n][source.start : source.end], _FOCUS_SENTENCE_CHARS, source.left_out
        )
        # a clipped name is made whole first: after the quote the answer is no bare name
        named = whole_name(check.text, list(cited.values()), self.retriever.tokenizer)
        if named != check.text:
            check = dataclasses.replace(check, text=named, repaired=True)
        return self._with_quotes(
            question, packed, passages, check, f"据报告：“{sentence}”[{source.n}]"
        )

    def _review(
        self, question: str, check: Verification, packed: Sequence[Hit], passages: list[str]
    ) -> tuple[Verification, tuple[Citation, ...], str, list[str]]:
        """The last checks of an answer over `packed`: (the answer with a clipped name made
        whole, its citations, why it is refused or "", the question's specifics its cited
        sentences never mention)."""
        s, tokenizer = self.settings, self.retriever.tokenizer
        named = whole_name(check.text, [passages[n - 1] for n in check.cited], tokenizer)
        if named != check.text:
            check = dataclasses.replace(check, text=named, repaired=True)
        citations = tuple(
            self._citation(n, packed[n - 1], check.text, len(packed))
            for n in check.cited
            if 0 < n <= len(packed)
        )
        why = (
            misfit(question, check.text, passages, [c.hit.chunk.text for c in citations])
            if s.check_answer_fit
            else ""
        )
        missing: list[str] = []
        # Quotes too: a quoted sentence covers the question's words best, but it may still be
        # about another year or place ("2024年北京共享单车骑行量" quoting 2023's cycling sentence).
        if not why and s.check_cited_specifics:
            stating = citations_stating(check.text, question, citations)
            missing = uncited_specifics(question, stating, tokenizer)
            missing += unnamed_in_rows(question, citations, tokenizer)
            missing += unnamed_facilities(
                question, [_with_heading(c.hit.chunk, c.hit.chunk.text) for c in citations], tokenizer
            )
            why = f"所引的报告原文没有提到问题中的“{'、'.join(missing)}”" if missing else ""
            if not why:
                cited = [(c.hit.chunk, quote_window(c)) for c in stating]
                asked, told = other_period(question, cited, self.periods)
                if asked:
                    why = (
                        f"所引的报告原文讲的是“{'、'.join(sorted(told))}”时期，"
                        f"问题问的是“{'、'.join(sorted(asked))}”时期"
                    )
            if not why:
                figures = _stated_figures(strip_markers(check.text), question)
                passages_cited = [c.hit.chunk.text for c in citations]
                asked, told = other_mode(question, figures, passages_cited)
                if asked:
                    why = (
                        f"回答中的数字在报告原文中说的是“{'、'.join(sorted(told))}”，"
                        f"问题问的是“{'、'.join(sorted(asked))}”"
                    )
        # after the checks naming what the cited text is about instead (a year, place, mode)
        if not why and s.figure_clause_min_coverage > 0:
            why = self._figures_about_else(question, check.text, citations)
        if not why and s.refuse_invented_figures and check.ungrounded_figures:
            made_up = invented_figures(
                check.ungrounded_figures, check.text, passages, _headings(packed), question
            )
            if made_up and answers_only_with(question, check.text, made_up):
                why = f"回答中的“{'、'.join(made_up)}”在检索到的报告段落中找不到"
        return check, citations, why, missing

    def _figures_about_else(
        self, question: str, answer: str, citations: Sequence[Citation]
    ) -> str:
        """Why a how-many answer's figures answer another question, or "": the clauses of the
        cited sentences that state them, with each sentence's first clause (what it is about),
        hold less than `figure_clause_min_coverage` of the question's rarity-weighted words.
        "六环高线公园全长有多少公里" answered from "…，通过50公里绿道新建或提升，实现与六环高线公园…
        的无缝衔接": the park is in the sentence, the 50公里 are the greenways'. A question asking
        when is left alone: a date opens its sentence, apart from what happened then; so is an
        answer counting in words, which the figures' clauses do not hold."""
        text = strip_markers(answer)
        # a count in words ("包括七个维度三个层级") answers beside digits about other things ("C40")
        if not asks_quantity(question) or asks_when(question) or chinese_quantities(text):
            return ""
        figures = asked_figures(question, _stated_figures(text, question))
        sentences = [
            passage[start:end]
            for passage in (c.hit.chunk.text for c in citations)
            for start, end in split_sentences(passage)
            if any(figure_in_text(f, passage[start:end]) for f in figures)
        ]
        if not figures or not sentences:
            return ""
        covered = figure_clause_coverage(
            question, sentences, figures, self.retriever, with_head=True
        )
        if covered >= self.settings.figure_clause_min_coverage:
            return ""
        return f"所引原文中说出“{'、'.join(figures)}”的分句讲的不是问题所问的事"

    def _naming_passages(
        self, question: str, hits: Sequence[Hit], missing: Sequence[str]
    ) -> tuple[list[Hit], Verification] | None:
        """The answer cites sentences about another place than the question's, or another
        organization (`uncited_specifics`, `unnamed_in_rows`; years are left to the caller's
        refusal): the small model took "全市1730条背街小巷" for 通州's, though a
        passage on 通州 was retrieved too. The question is asked again over the retrieved
        passages that name what was missing, alone; (those passages, the new answer) when the
        answer passes the look-again turn's checks (`_second_answer`) and the sentences it
        quotes hold `naming_min_coverage` of the question (they were picked for a name, not
        for the rest of it: "新增优质学位3.8万个" for "通州现在中小学学位一共有多少个"), else
        None. The caller puts it through every later check too."""
        naming = passages_naming(question, missing, hits, self.retriever.tokenizer)
        if not naming:
            return None
        sub, context = self.context(question, naming)
        try:
            text = str(self.chat_model.invoke(_answer_messages(question, sub, context)).content)
        except Exception as exc:  # a second try that fails leaves the refusal standing
            log.warning("naming-passages turn failed (%s); keeping the refusal", exc)
            return None
        passages = [h.chunk.text for h in sub]
        second = self._second_answer(text, question, sub, passages, self.settings.support_threshold)
        if second is None:
            return None
        if self._cited_coverage(question, sub, second) < self.settings.naming_min_coverage:
            return None
        return sub, second

    def _cited_coverage(self, question: str, packed: Sequence[Hit], check: Verification) -> float:
        """How much of the question (rarity-weighted, `score_sentences`) the best of the
        sentences an answer quotes holds, its heading counting at a discount."""
        scored = score_sentences(
            question,
            [h.chunk.text for h in packed],
            self.retriever.tokenizer,
            titles=[h.chunk.title for h in packed],
            headings=_headings(packed),
        )
        quoted = [
            (n, c.quote_start, c.quote_end)
            for n in check.cited
            if 0 < n <= len(packed)
            for c in [self._citation(n, packed[n - 1], check.text, len(packed))]
        ]
        return max(
            (
                s.coverage
                for s in scored
                for n, start, end in quoted
                if s.n == n and s.start < end and s.end > start
            ),
            default=0.0,
        )

    def _names(self, packed: Sequence[Hit]) -> set[str]:
        """The names of the reports (an answer of only these says nothing): every report in the
        index, since the model may name one whose sentences the focused context left out."""
        return self.report_names | {
            n for h in packed for n in (h.chunk.label, _label(h.chunk, self.prompt_labels))
        }

    # -- the whole chain ---------------------------------------------------------------------

    def ask(
        self,
        question: str,
        history: Sequence[Turn] = (),
        on_token: TokenCallback | None = None,
        qid: str | None = None,
    ) -> Answer:
        if not isinstance(question, str) or not question.strip():
            raise BadQueryError('The question is empty. Example: planqa ask "北京常住人口是多少？"')
        question = question.strip()[:MAX_QUESTION_CHARS]
        started = time.perf_counter()
        standalone = self.rewrite(question, history)
        parts = (
            question_parts(standalone)
            if self.settings.answer_parts and self.chat_model is not self.extractive
            else []
        )
        if parts:
            return self._ask_in_parts(question, standalone, parts, started, on_token, qid)
        return self._answer(question, standalone, started, on_token, qid)

    def _answer(
        self,
        question: str,
        standalone: str,
        started: float,
        on_token: TokenCallback | None = None,
        qid: str | None = None,
    ) -> Answer:
        """`ask` for one standalone question: retrieve, generate, check."""
        s = self.settings
        hits = self.retriever.run(standalone, top_k=s.retrieve_k)
        retrieved_at = time.perf_counter()
        timings = {"retrieve": (retrieved_at - started) * 1000}

        best_dense = max((h.dense_score for h in hits if h.dense_score is not None), default=None)
        coverage = query_coverage(standalone, hits, self.retriever)
        tokenizer = self.retriever.tokenizer
        relevant = bool(hits) and is_relevant(coverage, best_dense, s)
        # Sentence scores serve the near-miss check and the focused context: made once.
        scored = (
            score_sentences(standalone, [h.chunk.text for h in hits], tokenizer)
            if relevant and s.context_mode == "sentences"
            else None
        )
        if not relevant or (
            s.check_specifics and unmatched_specifics(standalone, hits, tokenizer, scored=scored)
        ):
            timings.update(generate=0.0, total=(time.perf_counter() - started) * 1000)
            return self._refusal(question, standalone, hits, self.backend, "", timings, qid)

        packed, context = self.context(standalone, hits, scored)
        text, used_backend, notice, fallback = self._generate(standalone, packed, context, on_token)
        passages = [h.chunk.text for h in packed]
        headings = _headings(packed)
        check = verify_answer(
            text,
            passages,
            support_threshold=s.support_threshold,
            question=standalone,
            headings=headings,
        )
        if check.refused and used_backend != "extractive" and s.look_again:
            second = self._look_again(standalone, packed, passages, context, text)
            if second is not None:
                check, quoted = second
                fallback = fallback or ("look_again_quote" if quoted else "look_again")
                if quoted:
                    used_backend = "extractive"
                    notice = (
                        notice or "模型未能作答，只指出了一段报告；以下为该段中与问题最相符的原文。"
                    )
        timings["generate"] = (time.perf_counter() - retrieved_at) * 1000
        if check.refused and used_backend != "extractive" and s.rescue_min_coverage <= 1:
            rescued = self._quote(standalone, packed, s.rescue_min_coverage)
            if rescued != REFUSAL:
                text, used_backend = rescued, "extractive"
                notice = notice or "模型未能作答；以下为与问题最相符的报告原文。"
                fallback = fallback or "rescue"
                check = verify_answer(
                    text, passages, support_threshold=s.support_threshold, headings=headings
                )
        if (
            check.refused
            and used_backend != "extractive"
            and s.answer_anyway
            and getattr(self.chat_model, "can_avoid_start", False)
        ):
            forced = self._answer_anyway(standalone, packed, passages, context)
            if forced is not None:
                check, kind = forced
                fallback = fallback or kind
        if check.refused:
            timings["total"] = (time.perf_counter() - started) * 1000
            return self._refusal(
                question, standalone, hits, used_backend, notice, timings, qid, fallback
            )
        empty = not _has_content(check.text, self._names(packed))
        caption = not empty and is_caption(strip_markers(check.text))
        if empty or caption or _echoes(standalone, check.text, tokenizer):
            # Empty, cut-off or markers-only output ("[1]"), a map's or table's title
            # ("市级绿道总体格局规划图"), or the question's own words ("“两大中心”是[1]和[3]。"):
            # answer extractively instead.
            text = self._quote(standalone, packed, s.extractive_min_coverage)
            check = verify_answer(
                text, passages, support_threshold=s.support_threshold, headings=headings
            )
            said = (
                "模型输出为空"
                if empty
                else "模型的回答只是图表的标题"
                if caption
                else "模型的回答只重复了问题"
            )
            used_backend, notice = "extractive", notice or f"{said}，已改用摘录式回答。"
            fallback = fallback or "empty"
            if check.refused:
                timings["total"] = (time.perf_counter() - started) * 1000
                return self._refusal(
                    question, standalone, hits, used_backend, notice, timings, qid, fallback
                )

        if s.quote_derived_figures and used_backend != "extractive" and check.ungrounded_figures:
            derived = self._quote_derived(standalone, packed, passages, check)
            if derived is not None:
                (check, said), used_backend = derived, "extractive"
                notice = notice or said
                fallback = fallback or "derived_quote"
        if s.complete_comparisons and used_backend != "extractive" and COMPARES.search(standalone):
            check = self._other_half(standalone, packed, passages, check) or check
        if s.complete_parts and used_backend != "extractive":
            check = self._rest_of_sentence(standalone, packed, passages, check) or check
        unquoted = None
        if s.complete_names and used_backend != "extractive":
            completed = self._rest_of_names(standalone, packed, passages, check)
            if completed is not None:
                unquoted, check = check, completed
        if s.quote_ambiguous_figures and used_backend != "extractive":
            requoted = self._requote_figures(standalone, packed, passages, check)
            if requoted is not None:
                check, said = requoted
                used_backend = "extractive"
                notice = notice or said
                fallback = fallback or "figure_quote"
        check, citations, why, missing = self._review(standalone, check, packed, passages)
        if why and unquoted is not None:
            # the added quote is what failed a check: the answer stands without it
            plain = self._review(standalone, unquoted, packed, passages)
            if not plain[2]:
                check, citations, why, missing = plain
        # Places and names only: a yearly report's title names its year for every sentence,
        # the cumulative ones too ("两轮百万亩造林工程共完成造林绿化219万亩" for 2024's).
        if (
            missing
            and not any(m.isdigit() for m in missing)
            and s.retry_naming_passages
            and used_backend != "extractive"
        ):
            retried = self._naming_passages(standalone, hits, missing)
            if retried is not None:
                sub, second = retried
                second, again, why_again, _ = self._review(
                    standalone, second, sub, [h.chunk.text for h in sub]
                )
                if not why_again:
                    check, citations, why = second, again, ""
                    fallback = fallback or "naming_passages"
        if why:
            timings["total"] = (time.perf_counter() - started) * 1000
            notice = f"{notice}{'；' if notice else ''}回答未通过核对（{why}）。"
            return self._refusal(
                question, standalone, hits, used_backend, notice, timings, qid, fallback
            )
        timings["total"] = (time.perf_counter() - started) * 1000
        return Answer(
            id=qid,
            question=question,
            standalone_question=standalone,
            answer=check.text,
            refused=False,
            grounded=check.grounded and bool(citations),
            citations=citations,
            retrieved=tuple(hits),
            ungrounded_figures=tuple(check.ungrounded_figures),
            backend=used_backend,
            notice=notice,
            fallback=fallback,
            timings_ms=timings,
        )

    def _ask_in_parts(
        self,
        question: str,
        standalone: str,
        parts: Sequence[Part],
        started: float,
        on_token: TokenCallback | None,
        qid: str | None,
    ) -> Answer:
        """A question asking several things (`assistant.parts`): answered whole first. When
        that answer is in doubt (`_in_doubt`), it is answered part by part too, a part that
        leans on the one before it rewritten as a follow-up of it; the parts' answers,
        numbered, replace the whole one when every part is answered and they state a figure
        the whole answer lacks, or the whole question was refused."""
        # The whole answer streams as the draft; the parts' answers, if they replace it, come
        # at the end like any checked answer that replaces the draft.
        whole = self._answer(question, standalone, started, on_token, qid)
        chosen = whole
        if _in_doubt(whole, parts, standalone):
            answers: list[Answer] = []
            before: list[Turn] = []
            for part in parts:
                text = self.rewrite(part.text, before) if part.follows else part.text
                answer = self._answer(part.text, text, time.perf_counter())
                if answer.refused:
                    break
                answers.append(answer)
                before = [Turn(question=part.text, answer=answer.answer, standalone_question=text)]
            if len(answers) == len(parts) and (
                whole.refused or _new_figures(answers, whole, standalone)
            ):
                chosen = _joined(answers, whole)
        timings = dict(chosen.timings_ms)
        timings["total"] = (time.perf_counter() - started) * 1000
        timings["generate"] = timings["total"] - timings.get("retrieve", 0.0)
        return dataclasses.replace(chosen, timings_ms=timings)

    def _quote(self, question: str, packed: Sequence[Hit], min_coverage: float) -> str:
        """The extractive answer over already-packed passages (rescue and empty-output paths)."""
        return extractive_answer(
            question,
            [h.chunk.text for h in packed],
            self.retriever.tokenizer,
            min_coverage=min_coverage,
            similarity=self.retriever.sentence_similarities,
            titles=[h.chunk.title for h in packed],
            headings=_headings(packed),
        )

    def _citation(self, n: int, hit: Hit, answer_text: str, n_passages: int) -> Citation:
        # Quote the passage sentence that supports the answer sentences citing [n]; where they
        # quote the passage verbatim (the extractive answer's "“A”[1]；“B”[1]"), the first of them,
        # the best-scoring one, rather than whichever the joined claims match best.
        claims = [
            sentence.claim
            for sentence in parse_citations(answer_text, n_passages).sentences
            if n in sentence.cited
        ]
        quoted = [c[1:-1] for c in claims if len(c) > 2 and c[0] == "“" and c[-1] == "”"]
        verbatim = [q for q in quoted if q in hit.chunk.text]
        if verbatim:
            start = hit.chunk.text.index(verbatim[0])
            end = start + len(verbatim[0])
        else:
            start, end = find_quote(" ".join(claims) or answer_text, hit.chunk.text)
        return Citation(
            n=n, hit=hit, quote=hit.chunk.text[start:end], quote_start=start, quote_end=end
        )

    def _refusal(
        self, question, standalone, hits, backend, notice, timings, qid, fallback=""
    ) -> Answer:
        return Answer(
            id=qid,
            question=question,
            standalone_question=standalone,
            answer=REFUSAL,
            refused=True,
            grounded=True,  # it states nothing, so nothing in it is ungrounded
            citations=(),
            retrieved=tuple(hits[:3]),  # offered as "可能相关"
            backend=backend,
            notice=notice,
            fallback=fallback,
            timings_ms=timings,
        )


_QUOTED = re.compile(r"“[^”]*”")


def _in_doubt(whole: Answer, parts: Sequence[Part], question: str) -> bool:
    """Is the whole answer to a question of several parts in doubt: refused; stating fewer
    figures than the parts ask for ("全市有62个，通州建成了62个": one side's figure for both,
    or one side only); or the model's figure replaced by report quotes because another clause
    fits the question better (`_requote_figures`)?"""
    if whole.refused or whole.fallback == "figure_quote":
        return True
    asked = sum(asks_quantity(p.text) for p in parts)
    # The answer's own words: a report sentence quoted after it (`_other_half`,
    # `_rest_of_sentence`) states figures of every kind, asked or not.
    own = _QUOTED.sub("", strip_markers(whole.answer))
    stated = {*_stated_figures(own, question), *chinese_quantities(own)}
    return len(stated) < asked


def _new_figures(parts: Sequence[Answer], whole: Answer, question: str) -> list[str]:
    """The figures the parts' answers state that the whole answer does not."""
    stated = set(_stated_figures(strip_markers(whole.answer), question))
    return [
        f
        for a in parts
        for f in _stated_figures(strip_markers(a.answer), question)
        if f not in stated
    ]


def _renumbered(text: str, numbers: Mapping[int, int]) -> str:
    """`text` with each citation marker `[n]` made `[numbers[n]]` (dropped when n has none)."""
    return re.sub(
        r"\[(\d+)\]",
        lambda m: f"[{numbers[int(m.group(1))]}]" if int(m.group(1)) in numbers else "",
        text,
    )


def _joined(parts: Sequence[Answer], whole: Answer) -> Answer:
    """The parts' answers as one: "（1）…" per part, their citations numbered on in order, the
    parts named in the notice."""
    lines, citations, notices = [], [], []
    retrieved: dict[str, Hit] = {}
    for i, a in enumerate(parts, start=1):
        numbers = {c.n: len(citations) + k for k, c in enumerate(a.citations, start=1)}
        lines.append(f"（{i}）{_renumbered(a.answer, numbers)}")
        citations += [dataclasses.replace(c, n=numbers[c.n]) for c in a.citations]
        if a.notice:
            notices.append(f"（{i}）{a.notice}")
        for h in a.retrieved:
            retrieved.setdefault(h.chunk.chunk_id, h)
    named = "".join(f"（{i}）{a.standalone_question}" for i, a in enumerate(parts, start=1))
    backends = {a.backend for a in parts}
    return dataclasses.replace(
        whole,
        answer="\n".join(lines),
        refused=False,
        grounded=all(a.grounded for a in parts),
        citations=tuple(citations),
        retrieved=tuple(retrieved.values()),
        ungrounded_figures=tuple(dict.fromkeys(f for a in parts for f in a.ungrounded_figures)),
        backend=backends.pop() if len(backends) == 1 else whole.backend,
        notice="；".join([f"问题分{len(parts)}问作答：{named}", *notices]),
        fallback=next((a.fallback for a in parts if a.fallback), ""),
    )


# A context block's heading at the start of an answer: `[2] 《京津冀协同发展》 …`.
_BLOCK_HEADING = re.compile(r"\s*[\[【［]\s*\d+\s*[\]】］]\s*《")


def answer_prompt_prefix() -> str:
    """The text every answer prompt starts with (its instruction, up to the passages): the
    part of one question's prompt a local model may reuse for the next."""
    return load_prompt("answer_user").split("{context}")[0]


def _answer_messages(question: str, packed: Sequence[Hit], context: str) -> list[BaseMessage]:
    # One user message and no system prompt: with any system prompt of its own the 1.5B
    # model refused answerable dev questions whose answer was the first sentence of [1]
    # (8 of 8 tried); without one it answered them and still refused off-topic ones.
    return [
        HumanMessage(
            content=load_prompt("answer_user").format(context=context, question=question),
            additional_kwargs={
                "planqa": {
                    "question": question,
                    "passages": [h.chunk.text for h in packed],
                    "titles": [h.chunk.title for h in packed],
                    "headings": _headings(packed),
                }
            },
        ),
    ]


_BARE_YEAR = re.compile(r"(?:19|20)\d\d年?度?")


# A reply's lead-in ("根据已知信息，"), and the clauses it may open with.
_LEAD_IN = re.compile(r"^\s*(?:根据|依据|按照)(?:已知|上述|以上|所给)?(?:信息|报告|材料|段落)[，,：:]\s*")
_CLAUSE = re.compile(r"[^，,：:]*[，,：:]")


def _seen_sentences(
    hits: Sequence[Hit], context: str, terms: Sequence[str] = ()
) -> Iterator[tuple[int, str]]:
    """(passage number, sentence) for each sentence of `hits` the model saw in `context`,
    too long ones cut as `truncate_sentence` cuts them (with the question's `terms`, if given)."""
    for n, hit in enumerate(hits, start=1):
        for start, end in split_sentences(hit.chunk.text):
            quote = truncate_sentence(hit.chunk.text[start:end], _FOCUS_SENTENCE_CHARS, terms)
            if quote in context:
                yield n, quote


def _without_echo(reply: str, question: str) -> str:
    """`reply` without its lead-in and the opening clauses that only repeat the question
    ("根据已知信息，灾后重建中，为了提高山区路网的抗灾能力，在大石河…增补了…" keeps "在大石河…"): the
    question's words are the asker's, and a forced answer is kept only when what it adds is
    nearly copied from a passage."""
    text = _LEAD_IN.sub("", reply)
    asked = normalize_for_match(question)
    while m := _CLAUSE.match(text):
        clause = normalize_for_match(m.group(0)[:-1])
        if not clause or clause not in asked:
            break
        text = text[m.end() :]
    return text if text.strip() else reply


# The first bound of a range: "2-" of "2-5分钟", "40万—" of "40万—50万".
_RANGE_START = re.compile(r"\d+(?:\.\d+)?[万亿]?\s*[-—–~～]\s*(?=\d)")


def _stated_figures(text: str, question: str) -> list[str]:
    """The figures of an answer other than bare years (`2023年`, which name the compared sides)
    and the question's own ("50米内换乘的站点占比")."""
    asked = set(extract_figures(question))
    return [f for f in extract_figures(text) if not _BARE_YEAR.fullmatch(f) and f not in asked]


def _has_content(text: str, report_names: Iterable[str] = ()) -> bool:
    """Does an answer say anything beyond citation markers, punctuation and the name of a
    report in its context? The small model sometimes answers with a passage's label
    (`《京津冀协同发展》[1]`); a title that is the answer (a plan's name) is not a label."""
    for name in report_names:
        text = text.replace(name, "")
    return bool(re.sub(r"\[\d+\]|[^\w]", "", text))


def _echoes(question: str, text: str, tokenizer: ChineseTokenizer) -> bool:
    """Does an answer hold no word the question does not (markers and punctuation aside)?"""
    words = set(tokenizer.tokenize(strip_markers(text)))
    return bool(words) and words <= set(tokenizer.tokenize(question))


def _reason(exc: Exception) -> tuple[str, str]:
    """(machine reason, words for the user) of a backend fault."""
    text = f"{type(exc).__name__} {exc}".lower()
    if isinstance(exc, TimeoutError) or "timeout" in text or "timed out" in text:
        return "timeout", "超时"
    if "connect" in text:
        return "unavailable", "无法连接服务器"
    if "empty" in text:
        return "empty", "输出为空"
    return "error", type(exc).__name__
