"""A question asking for names answered with part of the sentence that holds them.

The small model answers "“一主”指什么？" with "容城、安新两县交界区域" from the sentence "“一主”即起步区，
为容城、安新两县交界区域，…", and "拿了C40的什么奖？" with "C40的城市气候领导联盟" from "…获2025年城市
气候领导联盟（C40）“地方气候领袖”奖": the answer is drawn from the right sentence and stops short of
what it was asked. A list question's answer may stop short of an enumeration too ("哪些试点"
answered with one of three); a question asking for one thing ("哪个港") is not answered short by
leaving out the others of its sentence. `left_out` finds the sentence an answer was drawn from
and what that sentence names that the answer does not; the chain then adds the sentence as a
quote with its citation, so the reader sees the whole of it. An answer not drawn from one
sentence of the passages it cites (its own words, or another thing's names) gets nothing added:
a quote must not stand beside an answer it contradicts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from assistant.answer_fit import asks_quantity, asks_when
from assistant.grounding import strip_markers
from corpus.sentences import split_sentences

# A question asking for names: things, places, a definition ("哪些", "哪几个", "是什么", "指什么",
# "在哪儿", "包括…").
_ASKS_NAMES = re.compile(r"哪些|哪几|哪[个座条项所家处儿里]|有哪|是哪|什么|啥|指的?是|包括|分别是(?!多)")
# A question asking for several: an enumeration's other items are part of its answer. Asked for
# one ("哪个港", "什么奖"), the others are not.
_ASKS_LIST = re.compile(r"哪些|哪几|有哪|包括|分别|都有|各有|几个|几条|几座|几项")
# What says "what" while asking a quantity too ("一共建几个？分别在哪儿？" asks both).
_ASKS_WHAT = re.compile(r"哪|什么|啥")
# What a sentence names: a quoted term, the items of an enumeration, what "即" defines.
_QUOTED = re.compile(r"“([^”]{2,30})”")
_ITEM = r"[^，。；：、“”（）()\s]{2,20}"
_ENUMERATION = re.compile(rf"{_ITEM}(?:、{_ITEM})+(?:(?:以及|和|及|与){_ITEM})?")
_ITEM_SPLIT = re.compile(r"、|以及|和|及|与")
# What leads into an enumeration's first item ("即雄县、容城…", "为容城、安新…").
_LEAD = re.compile(r"^(?:即|为|是|包括|有)")
_DEFINED = re.compile(r"即([^，。；：]{2,20})")
# A clause: up to a comma, semicolon or sentence end (an enumeration's 、 stays inside).
_CLAUSE = re.compile(r"[^，,；;。！？]+[，,；;。！？]?")
# Characters that carry no content in a bigram: punctuation, digits, markers, spaces.
_NOT_CONTENT = re.compile(r"[\s，。、；：！？“”‘’（）()《》〈〉\[\]【】0-9.%％+·—-]")
# Part of an answer's bigrams the source sentence must hold, for the answer to be drawn from it.
DRAWN_FROM = 0.7


@dataclass(frozen=True)
class Source:
    """The sentence of cited passage `n` (its [start, end) span there) that an answer is drawn
    from, and what it names that neither the answer nor the question does."""

    n: int
    start: int
    end: int
    left_out: tuple[str, ...]


def asks_names(question: str) -> bool:
    """Does the question ask for names (a list, a definition, a thing), not a time or a count?"""
    if not _ASKS_NAMES.search(question) or asks_when(question):
        return False
    return not asks_quantity(question) or bool(_ASKS_WHAT.search(question))


def _bigrams(text: str) -> set[str]:
    text = _NOT_CONTENT.sub("", text)
    return {text[i : i + 2] for i in range(len(text) - 1)}


def _compact(text: str) -> str:
    return re.sub(r"\s+", "", text)


def asks_list(question: str) -> bool:
    """Does the question ask for several names ("哪些", "哪几个", "包括", "分别")?"""
    return bool(_ASKS_LIST.search(question))


def named_in(sentence: str, items: bool = True) -> list[str]:
    """What `sentence` names: its quoted terms, what "即" defines and (`items`) the items of its
    enumerations."""
    names = [m.group(1) for m in _QUOTED.finditer(sentence)]
    names += [m.group(1) for m in _DEFINED.finditer(sentence)]
    if items:
        for m in _ENUMERATION.finditer(sentence):
            listed = (_LEAD.sub("", item) for item in _ITEM_SPLIT.split(m.group(0)))
            names += [item for item in listed if len(item) >= 2]
    return list(dict.fromkeys(names))


def _around(sentence: str, own: set[str]) -> str:
    """The clause of `sentence` holding most of an answer's bigrams (`own`), with the clause
    before and after it: what the answer stops short of is beside it, not a clause away
    ("“一主”即起步区，为容城、安新两县交界区域" for "容城、安新两县交界区域")."""
    clauses = _CLAUSE.findall(sentence)
    if len(clauses) <= 3:
        return sentence
    best = max(range(len(clauses)), key=lambda i: len(own & _bigrams(clauses[i])))
    return "".join(clauses[max(0, best - 1) : best + 2])


def left_out(question: str, answer: str, cited: Mapping[int, str]) -> Source | None:
    """The sentence of the `cited` passages ({n: text}) that `answer` is drawn from, when it names
    something the answer and the question do not; None when the question does not ask for names,
    the answer already quotes the report, is drawn from no one sentence, or leaves nothing out."""
    if not asks_names(question):
        return None
    text = strip_markers(answer)
    if "据报告" in text or ("“" in text and "”[" in answer):
        return None
    own = _bigrams(text) - _bigrams(question)
    if len(own) < 2:
        return None
    best: tuple[float, int, int, int] | None = None
    for n, passage in cited.items():
        for start, end in split_sentences(passage):
            share = len(own & _bigrams(passage[start:end])) / len(own)
            if best is None or share > best[0]:
                best = (share, n, start, end)
    if best is None or best[0] < DRAWN_FROM:
        return None
    _, n, start, end = best
    said = _compact(text) + _compact(question)
    missing = tuple(
        name
        for name in named_in(_around(cited[n][start:end], own), items=asks_list(question))
        if _compact(name) not in said
    )
    return Source(n, start, end, missing) if missing else None
