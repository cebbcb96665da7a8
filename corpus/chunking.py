"""Structure-aware chunking: whole sentences packed within sections, tables kept whole."""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass

from corpus.cleaning import MAX_HEADING_CHARS, is_table_row
from corpus.models import Chunk, Report
from corpus.sentences import trimmed_span

_SENTENCE_ENDERS = "。！？；!?;"
_CLOSERS = "”’」』）)】》\"'"
_CN_NUM = "一二三四五六七八九十百零〇两"
UNMARKED_HEADING_LEVEL = 7


@dataclass(frozen=True)
class ChunkerSettings:
    """How big chunks are and how much neighbours share."""

    max_chars: int = 400
    min_chars: int = 80
    overlap_sentences: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.max_chars, int) or self.max_chars < 20:
            raise ValueError(f"max_chars must be an integer >= 20, got {self.max_chars!r}")
        if not isinstance(self.min_chars, int) or not 0 <= self.min_chars < self.max_chars:
            raise ValueError(
                f"min_chars must be an integer in [0, max_chars={self.max_chars}), got {self.min_chars!r}"
            )
        if not isinstance(self.overlap_sentences, int) or self.overlap_sentences < 0:
            raise ValueError(
                f"overlap_sentences must be an integer >= 0, got {self.overlap_sentences!r}"
            )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ChunkerSettings:
        return cls(**data)


# ---------------------------------------------------------------- headings

_LEVEL_PATTERNS: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(rf"^第[{_CN_NUM}\d]+篇"), 1),
    (re.compile(rf"^第[{_CN_NUM}\d]+章"), 2),
    (re.compile(rf"^第[{_CN_NUM}\d]+节"), 3),
    (re.compile(rf"^[{_CN_NUM}]+、"), 4),
    (re.compile(rf"^[{_CN_NUM}]+\s+\S"), 4),  # 000: `一 深入落实城市战略定位…`
    (re.compile(r"^0\d\s+\S"), 4),  # 000: `01 人口规模较为平稳…`
    (re.compile(rf"^[（(][{_CN_NUM}]+[）)]"), 5),
    (re.compile(r"^\d{1,2}\s*[.、．](?!\d)"), 6),
    (re.compile(r"^[（(]\d{1,2}[）)]"), 6),
)
_NUMBERED_ITEM = re.compile(r"^\s*(?:\d{1,2}\s*[.、．](?!\d)|[（(]\d{1,2}[）)])")


def detect_heading(line: str) -> int | None:
    """Heading level of a line (1 = 篇, 2 = 章, 3 = 节, 4 = 一、, 5 = （一）, 6 = 1./（1）), or None.

    A Markdown `#` line without a Chinese marker gets level 7. Long lines and lines that end a
    sentence are paragraphs even when they start with a marker.
    """
    s = line.strip()
    md = re.match(r"^(#{1,6})\s*", s)
    body = heading_title(s)
    if not body or len(body) > MAX_HEADING_CHARS or "。" in body or body[-1] in _SENTENCE_ENDERS:
        return None
    for pattern, level in _LEVEL_PATTERNS:
        if pattern.match(body):
            return level
    # Markdown levels in converted files are unreliable (`### 专栏` next to `## 第一章`): a `#` line
    # without a Chinese marker ranks below every marked level, so it never replaces a chapter.
    return UNMARKED_HEADING_LEVEL if md else None


def heading_title(line: str) -> str:
    """The heading's words without Markdown marks."""
    return re.sub(r"^#{1,6}\s*", "", line.strip()).strip("* \t")


# ---------------------------------------------------------------- sentences


def split_sentences(text: str, max_chars: int = 400) -> list[tuple[int, int]]:
    """Spans of sentences: ends at 。！？； (closing quotes stay with it) and at line ends.

    A sentence longer than `max_chars` is split at `，`, then (last resort) at a safe character
    position; a split never falls inside a number such as `2185.8` or `1.87万`.
    """
    spans: list[tuple[int, int]] = []
    for m in re.finditer(r"[^\n]+", text):
        for start, end in _line_sentences(text, m.start(), m.end()):
            if end - start > max_chars:
                spans.extend(_split_long(text, start, end, max_chars))
            else:
                spans.append((start, end))
    return spans


def _line_sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans = []
    i = begin = start
    while i < end:
        if text[i] in _SENTENCE_ENDERS:
            i += 1
            while i < end and (text[i] in _SENTENCE_ENDERS or text[i] in _CLOSERS):
                i += 1
            spans.append((begin, i))
            begin = i
        else:
            i += 1
    spans.append((begin, end))
    return [trimmed_span(text, s, e) for s, e in spans if text[s:e].strip()]


