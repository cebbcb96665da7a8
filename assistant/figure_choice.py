"""Did the model take its figure from the right clause? A check made after generation.

A passage often states several figures of one kind side by side: "新扩建220千伏变电站4座、110千伏
变电站17座", "全长约81.8公里，设车站22座。其中，通州段长约15.6公里", "155平方公里……130万人以内；
加上……906平方公里……200万—205万人以内". The 1.5B model often answers with the first of them, whatever
the question's qualifier ("110千伏", "通州段", "155平方公里"). When another clause of the same line
states a figure of the same kind and holds clearly more of the question's words than the clause of
the answer's figure, the answer cannot be trusted to have picked right; the chain then quotes the
report's sentences instead, the better-matching one first and the model's own after it, so the
reader sees both figures in their words (`AnswerChain.ask`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from assistant.grounding import extract_figures, figure_in_text, split_figure
from corpus.cleaning import normalize_for_match
from corpus.sentences import SENTENCE_END, split_sentences

# Clauses: a figure's own words, between commas, enumeration commas, colons and sentence ends.
_CLAUSE = re.compile(rf"[^，、：,:\t\n{SENTENCE_END}]+")
_SENTENCE_END = re.compile(f"[{SENTENCE_END}]")
_YEAR = re.compile(r"(?:19|20)\d\d年?度?")
_MAGNITUDE = re.compile(r"^(?:万|亿)+")
# At most this many figures in an answer: more is a list, whose figures are each the answer.
MAX_FIGURES = 3
# A question asking for a running total ("一共引进了多少家"), and the words that mark one in a
# clause ("引入市级优质教育资源5家、累计达到20家"): the total's clause answers it, however few of the
# question's other words it repeats.
_ASKS_TOTAL = re.compile(r"一共|总共|共计|累计|总计|合计|加起来")
_STATES_TOTAL = re.compile(r"累计|合计|总计|共计")
# How much more of the question (IDF weight) the other clause must hold. One word shared by
# most passages (通州, idf ~0.7) is enough; an answer's own clause holding as much keeps it.
MARGIN = 0.5


@dataclass(frozen=True)
class BetterClause:
    """A figure of the answer, and a figure of the same kind whose clause fits the question
    better, with the sentences (passage number, [start, end)) that state each."""

    figure: str
    better: str
    n: int
    figure_sentence: tuple[int, int]
    better_sentence: tuple[int, int]


def _kind(figure: str) -> str:
    return _MAGNITUDE.sub("", split_figure(figure)[1])


def _weight(terms: Mapping[str, float], text: str, figure: str) -> float:
    """The weight of `terms` in `text`, the words of the clause stating `figure`. A figure of the
    question counts where `text` states it apart from `figure` itself: "22号线"'s 22 is not in
    "设车站22座"."""
    plain = normalize_for_match(text)
    own = split_figure(figure)[0]
    numbers = re.sub(rf"(?<![\d.]){re.escape(own)}(?![\d.])", " ", text)
    total = 0.0
    for term, w in terms.items():
        if term[0].isdigit():
            number, unit = split_figure(term)
            held = (
                figure_in_text(term, numbers)
                if unit
                else re.search(rf"(?<![\d.]){re.escape(number)}(?![\d.])", numbers)
            )
        else:
            held = normalize_for_match(term) in plain
        total += w if held else 0.0
    return total


def question_terms(
    question: str, words: Sequence[str], idf: Mapping[str, float], figure_weight: float
) -> dict[str, float]:
    """The question's words of two characters or more (not years or bare numbers) with their
    IDF, and its own figures other than years with `figure_weight`: a figure of the question
    ("155平方公里范围内", "110千伏") names its subject as exactly as the rarest word."""
    terms = {
        w: idf.get(w, 0.0)
        for w in dict.fromkeys(words)
        if len(w) >= 2 and not _YEAR.fullmatch(w) and not re.fullmatch(r"\d+(?:\.\d+)?", w)
    }
    for figure in extract_figures(question):
        if not _YEAR.fullmatch(figure):
            terms[figure] = figure_weight
    return terms


def better_clauses(
    question: str,
    figures: Sequence[str],
    passages: Mapping[int, str],
    terms: Mapping[str, float],
) -> list[BetterClause]:
    """For each of the answer's `figures` (years left out) in the cited `passages` (number ->
    text), the first line stating it: a same-kind figure in another clause of that line that the
    question does not state, whose clause (with the clause before it in the same sentence, unless
    that one states a figure of the same kind) holds more than `MARGIN` more of `terms`."""
    figures = [f for f in figures if not _YEAR.fullmatch(f)]
    if not figures or len(figures) > MAX_FIGURES:
        return []
    found: list[BetterClause] = []
    for figure in figures:
        kind = _kind(figure)
        if not kind:
            continue
        for n, passage in passages.items():
            line = _line_with(figure, passage)
            if line is None:
                continue
            better = _better_in_line(question, figure, kind, figures, n, passage, line, terms)
            if better is not None:
                found.append(better)
            break
    return found


def figure_sentences(
    figures: Sequence[str], passages: Mapping[int, str]
) -> list[tuple[int, tuple[int, int]]]:
    """The sentence (passage number, [start, end)) of the first clause of `passages` stating
    each of `figures` (years left out), in the answer's order, each once."""
    spans: dict[tuple[int, tuple[int, int]], None] = {}
    for figure in figures:
        if _YEAR.fullmatch(figure):
            continue
        for n, passage in passages.items():
            line = _line_with(figure, passage)
            clause = None if line is None else _clause_with(figure, passage, line)
            if clause is not None:
                spans[(n, _sentence_at(passage, clause))] = None
                break
    return list(spans)


