"""Check an answer against its passages: citation markers, figures, sentence support, quotes."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from assistant.models import REFUSAL
from corpus.cleaning import CJK
from corpus.sentences import CLOSERS as _CLOSERS
from corpus.sentences import SENTENCE_END as _SENTENCE_END
from corpus.sentences import split_sentences, trimmed_span

REFUSAL_STEM = REFUSAL.rstrip("。")

# Units a figure carries when written right after its number. Longest first, so that
# `2.7万平方公里` keeps its whole unit and `3个百分点` is not read as `3个`.
_UNIT_WORDS = (
    "万平方公里 平方公里 平方千米 万平方米 平方米 万亩 亩 万公顷 公顷 万千瓦时 千瓦时 万千瓦 千瓦 "
    "万人/平方公里 人/平方公里 公里/平方公里 万吨/日 吨/日 万立方米/日 立方米/日 "
    "千米 公里 米 km 万亿元 亿元 万元 元 亿人次 万人次 人次 亿人 万人 人 万名 名 万户 户 万套 套 "
    "万家 家 万个 个百分点 百分点 个月 个 万辆 辆 万吨 吨 微克/立方米 万立方米 亿立方米 立方米 "
    "万座 座 条 处 所 项 张 台 栋 万株 株 部 起 件 次 位 届 % ‰ 倍 岁 年 月 日 天 小时 分钟 万 亿"
).split()
_UNIT = "|".join(re.escape(u) for u in sorted(_UNIT_WORDS, key=len, reverse=True))
_NUMBER = r"\d+(?:\.\d+)?"
# A figure starts at a whole number: not inside a longer number or after a decimal point.
_FIGURE = re.compile(rf"(?<![\d.])(?:\d{{1,2}}月\d{{1,2}}日|{_NUMBER}(?:{_UNIT})?)")
_FIGURE_PARTS = re.compile(rf"({_NUMBER})(.*)", re.DOTALL)
_RANGE_DASH = re.compile(rf"[-–—~～至到]({_NUMBER})")

# Citation markers the model writes: [1] ［1］ 【1】 [^1] [1,3] [1、3] [1-3] [ID:1] [来源1] …
_MARKER = re.compile(
    r"\^?[\[［【]\s*\^?\s*"
    r"(?:(?:ID|id|来源|段落|资料|文段|片段|材料|passage|Passage|source|Source)\s*[:：]?\s*)?"
    r"(\d{1,3}(?:\s*(?:[,，、;；/]|[-–—~～]|\s)\s*\d{1,3})*)"
    r"\s*[\]］】]"
)
_CANON_MARKER = re.compile(r"\[(\d+)\]")
_MARKER_RUN = re.compile(r"(?:\[\d+\])+")
# Placeholders a small model copies from the instructions instead of a number: `[n]`, `[编号]`.
_PLACEHOLDER_MARKER = re.compile(r"[\[［【]\s*(?:n|N|x|X|k|编号|来源编号|序号|数字)\s*[\]］】]")
# Output cut off in the middle of a marker: `…44.9%[`.
_DANGLING_MARKER = re.compile(r"\^?[\[［【]\^?\s*\d{0,3}\s*$")
# List enumerators (`1.` `2、` `（3）` at a line start) are not figures of the answer.
_ENUMERATOR = re.compile(r"(?m)^\s*(?:\d{1,2}[.、)）](?!\d)|[（(]\d{1,2}[）)])")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")

# An answer's sentence ends at end punctuation (with closing quotes and the markers that follow
# it) or at a line end; a passage's sentences are `corpus.sentences.split_sentences`.
_ANSWER_SENTENCE = re.compile(
    rf"[^{_SENTENCE_END}\n]*(?:[{_SENTENCE_END}]+[{_CLOSERS}]*(?:[ \t]*\[\d+\])*|\n|$)"
)
# "根据报告，" "据《读本》：" open a sentence without stating anything.
_LEAD_IN = re.compile(r"^\s*(?:根据|据|依据|按照)[^，,：:。]{0,15}[，,：:]")
_NOT_CONTENT = re.compile(r"[^\w%.]|_")
# A sentence with fewer content characters than this (and no figure) is a connective, not a claim.
_MIN_CLAIM_CHARS = 4


# ---------------------------------------------------------------- figures


def normalize_figure(text: str) -> str:
    """One figure in comparable form: NFKC, no spaces, `％`→`%`, no thousands separators.

    `44.9 ％` → `44.9%`, `2.7 万平方公里` → `2.7万平方公里`, `1,800亿元` → `1800亿元`.
    """
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"\s+", "", text)
    return _THOUSANDS.sub("", text)


@lru_cache(maxsize=512)
def _normalize_text(text: str) -> str:
    """Running text in comparable form; whitespace between two digits stays (table cells)."""
    text = _THOUSANDS.sub("", text)  # before NFKC: a full-width `，` is a clause break, not this
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"(?<=\d)\s+(?=\d)", " ", text)
    return re.sub(r"(?<!\d)\s+|\s+(?!\d)", "", text)


def strip_markers(text: str) -> str:
    """`text` without citation markers of any style."""
    return _DANGLING_MARKER.sub("", _MARKER.sub("", text))


def extract_figures(text: str) -> list[str]:
    """Every figure of `text`, normalised, with its unit when attached; deduplicated in order.

    `44.9%`, `2185.8万人`, `2.7万平方公里`, `2035年`, `12月25日`, `836公里`, `1.5`. Citation
    markers and list enumerators (`1.`, `（2）`) are not figures. Only Arabic digits count:
    Chinese numerals (`三城一区`, `一核两翼`) are names far more often than quantities here.
    """
    text = _ENUMERATOR.sub(" ", strip_markers(text))
    figures: list[str] = []
    for match in _FIGURE.finditer(_normalize_text(text)):
        figure = match.group(0)
        if figure not in figures:
            figures.append(figure)
    return figures


def split_figure(figure: str) -> tuple[str, str]:
    m = _FIGURE_PARTS.fullmatch(figure)
    return (m.group(1), m.group(2)) if m else ("", figure)


def _units_agree(a: str, b: str) -> bool:
    # `2185.8万` names the same quantity as `2185.8万人`; `836公里` and `836米` do not.
    # A date (`12月25日`) must be stated in full: `12月` is not that day.
    if any(c.isdigit() for c in a + b):
        return a == b or not a or not b
    return a.startswith(b) or b.startswith(a)


def _stands_alone(text: str, start: int, end: int) -> bool:
    """A bare number that is a value of its own (a table cell), not `PM2.5浓度` or `2.5倍于`."""
    before = text[start - 1] if start else ""
    after = text[end] if end < len(text) else ""
    return not (before.isascii() and before.isalpha()) and not re.match(rf"[{CJK}]", after)


def _whole_numbers(number: str, haystack: str) -> Iterator[re.Match[str]]:
    """Where `haystack` writes `number` whole: `5` is not in `2185.8`, `44.9` not in `144.9`."""
    return re.finditer(rf"(?<![\d.]){re.escape(number)}(?!\.?\d)", haystack)


def figure_in_text(figure: str, text: str) -> bool:
    """Does `text` state `figure`: its number as a whole number, with an agreeing unit?

    `2185.8万` is in `2185.8 万人`; `45%` is not in `44.9%`; `44.9%` is not in `144.9%`;
    `5` is not in `2185.8`; `2035年` is in `（2016年—2035年）` and `2023—2035年` (a range's
    unit belongs to both ends). A number the passage writes without a unit (a table cell)
    counts only when it is distinctive (a decimal or three digits or more) and stands alone
    (`PM2.5浓度` does not state `2.5亿元`).
    """
    return next(figure_positions(figure, text), None) is not None


def figure_positions(figure: str, text: str) -> Iterator[tuple[int, int]]:
    """Where `text`, normalised (`normalized_text`), states `figure` (`figure_in_text`): the
    [start, end) of each place it does, first to last, its unit there included."""
    figure = normalize_figure(figure)
    number, unit = split_figure(figure)
    haystack = _normalize_text(text)
    if not number:
        if figure:
            start = haystack.find(figure)
            while start >= 0:
                yield start, start + len(figure)
                start = haystack.find(figure, start + 1)
        return
    for m in _whole_numbers(number, haystack):
        stated = _FIGURE.match(haystack, m.start())
        stated_unit = stated.group(0)[len(number) :] if stated else ""
        if not stated_unit:
            ranged = _RANGE_DASH.match(haystack, m.end())
            if ranged:
                end = _FIGURE.match(haystack, ranged.start(1))
                stated_unit = end.group(0)[len(ranged.group(1)) :] if end else ""
        if stated_unit:
            if _units_agree(unit, stated_unit):
                yield m.start(), m.end() + len(stated_unit) if stated else m.end()
        elif not unit or (
            ("." in number or len(number) >= 3) and _stands_alone(haystack, m.start(), m.end())
        ):
            yield m.start(), m.end()


def normalized_text(text: str) -> str:
    """`text` as the figure checks read it: thousands separators, NFKC and spaces removed
    (except between two digits)."""
    return _normalize_text(text)


def stated_loosely(figure: str, text: str) -> bool:
    """`text` holds `figure`'s number as a value of its own with no unit (a table cell such as
    `（%）\\t≥52`), which neither states nor contradicts the figure's unit."""
    number, _ = split_figure(normalize_figure(figure))
    if not number:
        return False
    # Not `_normalize_text`: it joins `52\t预期性` into `52预期性`, hiding the cell's end.
    haystack = unicodedata.normalize("NFKC", _THOUSANDS.sub("", text))
    for m in _whole_numbers(number, haystack):
        # nor a name or a label: `5G`, `PM2.5`, `表5-1`
        if re.match(rf" ?[{CJK}%‰A-Za-z]|-\d", haystack[m.end() : m.end() + 2]):
            continue
        before = haystack[m.start() - 1] if m.start() else ""
        if not (before.isascii() and before.isalpha()):
            return True
    return False


