"""The corpus layer's vocabulary: catalog entries, cleaned reports and chunks."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CatalogEntry:
    """What a user sees about one report: every citation label comes from here."""

    doc_id: str  # short, stable, user-facing id, e.g. "checkup-2024"
    file: str  # file name inside the corpus directory
    title: str  # full title without 《》
    issuer: str = ""
    period: str = ""  # "2024", "2023—2035", ...
    year: int | None = None  # the reporting year / start year, used by filters
    kind: str = ""  # "checkup-report", "regional-plan", "five-year-plan", "background"
    aliases: tuple[str, ...] = ()  # short names people use for it ("2023年度读本", "都市圈规划")
    # The name the model reads in its prompt (a long title costs ~25 prompt tokens a passage)
    short_title: str = ""

    @property
    def label(self) -> str:
        return f"《{self.title}》"

    @property
    def prompt_label(self) -> str:
        return f"《{self.short_title or self.title}》"


@dataclass(frozen=True)
class Report:
    """One source document after reading and cleaning.

    `line_map[i]` is the 1-based line number in the source file of `text[i]`.
    """

    entry: CatalogEntry
    source_path: str
    sha256: str
    text: str
    line_map: tuple[int, ...] = field(repr=False)

    def source_lines(self, start: int, end: int) -> tuple[int, int]:
        """Source line span (inclusive) of cleaned characters [start, end)."""
        if not self.line_map:
            return (0, 0)
        start = max(0, min(start, len(self.line_map) - 1))
        end = max(start + 1, min(end, len(self.line_map)))
        return (self.line_map[start], self.line_map[end - 1])


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage of one report."""

    chunk_id: str  # f"{doc_id}:{position:04d}:{sha1(text)[:8]}"
    doc_id: str
    title: str
    section: tuple[str, ...]  # heading path, outermost first
    text: str  # cleaned report text, exactly text[char_start:char_end] of the report
    char_start: int
    char_end: int
    line_start: int  # 1-based, inclusive, in the source file
    line_end: int
    position: int  # 0-based order of the chunk within its report
    year: int | None = None
    kind: str = ""

    @property
    def section_label(self) -> str:
        return " > ".join(self.section)

    @property
    def label(self) -> str:
        return f"《{self.title}》"

    def to_dict(self) -> dict:
        return {
            "chunk_id": self.chunk_id,
            "doc_id": self.doc_id,
            "title": self.title,
            "section": list(self.section),
            "text": self.text,
            "char_start": self.char_start,
            "char_end": self.char_end,
            "line_start": self.line_start,
            "line_end": self.line_end,
            "position": self.position,
            "year": self.year,
            "kind": self.kind,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Chunk:
        return cls(
            chunk_id=str(data["chunk_id"]),
            doc_id=str(data["doc_id"]),
            title=str(data["title"]),
            section=tuple(data.get("section") or ()),
            text=str(data["text"]),
            char_start=int(data["char_start"]),
            char_end=int(data["char_end"]),
            line_start=int(data["line_start"]),
            line_end=int(data["line_end"]),
            position=int(data["position"]),
            year=data.get("year"),
            kind=str(data.get("kind", "")),
        )