def _split_long(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """Split an over-long sentence at commas, else at the last safe point before the limit."""
    pieces: list[tuple[int, int]] = []
    while end - start > max_chars:
        window = text[start : start + max_chars]
        cut = -1
        for m in re.finditer(r"[，,、：:]", window):
            pos = start + m.end()
            if not (_is_digit(text, pos - 2) and _is_digit(text, pos)):
                cut = pos
        if cut <= start:
            cut = start + max_chars
            while cut > start + 1 and _inside_token(text, cut):
                cut -= 1
            if cut <= start + 1:
                cut = start + max_chars
        while cut < end and text[cut] in _CLOSERS:
            cut += 1
        pieces.append(trimmed_span(text, start, cut))
        start = cut
    pieces.append(trimmed_span(text, start, end))
    return [(s, e) for s, e in pieces if e > s]


def _is_digit(text: str, i: int) -> bool:
    return 0 <= i < len(text) and text[i].isdigit()


def _inside_token(text: str, i: int) -> bool:
    """Would a cut before text[i] break a number, a unit or a Latin word?"""
    left, right = text[i - 1], text[i]
    numeric = lambda c: c.isdigit() or c in ".%％"  # noqa: E731
    return (numeric(left) and numeric(right)) or (
        left.isascii() and left.isalnum() and right.isascii() and right.isalnum()
    )


# ---------------------------------------------------------------- units


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    section: tuple[str, ...]
    table_rows: tuple[tuple[int, int], ...] = ()


def _line_spans(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(r"[^\n]+", text)]


def _sibling_is_paragraph(levels: list[int | None], marked: list[bool], i: int) -> bool:
    """`4、建立跨` after `3、破除阻碍…。` (a long item) is the next list item, not a heading."""
    for step in (-1, 1):
        j = i + step
        while 0 <= j < len(levels):
            if levels[j] is not None and not marked[j]:
                break  # another heading: no sibling in this section
            if marked[j]:
                return levels[j] is None
            j += step
    return False


def _units(text: str, max_chars: int) -> list[_Unit]:
    lines = _line_spans(text)
    levels = [detect_heading(text[s:e]) for s, e in lines]
    # A run of numbered lines is a list (002's `1.《全国国土空间规划纲要》` …), not headings.
    numbered = [
        lv == 6 and bool(_NUMBERED_ITEM.match(text[s:e]))
        for lv, (s, e) in zip(levels, lines, strict=True)
    ]
    marked = [bool(_NUMBERED_ITEM.match(text[s:e])) for s, e in lines]
    for i, is_num in enumerate(numbered):
        if is_num and (
            (i > 0 and numbered[i - 1])
            or (i + 1 < len(numbered) and numbered[i + 1])
            or _sibling_is_paragraph(levels, marked, i)
        ):
            levels[i] = None

    units: list[_Unit] = []
    stack: list[tuple[int, str, int]] = []  # level, title, line index
    has_body: dict[int, bool] = {}
    rows: list[tuple[int, int]] = []

    def section() -> tuple[str, ...]:
        return tuple(title for _, title, _ in stack)

    def flush_table() -> None:
        if rows:
            units.append(_Unit(rows[0][0], rows[-1][1], section(), tuple(rows)))
            rows.clear()

    for i, ((s, e), level) in enumerate(zip(lines, levels, strict=True)):
        line = text[s:e]
        if level is not None:
            flush_table()
            while stack and stack[-1][0] >= level:
                _, title, idx = stack.pop()
                if not has_body.get(idx):
                    # A heading with nothing under it keeps its words as content.
                    units.append(_Unit(*lines[idx], (*section(), title)))
            stack.append((level, heading_title(line), i))
            continue
        for _, _, idx in stack:
            has_body[idx] = True
        if is_table_row(line):
            rows.append((s, e))
            continue
        flush_table()
        units.extend(_Unit(s + a, s + b, section()) for a, b in split_sentences(line, max_chars))
    flush_table()
    for _, _, idx in stack:
        if not has_body.get(idx):
            units.append(_Unit(*lines[idx], section()))
    return units


# ---------------------------------------------------------------- packing


def _common_prefix(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    out = []
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        out.append(x)
    return tuple(out)


@dataclass
class _Draft:
    start: int
    end: int
    section: tuple[str, ...]
    header: str = ""  # table header repeated on top of a split table


def _pack(text: str, units: list[_Unit], settings: ChunkerSettings) -> list[_Draft]:
    drafts: list[_Draft] = []
    current: list[_Unit] = []
    cur_section: tuple[str, ...] = ()
    mergeable_from = 0  # drafts before this index belong to an earlier section

    def flush() -> None:
        nonlocal current
        if not current:
            return
        start, end = current[0].start, current[-1].end
        last = drafts[-1] if len(drafts) > mergeable_from else None
        if (
            last is not None
            and not last.header
            and end - start < settings.min_chars
            and end - last.start <= settings.max_chars
            and last.section == cur_section
        ):
            last.end = end  # a small trailing bit joins the chunk before it
        else:
            drafts.append(_Draft(start, end, cur_section))
        current = []

    for unit in units:
        if unit.table_rows:
            flush()
            drafts.extend(_table_drafts(text, unit, settings))
            mergeable_from = len(drafts)
            continue
        if current:
            same_top = unit.section[:1] == cur_section[:1]
            if unit.section != cur_section and not (
                same_top and current[-1].end - current[0].start < settings.min_chars
            ):
                flush()
                mergeable_from = len(drafts)
            elif unit.end - current[0].start > settings.max_chars:
                overlap = (
                    current[-settings.overlap_sentences :] if settings.overlap_sentences else []
                )
                flush()
                while overlap and unit.end - overlap[0].start > settings.max_chars:
                    overlap = overlap[1:]
                current = list(overlap)
        if current:
            cur_section = _common_prefix(cur_section, unit.section)
        else:
            cur_section = unit.section
        current.append(unit)
    flush()
    return drafts


def _table_drafts(text: str, unit: _Unit, settings: ChunkerSettings) -> list[_Draft]:
    """A table stays whole up to twice max_chars; else split by rows, header repeated on each."""
    if unit.end - unit.start <= settings.max_chars * 2:
        return [_Draft(unit.start, unit.end, unit.section)]
    rows = list(unit.table_rows)
    header_rows = rows[:1]
    if len(rows) > 1 and re.fullmatch(r"\s*\|?[\s:|-]+\|?\s*", text[rows[1][0] : rows[1][1]]):
        header_rows = rows[:2]  # Markdown separator row
    header = text[header_rows[0][0] : header_rows[-1][1]]
    body = rows[len(header_rows) :]
    drafts: list[_Draft] = []
    piece: list[tuple[int, int]] = []
    budget = settings.max_chars
    for row in body:
        first = not drafts
        overhead = 0 if first else len(header) + 1
        start = header_rows[0][0] if first else (piece[0][0] if piece else row[0])
        if piece and row[1] - start + overhead > budget:
            drafts.append(_table_piece(header_rows, piece, header, unit.section, first))
            piece = []
        piece.append(row)
    if piece:
        drafts.append(_table_piece(header_rows, piece, header, unit.section, not drafts))
    return drafts


def _table_piece(
    header_rows: list[tuple[int, int]],
    piece: list[tuple[int, int]],
    header: str,
    section: tuple[str, ...],
    first: bool,
) -> _Draft:
    if first:
        return _Draft(header_rows[0][0], piece[-1][1], section)
    return _Draft(piece[0][0], piece[-1][1], section, header=header)


# ---------------------------------------------------------------- entry point


def chunk_report(report: Report, settings: ChunkerSettings | None = None) -> list[Chunk]:
    """Cut a cleaned report into chunks.

    `Chunk.text == report.text[char_start:char_end]`, except for the later pieces of a table split
    by rows: their text starts with the table's header row(s) and a newline, and the span covers
    only the rows themselves.
    """
    settings = settings or ChunkerSettings()
    text = report.text
    entry = report.entry
    chunks: list[Chunk] = []
    for position, draft in enumerate(_pack(text, _units(text, settings.max_chars), settings)):
        body = text[draft.start : draft.end]
        chunk_text = f"{draft.header}\n{body}" if draft.header else body
        line_start, line_end = report.source_lines(draft.start, draft.end)
        digest = hashlib.sha1(chunk_text.encode("utf-8")).hexdigest()[:8]
        chunks.append(
            Chunk(
                chunk_id=f"{entry.doc_id}:{position:04d}:{digest}",
                doc_id=entry.doc_id,
                title=entry.title,
                section=draft.section,
                text=chunk_text,
                char_start=draft.start,
                char_end=draft.end,
                line_start=line_start,
                line_end=line_end,
                position=position,
                year=entry.year,
                kind=entry.kind,
            )
        )
    return chunks