# ---------------------------------------------------------------- sentences and overlap


def _content(text: str) -> str:
    return _NOT_CONTENT.sub("", unicodedata.normalize("NFKC", strip_markers(text)).lower())


@lru_cache(maxsize=512)
def _bigrams(text: str) -> frozenset[str]:
    content = _content(text)
    if len(content) == 1:
        return frozenset([content])
    return frozenset(content[i : i + 2] for i in range(len(content) - 1))


def _claim_of(sentence: str) -> str:
    """The part of a sentence that states something: no markers, no `根据报告，` lead-in."""
    return _LEAD_IN.sub("", strip_markers(sentence), count=1).strip()


def _is_claim(claim: str, figures: Sequence[str]) -> bool:
    if figures:
        return True
    # `具体如下：` leads into the sentences that follow; it states nothing itself.
    return len(_content(claim)) >= _MIN_CLAIM_CHARS and not claim.rstrip().endswith(("：", ":"))


def support_overlap(claim: str, passages: Sequence[str]) -> float:
    """Share of the claim's content character bigrams found in any of `passages`."""
    mine = _bigrams(claim)
    if not mine:
        return 0.0
    theirs: set[str] = set()
    for p in passages:
        theirs |= _bigrams(p)
    return len(mine & theirs) / len(mine)


