"""Five-year plan periods (十三五, 十四五, 十五五): which one a question asks about, and which one
a cited sentence reports on.

The 十五五 plan of the sub-centre reviews the 十四五 period first: its chapter "城市副中心高质量
发展步伐加快" opens with "“十四五”时期，…" and every sentence under it ("轨道交通总里程较2020年增加
10.89公里") is about 十四五 without naming it. A question about 十三五 answered with such a
sentence states a real, cited figure of another period. A sentence's period is the one it (or
the sentence beside it) names; else the one its section, or a section above it, opens with; else
the one its report's title names ("第十五个五年规划纲要"); else none, and nothing is checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from corpus.models import Chunk

# "十四五", "“十四五”", "第十四个五年": one period each (十一五 … 十九五).
_PERIOD = re.compile(r"十([一二三四五六七八九])五|第十([一二三四五六七八九])个五年")
# A section whose first sentence starts with its period sets it for the whole section:
# "“十四五”时期，党中央、国务院…"; a period named later in that sentence does not.
_OPENS_WITH = re.compile(
    r"^\s*[“\"]?(?:十[一二三四五六七八九]五|第十[一二三四五六七八九]个五年)[”\"]?(?:规划)?(?:时期|期间)"
)
# A document's name says which plan a document belongs to, not what a sentence reports on:
# "落实《北京市“十四五”时期重大基础设施发展规划》".
DOCUMENT_NAME = re.compile(r"《[^《》]*》")


def plan_periods(text: str) -> frozenset[str]:
    """The plan periods `text` names, as "十X五", outside document names."""
    named = _PERIOD.findall(DOCUMENT_NAME.sub(" ", text))
    return frozenset(f"十{a or b}五" for a, b in named)


class SectionPeriods:
    """The period each section of the reports opens with, read from the index's chunks: a
    section's first chunk whose first sentence starts with a period ("“十四五”时期，…")."""

    def __init__(self, chunks: Iterable[Chunk]) -> None:
        first: dict[tuple[str, tuple[str, ...]], Chunk] = {}
        for chunk in chunks:
            key = (chunk.doc_id, tuple(chunk.section))
            if key not in first or chunk.position < first[key].position:
                first[key] = chunk
        self._opens: dict[tuple[str, tuple[str, ...]], frozenset[str]] = {}
        for key, chunk in first.items():
            if _OPENS_WITH.match(chunk.text):
                self._opens[key] = plan_periods(re.split(r"[，,。]", chunk.text, maxsplit=1)[0])

    def __len__(self) -> int:
        return len(self._opens)

    def of(self, chunk: Chunk, window: str) -> frozenset[str]:
        """The period `window` (a stretch of `chunk`'s text) reports on: the one it names, else
        the one its section or the nearest section above opens with, else its title's."""
        named = plan_periods(window)
        if named:
            return named
        section = tuple(chunk.section)
        for depth in range(len(section), 0, -1):
            opens = self._opens.get((chunk.doc_id, section[:depth]))
            if opens:
                return opens
        return plan_periods(chunk.title)


def other_period(
    question: str, cited: Sequence[tuple[Chunk, str]], periods: SectionPeriods
) -> tuple[frozenset[str], frozenset[str]]:
    """(the periods a question asks about, the periods its cited sentences report on) when the
    two do not meet: every cited window reports on a known period and none is one asked about.
    (empty, empty) otherwise, and when the question names no period or nothing is cited.
    `cited`: each citation's chunk and the window of its text around the quote."""
    asked = plan_periods(question)
    if not asked or not cited:
        return frozenset(), frozenset()
    told = [periods.of(chunk, window) for chunk, window in cited]
    if all(t and not t & asked for t in told):
        return asked, frozenset().union(*told)
    return frozenset(), frozenset()
