"""Which reports a search may use (hard filters), which one a question names and which terms it
quotes (soft preferences)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from corpus.models import CatalogEntry, Chunk


@dataclass(frozen=True)
class ReportFilter:
    """Hard filter: a chunk passes when it matches every field that is set."""

    doc_ids: frozenset[str] | None = None
    years: frozenset[int] | None = None
    kinds: frozenset[str] | None = None

    @property
    def is_empty(self) -> bool:
        return self.doc_ids is None and self.years is None and self.kinds is None

    def accepts(self, chunk: Chunk) -> bool:
        if self.doc_ids is not None and chunk.doc_id not in self.doc_ids:
            return False
        if self.years is not None and chunk.year not in self.years:
            return False
        if self.kinds is not None and chunk.kind not in self.kinds:
            return False
        return True


def compact_text(text: str) -> str:
    """NFKC, no whitespace, lower case: for matching names and terms across the reports' line breaks."""
    return "".join(unicodedata.normalize("NFKC", text).split()).lower()


_YEAR_EDITION = re.compile(r"(20\d\d)\s*年\s*度")
_CHECKUP_WORDS = ("读本", "体检")


def named_reports(question: str, entries: Iterable[CatalogEntry]) -> frozenset[str]:
    """doc_ids of the reports a question names: "2023年度读本里…", "根据都市圈空间协同规划…".

    Matches the catalog's titles and aliases, and "<year>年度" against reports of that year.
    A plain year ("2023年末") names a time, not a report, so it is not used.
    """
    entries = list(entries)
    q = compact_text(question)
    named: set[str] = set()
    for entry in entries:
        # People name a report without its bracketed edition: "现代化首都都市圈空间协同规划".
        short_title = re.sub(r"[（(][^）)]*[）)]\s*$", "", entry.title)
        names = [entry.title, short_title, *entry.aliases]
        if any(len(compact_text(n)) >= 3 and compact_text(n) in q for n in names):
            named.add(entry.doc_id)
    for match in _YEAR_EDITION.finditer(q):
        year = int(match.group(1))
        same_year = [e for e in entries if e.year == year]
        checkups = [e for e in same_year if any(w in e.title for w in _CHECKUP_WORDS)]
        # "2023年度" alone most often means that year's annual report when there is one.
        for entry in checkups or same_year:
            named.add(entry.doc_id)
    return frozenset(named)


# A term a question quotes: “三区叠加”, "两个百分百", 「一院一策」. 《…》 names a report (above).
_QUOTED = re.compile(r"[“\"「『‘]([^“”\"「」『』‘’]{2,30})[”\"」』’]")
# Inside a quoted list ("一核、两区、三镇……一廊") each item is looked for on its own.
_QUOTE_BREAKS = re.compile(r"[、，,；;：:…]+|\.{3,}")


def quoted_phrases(question: str) -> list[str]:
    """What a question puts in quotation marks, in order, normalised as `compact_text` does."""
    return [compact_text(q) for q in _QUOTED.findall(unicodedata.normalize("NFKC", question))]


def quoted_terms(question: str) -> list[str]:
    """The terms a question puts in quotation marks, normalised as `compact_text` does, each list item
    of a quoted list on its own: what the passage that answers it most likely spells out."""
    terms: list[str] = []
    for quoted in quoted_phrases(question):
        for piece in _QUOTE_BREAKS.split(quoted):
            if len(piece) >= 2 and piece not in terms:
                terms.append(piece)
    return terms