# ---------------------------------------------------------------- citations


@dataclass(frozen=True)
class AnswerSentence:
    """One sentence of an answer with the passages it cites (1-based, in order of first mention)."""

    text: str  # as written, markers included (normalised to `[n]`)
    start: int  # offsets into ParsedAnswer.text
    end: int
    cited: tuple[int, ...]

    @property
    def claim(self) -> str:
        return _claim_of(self.text)


@dataclass(frozen=True)
class ParsedAnswer:
    text: str  # markers normalised to `[n]`, those pointing to no passage removed
    sentences: tuple[AnswerSentence, ...]
    invalid_markers: tuple[int, ...]  # numbers cited that name no passage, in order of mention


def _expand_marker_numbers(body: str) -> list[int]:
    numbers: list[int] = []
    for part in re.split(r"\s*[,，、;；/\s]\s*", body.strip()):
        bounds = re.split(r"\s*[-–—~～]\s*", part)
        if len(bounds) == 2 and bounds[0] and bounds[1]:
            lo, hi = int(bounds[0]), int(bounds[1])
            # `[1-3]` is a range; a reversed or very long one is read as its two ends.
            numbers.extend(range(lo, hi + 1) if 0 < hi - lo <= 10 else (lo, hi))
        else:
            numbers.extend(int(b) for b in bounds if b)
    return numbers


def _normalize_markers(answer: str, n_passages: int) -> tuple[str, tuple[int, ...]]:
    invalid: list[int] = []

    def canon(m: re.Match[str]) -> str:
        kept: list[int] = []
        for n in _expand_marker_numbers(m.group(1)):
            if 1 <= n <= n_passages:
                if n not in kept:
                    kept.append(n)
            elif n not in invalid:
                invalid.append(n)
        return "".join(f"[{n}]" for n in kept)

    text = _MARKER.sub(canon, _PLACEHOLDER_MARKER.sub("", answer))
    text = _DANGLING_MARKER.sub("", text)
    # A marker hugs the text it cites: `44.9% [1]` → `44.9%[1]`.
    text = re.sub(r"[ \t]+(?=\[\d+\])", "", text)

    def dedupe_run(m: re.Match[str]) -> str:
        seen = list(dict.fromkeys(_CANON_MARKER.findall(m.group(0))))
        return "".join(f"[{n}]" for n in seen)

    return _MARKER_RUN.sub(dedupe_run, text), tuple(invalid)


