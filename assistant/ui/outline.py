"""A report rebuilt from its indexed chunks, section by section, for the report viewer."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from corpus.models import Chunk


@dataclass
class Section:
    path: tuple[str, ...]
    text: str = ""
    # (chunk_id, start, end) of each chunk inside `text`
    spans: list[tuple[str, int, int]] = field(default_factory=list)
    line_start: int = 0
    line_end: int = 0

    @property
    def label(self) -> str:
        return " > ".join(self.path) if self.path else "（正文）"


def sections_of(chunks: Iterable[Chunk]) -> list[Section]:
    """Consecutive chunks with the same heading path form one section; overlapping chunk text
    (the one-sentence overlap) is written once, so the section reads as the cleaned report."""
    sections: list[Section] = []
    last_end = -1
    for chunk in sorted(chunks, key=lambda c: (c.position, c.char_start)):
        if not sections or sections[-1].path != chunk.section:
            sections.append(Section(chunk.section, line_start=chunk.line_start))
            last_end = -1
        sec = sections[-1]
        if last_end >= 0 and chunk.char_start < last_end:
            overlap = min(last_end - chunk.char_start, len(chunk.text))
            start = len(sec.text) - overlap
            sec.text += chunk.text[overlap:]
        else:
            if sec.text:
                sec.text += "\n"
            start = len(sec.text)
            sec.text += chunk.text
        sec.spans.append((chunk.chunk_id, start, start + len(chunk.text)))
        sec.line_end = max(sec.line_end, chunk.line_end)
        last_end = max(last_end, chunk.char_end)
    return sections


def find_chunk(sections: list[Section], chunk_id: str) -> tuple[int, tuple[int, int]] | None:
    """(section index, span in its text) of a chunk, or None."""
    for i, sec in enumerate(sections):
        for cid, start, end in sec.spans:
            if cid == chunk_id:
                return i, (start, end)
    return None
