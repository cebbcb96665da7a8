"""Named facilities of a question (parks, airports, stations, schools…) that an answer's cited
passages never name.

"温榆河公园二期占地面积有多大？" answered with "384公顷" from "实施留白增绿384公顷…", "天津滨海国际机场
2023年的旅客吞吐量" with 天津港's "2200万标箱", "城市绿心森林公园面积" with 潮白河国家森林公园's 104平方公里:
the figure is real and cited, but the passage is about another thing, or about no thing at all. A
name the question gives a facility ("温榆河公园", "天津滨海国际机场") must be named in a cited passage:
its text, report title or section. People shorten names ("大兴机场" for 北京大兴国际机场), so a
name counts as named when its characters appear in order within a short stretch of the passage.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from corpus.cleaning import CJK, normalize_for_match
from retriever.tokenizer import ChineseTokenizer

# What a facility's name ends with: a word of its own ("森林公园", "机场", "校区").
_ENDINGS = frozenset(
    "公园 森林公园 湿地公园 郊野公园 国际机场 机场 火车站 高铁站 医院 大学 学院 校区 博物馆 美术馆 "
    "图书馆 剧院 大剧院 体育馆 体育场 水厂 供水厂 污水处理厂 再生水厂 变电站 电厂 检查站 码头 大桥 隧道 "
    "科技园 产业园 小镇 度假区 保护区 水库 高速 高速公路 快速路".split()
)
# The words before the ending that make its name: nouns, place and person names, distinguishing
# words ("大兴" of 大兴机场), abbreviations, the reports' own terms (untagged: "城市绿心"). A
# particle, verb, number or direction ends the name.
_NAME_TAGS = ("n", "b", "j", "x")
# Words that say which of all, not which one ("整个校区", "北京全市公园").
_NOT_NAMES = frozenset("整个 全市 全区 全国 这个 那个 各个 每个 所有".split())
# Names that say what kind of place, not which one.
_KINDS = frozenset("城市 社区 口袋 街心 乡村 小微 综合 国家 国际 大型 主要 重点 市级 区级 区域".split())
_CJK_WORD = re.compile(f"[{CJK}]+")
# How far past a name's length its characters may spread in a passage ("大兴机场" in "大兴国际机场").
_SPREAD = 4


def facility_names(question: str, tokenizer: ChineseTokenizer) -> list[str]:
    """The named facilities of `question`: "温榆河公园", "天津滨海国际机场", "城市绿心森林公园". A
    place's name alone before the ending ("通州医院", "北京公园") says where, not which one."""
    words = tokenizer.tagged_words(question)
    places = set(tokenizer.place_names(question))
    names = []
    for i, (word, _) in enumerate(words):
        if word not in _ENDINGS:
            continue
        head: list[str] = []
        for before, tag in reversed(words[:i]):
            if (
                not tag.startswith(_NAME_TAGS)
                or not _CJK_WORD.fullmatch(before)
                or before in _NOT_NAMES
                or before.endswith(tuple(_ENDINGS))  # another name ends there
            ):
                break
            head.insert(0, before)
        while head and head[0] in _KINDS:
            head.pop(0)
        own = [w for w in head if w not in _KINDS]
        if len("".join(head)) < 2 or not own or (len(own) == 1 and own[0] in places):
            continue
        names.append("".join(head) + word)
    return list(dict.fromkeys(names))


def names_in(name: str, text: str) -> bool:
    """Is `name` in `text`, whole or with its characters in order within a short stretch?"""
    name, text = normalize_for_match(name), normalize_for_match(text)
    if not name or name in text:
        return bool(name)
    pattern = re.compile(f".{{0,{_SPREAD}}}?".join(map(re.escape, name)))
    for start in (m.start() for m in re.finditer(re.escape(name[0]), text)):
        found = pattern.match(text, start)
        if found and found.end() - start <= len(name) + _SPREAD:
            return True
    return False


def unnamed_facilities(
    question: str, cited: Sequence[str], tokenizer: ChineseTokenizer
) -> list[str]:
    """The named facilities of `question` that none of the `cited` texts (a passage with its
    report title and section, each) names."""
    return [
        n for n in facility_names(question, tokenizer) if not any(names_in(n, t) for t in cited)
    ]