def parse_citations(answer: str, n_passages: int) -> ParsedAnswer:
    """Normalise every marker style to `[n]`, drop markers naming no passage, split sentences.

    `【2】`, `［2］`, `[^2]`, `[ID:2]` → `[2]`; `[1,3]`, `[1、3]`, `[1][3]` → `[1][3]`; `[1-3]` →
    `[1][2][3]`. Parentheses `(1)` are not read as markers: they are enumerators too often.
    A marker right after the end punctuation belongs to the sentence before it, so
    `…44.9%。[1]` and `…44.9%[1]。` both cite [1].
    """
    if n_passages < 0:
        raise ValueError(f"n_passages must be >= 0, got {n_passages}")
    text, invalid = _normalize_markers(answer, n_passages)
    sentences: list[AnswerSentence] = []
    for m in _ANSWER_SENTENCE.finditer(text):
        start, end = trimmed_span(text, m.start(), m.end())
        if end <= start:
            continue
        body = text[start:end]
        cited = tuple(dict.fromkeys(int(n) for n in _CANON_MARKER.findall(body)))
        sentences.append(AnswerSentence(text=body, start=start, end=end, cited=cited))
    return ParsedAnswer(text=text, sentences=tuple(sentences), invalid_markers=invalid)


# ---------------------------------------------------------------- verification


@dataclass(frozen=True)
class Verification:
    """What an answer claims against what its passages say, after repairing its citations."""

    text: str  # repaired answer: markers `[n]`, invalid ones removed, citations repaired
    refused: bool  # the answer is (or begins with) the refusal sentence; text is then REFUSAL
    invalid_markers: tuple[int, ...]  # cited numbers that name no passage (removed from text)
    cited: tuple[int, ...]  # sorted passage numbers the repaired text cites
    ungrounded_figures: tuple[str, ...]  # figures not in any passage their sentence cites
    unsupported_sentences: tuple[str, ...]  # claims (no markers) below the support threshold
    repaired: bool  # text differs from the answer as given (surrounding whitespace aside)
    grounded: bool  # not refused, cites something, every figure and sentence supported


def is_refusal(answer: str) -> bool:
    """Does the answer open with the fixed refusal sentence (after quotes or markdown)?"""
    head = answer.lstrip(" \t\n\"'“‘「*#>")
    return head.startswith(REFUSAL_STEM)


# A year as a label (`2023年`, `2023年度`): the cited report's own title may state it, as a
# single year (…公众读本（2023年度）), not as an end of a plan's period (（2023—2035年）).
_LABEL_YEAR = re.compile(r"((?:19|20)\d\d)年度?")
_HEADING_YEAR = re.compile(r"(?<![\d—–~至到-])((?:19|20)\d\d)年(?!\s*[—–~至到-])")


def unstated_figures(
    figures: Sequence[str], texts: Sequence[str], headings: Sequence[str] = ()
) -> list[str]:
    """The figures none of `texts` states. A year also counts as stated by the heading of a text
    (`headings[i]` for `texts[i]`: its report title and section): in 「2023年度：44.9%[5]」 the
    year names the cited reader (…公众读本（2023年度）), whose passage text never repeats it."""

    def stated(f: str, i: int) -> bool:
        if figure_in_text(f, texts[i]):
            return True
        year = _LABEL_YEAR.fullmatch(f)
        return (
            year is not None
            and i < len(headings)
            and year.group(1) in _HEADING_YEAR.findall(normalize_figure(headings[i]))
        )

    return [f for f in figures if not any(stated(f, i) for i in range(len(texts)))]


def _derived(numbers: Sequence[float]) -> set[float]:
    """What an answer may work out from the figures it states: the sum of them all, and each
    pair's sum, difference, product, ratio and change in percent."""
    found = {sum(numbers)}
    for i, a in enumerate(numbers):
        for j, b in enumerate(numbers):
            if i == j:
                continue
            found |= {a + b, a - b, a * b}
            if b:
                found |= {a / b, a / b * 100, (a - b) / b * 100}
    return found