def _clause_with(figure: str, passage: str, line: tuple[int, int]) -> int | None:
    """Where the first clause of `line` stating `figure` starts."""
    return next(
        (
            m.start()
            for m in _CLAUSE.finditer(passage, line[0], line[1])
            if figure_in_text(figure, m.group(0))
        ),
        None,
    )


def _line_with(figure: str, passage: str) -> tuple[int, int] | None:
    for m in re.finditer(r"[^\n]+", passage):
        if figure_in_text(figure, m.group(0)):
            return m.start(), m.end()
    return None


def _better_in_line(
    question: str,
    figure: str,
    kind: str,
    figures: Sequence[str],
    n: int,
    passage: str,
    line: tuple[int, int],
    terms: Mapping[str, float],
) -> BetterClause | None:
    clauses = [(m.start(), m.end()) for m in _CLAUSE.finditer(passage, line[0], line[1])]

    def words(i: int) -> str:
        """Clause i's words, with the clause before it in the same sentence unless that one
        states a figure of the same kind: "规划范围面积约155平方公里，到2035年……130万人以内" (the
        first clause names what the second counts), but "…220千伏变电站4座、110千伏变电站17座".
        A clause opening with a total ("、累计达到20家") counts what the one before it does."""
        start, end = clauses[i]
        if i:
            p_start, p_end = clauses[i - 1]
            before = passage[p_start:p_end]
            if not _SENTENCE_END.search(passage[p_end:start]) and (
                _STATES_TOTAL.match(passage[start:end].lstrip())
                or not any(_kind(g) == kind for g in extract_figures(before))
            ):
                return before + " " + passage[start:end]
            subject = _enumerated_subject(i)
            if subject:
                return subject + " " + passage[start:end]
        return passage[start:end]

    def _enumerated_subject(i: int) -> str:
        """For a clause enumerated after others of its kind ("老楼加装电梯新开工1099部、完工822部"),
        the words before the first one's figure, which name what all of them count."""
        j = i
        while j and passage[clauses[j - 1][1] : clauses[j][0]] == "、":
            if not any(_kind(g) == kind for g in extract_figures(passage[slice(*clauses[j - 1])])):
                break
            j -= 1
        if j == i:
            return ""
        first = passage[slice(*clauses[j])]
        numbers = [split_figure(g)[0] for g in extract_figures(first) if _kind(g) == kind]
        at = min((first.find(x) for x in numbers if x in first), default=-1)
        return first[:at] if at > 0 else ""

    own = [i for i, (s, e) in enumerate(clauses) if figure_in_text(figure, passage[s:e])]
    if not own:
        return None
    answered = {
        i
        for i, (s, e) in enumerate(clauses)
        if any(figure_in_text(f, passage[s:e]) for f in figures)
    }
    fit = max(_weight(terms, words(i), figure) for i in own)
    best: tuple[float, str, int] | None = None
    for i, (s, e) in enumerate(clauses):
        if i in answered:
            continue
        for other in extract_figures(passage[s:e]):
            if _kind(other) != kind or _YEAR.fullmatch(other) or figure_in_text(other, question):
                continue
            score = _weight(terms, words(i), other)
            if score > fit + MARGIN and (best is None or score > best[0]):
                best = (score, other, i)
    if best is None:
        best = _total_clause(question, passage, clauses, own, answered, kind, fit)
    if best is None:
        return None
    return BetterClause(
        figure,
        best[1],
        n,
        _sentence_at(passage, clauses[own[0]][0]),
        _sentence_at(passage, clauses[best[2]][0]),
    )


def _total_clause(
    question: str,
    passage: str,
    clauses: Sequence[tuple[int, int]],
    own: Sequence[int],
    answered: set[int],
    kind: str,
    fit: float,
) -> tuple[float, str, int] | None:
    """For a question asking a total ("一共", "累计") answered from a clause that states none,
    the clause right after it in the same sentence when that one states a total of the same kind
    (`_STATES_TOTAL`): the running total of what the answer's clause counts ("引入市级优质教育资源
    5家、累计达到20家"). A total elsewhere in the line is of something else."""
    if not _ASKS_TOTAL.search(question) or any(
        _STATES_TOTAL.search(passage[clauses[i][0] : clauses[i][1]]) for i in own
    ):
        return None
    after = [
        i + 1
        for i in own
        if i + 1 < len(clauses) and not _SENTENCE_END.search(passage[clauses[i][1] : clauses[i + 1][0]])
    ]
    return next(
        (
            (fit, other, i)
            for i in after
            if i not in answered and _STATES_TOTAL.search(passage[clauses[i][0] : clauses[i][1]])
            for other in extract_figures(passage[clauses[i][0] : clauses[i][1]])
            if _kind(other) == kind and not _YEAR.fullmatch(other) and not figure_in_text(other, question)
        ),
        None,
    )


def _sentence_at(passage: str, offset: int) -> tuple[int, int]:
    for start, end in split_sentences(passage):
        if start <= offset < end:
            return start, end
    return offset, offset


def figure_clauses(figure: str, passage: str) -> list[str]:
    """The clauses of `passage` stating `figure`, each with the clause before it in the same
    sentence (which often names what the figure counts: "铁路营业里程超1.1万公里。其中高铁总里程达到
    2624公里" gives "其中高铁总里程达到2624公里")."""
    clauses = [(m.start(), m.end()) for m in _CLAUSE.finditer(passage)]
    found = []
    for i, (start, end) in enumerate(clauses):
        if not figure_in_text(figure, passage[start:end]):
            continue
        if i and not _SENTENCE_END.search(passage[clauses[i - 1][1] : start]):
            start = clauses[i - 1][0]
        found.append(passage[start:end])
    return found