def invented_figures(
    figures: Sequence[str],
    answer: str,
    passages: Sequence[str],
    headings: Sequence[str] = (),
    question: str = "",
) -> list[str]:
    """The `figures` of `answer` (its ungrounded ones, say) that come from nowhere: no passage
    writes their number at all, with whatever unit (a table cell `≥52` under `（%）` grounds
    `52%`; a year also counts as stated by a passage's heading), the `question` does not either,
    and no sum, difference, product, ratio or percent change of the other figures the answer
    states gives them ("6.32 - 6.08 = 0.24" works one out). Such a figure is the model's own
    knowledge ("京唐城际铁路全长1000公里" from a passage naming the line only), which PlanQA never
    presents as an answer."""

    def written(figure: str) -> bool:
        number = split_figure(figure)[0]
        return bool(number) and any(
            next(_whole_numbers(number, _normalize_text(p)), None) for p in passages
        )

    unstated = [
        f
        for f in unstated_figures(figures, passages, headings)
        if not written(f) and not (question and figure_in_text(f, question))
    ]
    if not unstated:
        return []
    numbers = [
        float(split_figure(f)[0])
        for f in extract_figures(answer)
        if f not in unstated and split_figure(f)[0]
    ]
    derived = _derived(numbers) if numbers else set()
    invented = []
    for f in unstated:
        number = split_figure(f)[0]
        if not number:
            invented.append(f)
            continue
        # a worked-out figure is rounded to the places it is written with
        places = len(number.partition(".")[2])
        tolerance = 0.5 * 10**-places + 1e-9
        if not any(abs(float(number) - d) <= tolerance for d in derived):
            invented.append(f)
    return invented


def _missing_figures(
    figures: Sequence[str],
    cited: Sequence[int],
    passages: Sequence[str],
    headings: Sequence[str] = (),
) -> list[str]:
    """The figures no cited passage ([1] is passages[0]) states, headings counted for years."""
    return unstated_figures(
        figures,
        [passages[k - 1] for k in cited],
        [headings[k - 1] for k in cited] if headings else (),
    )


def _clause_of(figure: str, claim: str) -> str:
    for clause in re.split(r"[，,；;：:。！？!?]", claim):
        if figure in extract_figures(clause):
            return clause
    return claim


def _states(figure: str, claim: str, passage: str, threshold: float) -> bool:
    """Does `passage` state `figure` in the claim's sense: the figure, amid the claim's words?

    `3.9万个` in a passage about something else is no ground to cite that passage.
    """
    return figure_in_text(figure, passage) and (
        support_overlap(_clause_of(figure, claim), [passage]) >= threshold
    )


def _label_years(figures: Sequence[str]) -> tuple[list[str], list[str]]:
    """`figures` split into the ones that measure something and the bare years (`2024年`)."""
    years = [f for f in figures if _LABEL_YEAR.fullmatch(f)]
    return [f for f in figures if f not in years], years


def _recite_figures(
    claim: str,
    figures: list[str],
    cited: list[int],
    passages: Sequence[str],
    threshold: float,
    headings: Sequence[str] = (),
) -> list[int]:
    """Add the passages that hold the figures the cited ones lack; drop cited ones holding none."""
    missing = _missing_figures(figures, cited, passages, headings)
    added: list[int] = []
    while missing:
        holders = {
            k: sum(_states(f, claim, passages[k - 1], threshold) for f in missing)
            for k in range(1, len(passages) + 1)
            if k not in cited and k not in added
        }
        best = max(
            holders,
            key=lambda k: (holders[k], support_overlap(claim, [passages[k - 1]]), -k),
            default=None,
        )
        if best is None or holders[best] == 0:
            break  # never invent: a figure no passage states stays ungrounded
        added.append(best)
        missing = _missing_figures(missing, [best], passages, headings)
    if not added:
        return cited
    # A cited passage stays for a figure it holds; a year labelling the claim ("2024年：104家")
    # keeps it only when the claim states nothing else.
    measures = _label_years(figures)[0] or figures
    kept = [k for k in cited if any(figure_in_text(f, passages[k - 1]) for f in measures)]
    return kept + added


# A claim sharing this share of its character pairs with a passage was copied from it; one sharing
# less than `_LOOSELY` with the passages it cites was not copied from them.
_COPIED, _LOOSELY = 0.9, 0.6


def _recite_unsupported(
    claim: str, figures: list[str], cited: list[int], passages: Sequence[str], threshold: float
) -> list[int]:
    """A claim its passages do not say, but another passage does: cite that one instead.

    Small models often write a neighbouring number (`[1]` for `[3]`). Also a claim copied nearly
    word for word from a passage it does not cite ("一心即城市绿心森林公园。[1]", copied from [2]),
    which shares little with the ones it cites. Cited passages that hold one of the claim's
    figures stay.
    """
    support = support_overlap(claim, [passages[k - 1] for k in cited])
    others = [k for k in range(1, len(passages) + 1) if k not in cited]
    best = max(others, key=lambda k: support_overlap(claim, [passages[k - 1]]), default=None)
    if best is None:
        return cited
    elsewhere = support_overlap(claim, [passages[best - 1]])
    # Below the threshold, or copied nearly word for word from a passage it does not cite.
    copied = elsewhere >= _COPIED and support < _LOOSELY and len(_content(claim)) >= 6
    if (support >= threshold or elsewhere < threshold) and not copied:
        return cited
    kept = [k for k in cited if any(figure_in_text(f, passages[k - 1]) for f in figures)]
    return kept + [best]


def _cite_uncited(
    claim: str, figures: list[str], passages: Sequence[str], threshold: float
) -> list[int]:
    """The best passage for a claim that cites none: most of its figures, then most overlap."""
    # A year labelling the claim ("2024年：104家") counts after the figures it labels: a passage
    # on something else in 2024 is no source for 104家.
    measures, years = _label_years(figures)
    scored = [
        (
            sum(_states(f, claim, p, threshold) for f in measures),
            sum(_states(f, claim, p, threshold) for f in years),
            support_overlap(claim, [p]),
            -k,
        )
        for k, p in enumerate(passages, start=1)
    ]
    if not scored:
        return []
    n_measures, n_years, overlap, neg_k = max(scored)
    n_figs = n_measures + n_years
    if figures and n_figs == 0:
        return []  # its figures are nowhere: citing a passage would vouch for them
    if not figures and overlap < threshold:
        return []
    return [-neg_k]


# An answer of at most this many content characters is a bare answer ("张家口", "密云区", "75%"):
# too short for its words to pick the passage it comes from.
_BARE_ANSWER_CHARS = 12


def _cite_bare_answer(
    answer: str, question: str, passages: Sequence[str], threshold: float
) -> list[int]:
    """The passage a bare answer comes from: one holding all of it (its figures, or its words),
    and of those the one sharing most of the question's words, if at least `threshold` of them."""
    claim = _claim_of(answer)
    content = _content(claim)
    if not content or len(content) > _BARE_ANSWER_CHARS:
        return []
    figures = extract_figures(claim)
    holders = [
        k
        for k, p in enumerate(passages, start=1)
        if (all(figure_in_text(f, p) for f in figures) if figures else content in _content(p))
    ]
    overlap = {k: support_overlap(question, [passages[k - 1]]) for k in holders}
    best = max(holders, key=lambda k: (overlap[k], -k), default=None)
    return [best] if best is not None and overlap[best] >= threshold else []


# A stretch of an answer sentence and the markers that close it: "30处[1]" and "，77公里[2]" in
# "30处[1]，77公里[2]".
_SEGMENT = re.compile(r"([^\[\]]*?)((?:\[\d+\])+)")


def _states_all(figures: Sequence[str], passage: str) -> bool:
    return all(figure_in_text(f, passage) for f in figures)


def _recite_segments(sentence: AnswerSentence, passages: Sequence[str]) -> AnswerSentence:
    """Each stretch of a sentence citing its own passages ("30处[1]，77公里[2]"): a stretch whose
    figures its markers' passages do not state, while one passage the sentence cites elsewhere
    states them all, cites that one instead ("30处[1]，77公里[1]"). The sentence-level checks
    count a figure as grounded when any of the sentence's passages holds it; this makes the
    marker next to it point to that passage."""
    if len(sentence.cited) < 2:
        return sentence
    pieces: list[str] = []
    end = 0
    for m in _SEGMENT.finditer(sentence.text):
        pieces.append(sentence.text[end : m.start()])
        end = m.end()
        own = [int(n) for n in _CANON_MARKER.findall(m.group(2))]
        figures = extract_figures(strip_markers(m.group(1)))
        holders = [k for k in sentence.cited if _states_all(figures, passages[k - 1])]
        holder = next((k for k in holders if k not in own), None)
        if figures and holder is not None and not any(k in holders for k in own):
            pieces.append(f"{m.group(1)}[{holder}]")
        else:
            pieces.append(m.group(0))
    pieces.append(sentence.text[end:])
    text = "".join(pieces)
    if text == sentence.text:
        return sentence
    cited = tuple(dict.fromkeys(int(n) for n in _CANON_MARKER.findall(text)))
    return replace(sentence, text=text, cited=cited)


def _recite_bare(
    claim: str, cited: Sequence[int], passages: Sequence[str], question: str
) -> list[int]:
    """A short claim without figures ("台湖镇[2]", too short to be checked as a claim) whose cited
    passages do not hold it: the passage that does (of several, the one sharing most of the
    question's words). Unchanged when a cited passage holds it or none does."""
    content = _content(claim)
    if not content or any(content in _content(passages[k - 1]) for k in cited):
        return list(cited)
    holders = [k for k, p in enumerate(passages, start=1) if content in _content(p)]
    if not holders:
        return list(cited)
    return [max(holders, key=lambda k: (support_overlap(question, [passages[k - 1]]), -k))]


def _with_markers(sentence: str, cited: Sequence[int]) -> str:
    """`sentence` with its markers replaced by `cited`, where its first marker was (else at its end)."""
    first = _CANON_MARKER.search(sentence)
    bare = _CANON_MARKER.sub("", sentence)
    if first:
        pos = len(_CANON_MARKER.sub("", sentence[: first.start()]))
    elif re.search(rf"[{_SENTENCE_END}][{_CLOSERS}]+\s*$", bare):
        pos = len(bare.rstrip())  # after a closed quote: `“…。”[1]`
    else:
        # Before the end punctuation, the way the prompt asks: `…44.9%[1]。`
        end = re.search(rf"[{_SENTENCE_END}]*\s*$", bare)
        pos = end.start() if end else len(bare)
    return bare[:pos] + "".join(f"[{k}]" for k in cited) + bare[pos:]


def verify_answer(
    answer: str,
    passages: Sequence[str],
    *,
    support_threshold: float = 0.3,
    question: str = "",
    headings: Sequence[str] = (),
) -> Verification:
    """Repair an answer's citations against `passages` ([1] is passages[0]) and check it.

    Repairs:
    - markers are normalised to `[n]`; those naming no passage are removed;
    - a figure its sentence's passages lack, stated by another passage amid the claim's words
      → that passage is cited (and a cited one holding none of the sentence's figures dropped);
    - a claim its passages do not support, which another passage does → that one is cited;
    - a stretch of a sentence whose figures its own markers' passages lack, while another
      passage the sentence cites states them ("30处[1]，77公里[2]") → that passage;
    - a short claim without figures cited to a passage that does not hold it ("台湖镇[2]") →
      the passage that does;
    - a claim with no marker → the passage that best holds its figures (a year labelling the
      claim counting last), else its terms;
    - a bare answer with no marker ("张家口", "400家"), given the `question` → the passage that
      holds it and most of the question's words (`_cite_bare_answer`).
    Never invents: a figure no passage states stays in `ungrounded_figures`, uncited. A year
    (`2023年`) is also stated by a cited passage whose heading states it: `headings`, one per
    passage (its report title and section), when given.
    A sentence is unsupported when under `support_threshold` of its content character bigrams
    appear in the passages it cites. The 0.3 default is provisional: the caller calibrates it
    on the eval set.
    An empty answer is neither refused nor grounded, with text "" (the caller picks a fallback).
    """
    if not 0.0 <= support_threshold <= 1.0:
        raise ValueError(f"support_threshold must be within [0, 1], got {support_threshold}")
    if headings and len(headings) != len(passages):
        raise ValueError(f"{len(headings)} headings for {len(passages)} passages")
    given = answer.strip()
    if not given:
        return Verification(
            text="",
            refused=False,
            invalid_markers=(),
            cited=(),
            ungrounded_figures=(),
            unsupported_sentences=(),
            repaired=False,
            grounded=False,
        )
    if is_refusal(given):
        return Verification(
            text=REFUSAL,
            refused=True,
            invalid_markers=(),
            cited=(),
            ungrounded_figures=(),
            unsupported_sentences=(),
            repaired=given != REFUSAL,
            grounded=False,
        )

    parsed = parse_citations(given, len(passages))
    pieces: list[str] = []
    ungrounded: list[str] = []
    unsupported: list[str] = []
    cursor = 0
    for given_sentence in parsed.sentences:
        pieces.append(parsed.text[cursor : given_sentence.start])
        cursor = given_sentence.end
        sentence = _recite_segments(given_sentence, passages)
        claim = sentence.claim
        figures = extract_figures(claim)
        if not _is_claim(claim, figures):
            bare = _recite_bare(claim, sentence.cited, passages, question) if sentence.cited else []
            changed = bool(bare) and bare != list(sentence.cited)
            pieces.append(_with_markers(sentence.text, bare) if changed else sentence.text)
            continue
        cited = list(sentence.cited)
        if cited:
            cited = _recite_figures(claim, figures, cited, passages, support_threshold, headings)
            cited = _recite_unsupported(claim, figures, cited, passages, support_threshold)
        else:
            cited = _cite_uncited(claim, figures, passages, support_threshold)
        pieces.append(
            sentence.text if cited == list(sentence.cited) else _with_markers(sentence.text, cited)
        )
        cited_texts = [passages[k - 1] for k in cited]
        for f in _missing_figures(figures, cited, passages, headings):
            if f not in ungrounded:
                ungrounded.append(f)
        if support_overlap(claim, cited_texts) < support_threshold:
            unsupported.append(claim)
    pieces.append(parsed.text[cursor:])
    text = "".join(pieces).strip()
    cited_all = tuple(sorted({int(n) for n in _CANON_MARKER.findall(text)}))
    if not cited_all and question and len(parsed.sentences) == 1:
        bare = _cite_bare_answer(text, question, passages, support_threshold)
        if bare:
            # The cited passage holds the whole answer: its figures and words are grounded.
            text = _with_markers(text, bare)
            cited_all = tuple(bare)
            ungrounded, unsupported = [], []
    return Verification(
        text=text,
        refused=False,
        invalid_markers=parsed.invalid_markers,
        cited=cited_all,
        ungrounded_figures=tuple(ungrounded),
        unsupported_sentences=tuple(unsupported),
        repaired=text != given,
        grounded=bool(cited_all) and not ungrounded and not unsupported,
    )


# ---------------------------------------------------------------- quotes


def find_quote(claim: str, passage: str) -> tuple[int, int]:
    """[start, end) of the passage sentence (or two adjacent ones) that best supports `claim`.

    A sentence holding more of the claim's figures wins, then the one sharing most content
    bigrams with it; a neighbour joins only when it adds a figure or a good share of bigrams.
    A passage of one sentence is returned whole; an empty passage gives (0, 0).
    """
    spans = split_sentences(passage)
    if not spans:
        return (0, 0)
    if len(spans) == 1:
        return (0, len(passage))
    claim = _claim_of(claim)
    figures = extract_figures(claim)
    mine = _bigrams(claim)

    def score(start: int, end: int) -> tuple[int, int]:
        span = passage[start:end]
        return (sum(figure_in_text(f, span) for f in figures), len(mine & _bigrams(span)))

    scores = [score(s, e) for s, e in spans]
    best = max(range(len(spans)), key=lambda i: (scores[i], -i))
    pairs = [
        ((spans[i][0], spans[i + 1][1]), score(spans[i][0], spans[i + 1][1]))
        for i in (best - 1, best)
        if 0 <= i and i + 1 < len(spans)
    ]
    if pairs:
        span, (figs, shared) = max(pairs, key=lambda pair: pair[1])
        # A neighbour joins for a figure the best sentence lacks, or a good share of bigrams.
        if figs > scores[best][0] or (
            figs == scores[best][0] and shared >= scores[best][1] + max(2, len(mine) // 5)
        ):
            return span
    return spans[best]


def derived_in(figure: str, text: str) -> bool:
    """Is `figure` the difference of two figures `text` states in its unit ("0.24" of
    "从上年的6.32降至6.08", "4.1个百分点" of "27.1%…23.0%")? The small model works a change out
    for "比上年怎么变化"; the report states only the two sides."""
    number, unit = split_figure(figure)
    if not number or unit.startswith(("年", "月", "日")):  # a date is stated, never worked out
        return False
    want = float(number)
    places = len(number.partition(".")[2])
    # the two sides in the figure's own unit ("个百分点" of two shares)
    sides = "%" if unit in ("个百分点", "百分点") else unit
    values = [
        float(value)
        for value, other_unit in map(split_figure, extract_figures(text))
        if value and other_unit == sides
    ]
    return any(
        round(abs(a - b), places) == want
        for i, a in enumerate(values)
        for b in values[i + 1 :]
    )
