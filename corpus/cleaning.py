"""Repair the extraction damage of report texts while remembering each character's source line."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

# Characters that end a sentence or a clause that may end a paragraph; a line ending in one of
# these is not a hard wrap. Closing quotes/brackets count because they usually follow a 。.
SENTENCE_END = "。！？；：…!?;:"
CLOSERS = "”’」』）)】》"
# Punctuation that shows a line is running text, not a title or a figure label.
SENTENCE_PUNCT = "。！？；!?;"
CLAUSE_PUNCT = SENTENCE_PUNCT + "，,、：:"

CJK = "\u4e00-\u9fff\u3400-\u4dbf"
_CJK_CHAR = re.compile(f"[{CJK}]")
_CN_NUM = "一二三四五六七八九十百零〇两"
MAX_HEADING_CHARS = 50  # a longer line is a paragraph even if it starts like a heading


@dataclass(frozen=True)
class MappedText:
    """Text whose every character carries the 1-based source line it came from.

    All edits go through `sub`/slicing/`join`, so the map can never drift from the text.
    """

    text: str
    lines: tuple[int, ...]

    @classmethod
    def from_source(cls, raw: str) -> MappedText:
        lines: list[int] = []
        line = 1
        for ch in raw:
            lines.append(line)
            if ch == "\n":
                line += 1
        return cls(raw, tuple(lines))

    def __len__(self) -> int:
        return len(self.text)

    def __getitem__(self, key: slice) -> MappedText:
        return MappedText(self.text[key], self.lines[key])

    def line_at(self, index: int, default: int = 1) -> int:
        """Source line of `text[index]`, clamped to the nearest existing character."""
        if not self.lines:
            return default
        return self.lines[max(0, min(index, len(self.lines) - 1))]

    def strip(self, chars: str | None = None) -> MappedText:
        start = len(self.text) - len(self.text.lstrip(chars))
        end = len(self.text.rstrip(chars))
        return self[start : max(start, end)]

    def lstrip(self) -> MappedText:
        return self[len(self.text) - len(self.text.lstrip()) :]

    def rstrip(self) -> MappedText:
        return self[: len(self.text.rstrip())]

    def sub(
        self,
        pattern: str | re.Pattern[str],
        repl: str | Callable[[re.Match[str]], str | Sequence[str | tuple[int, int]]],
        flags: int = 0,
    ) -> MappedText:
        """`re.sub` that keeps the map.

        A replacement may be a template (`\\1`, `\\g<name>`) or a callable returning a string or a
        list of pieces: literal strings, or `(start, end)` spans of this text that keep their own
        source lines (so text can be moved). Literal characters take the line of the match start.
        """
        regex = re.compile(pattern, flags) if isinstance(pattern, str) else pattern
        out_text: list[str] = []
        out_lines: list[int] = []
        pos = 0
        for m in regex.finditer(self.text):
            out_text.append(self.text[pos : m.start()])
            out_lines.extend(self.lines[pos : m.start()])
            pieces = _template_pieces(repl, m) if isinstance(repl, str) else repl(m)
            if isinstance(pieces, str):
                pieces = [pieces]
            anchor = self.line_at(m.start() if m.end() > m.start() else m.start() - 1)
            for piece in pieces:
                if isinstance(piece, str):
                    out_text.append(piece)
                    out_lines.extend([anchor] * len(piece))
                else:
                    start, end = piece
                    out_text.append(self.text[start:end])
                    out_lines.extend(self.lines[start:end])
            pos = m.end()
        if pos == 0 and not out_text:
            return self
        out_text.append(self.text[pos:])
        out_lines.extend(self.lines[pos:])
        return MappedText("".join(out_text), tuple(out_lines))

    @classmethod
    def join(cls, parts: Iterable[MappedText], sep: str = "") -> MappedText:
        """Concatenate parts; separator characters take the line of the part before them."""
        text: list[str] = []
        lines: list[int] = []
        for i, part in enumerate(parts):
            if i and sep:
                text.append(sep)
                lines.extend([lines[-1] if lines else part.line_at(0)] * len(sep))
            text.append(part.text)
            lines.extend(part.lines)
        return cls("".join(text), tuple(lines))


def _template_pieces(template: str, m: re.Match[str]) -> list[str | tuple[int, int]]:
    """Expand a `re.sub` template into literal strings and group spans."""
    pieces: list[str | tuple[int, int]] = []
    for token in re.split(r"(\\g<\w+>|\\\d)", template):
        if not token:
            continue
        ref = re.fullmatch(r"\\g<(\w+)>|\\(\d)", token)
        if ref:
            name = ref.group(1) or ref.group(2)
            group: int | str = int(name) if name.isdigit() else name
            if m.start(group) >= 0:
                pieces.append((m.start(group), m.end(group)))
        else:
            pieces.append(token)
    return pieces


def normalize_for_match(text: str) -> str:
    """NFKC and no whitespace: the form in which quotes and figures are compared."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


# ---------------------------------------------------------------- line classification

_HEADING_MARK = re.compile(
    rf"^\s*(?:#{{1,6}}\s*)?(?:第[{_CN_NUM}\d]+[篇章节]|[{_CN_NUM}]+、|[（(][{_CN_NUM}]+[）)]"
    rf"|\d{{1,2}}\s*[.、．](?!\d)|[（(]\d{{1,2}}[）)]|0\d\s)"
)
_MD_HEADING = re.compile(r"^\s*#{1,6}\s")
_LIST_ITEM = re.compile(
    rf"^\s*(?:\d{{1,2}}\s*[.、．](?!\d)|[（(]\d{{1,2}}[）)]|[-*•·]\s|第?[{_CN_NUM}]+是)"
)
_CHAPTER = re.compile(rf"^第[{_CN_NUM}\d]+[篇章]")


def is_table_row(line: str) -> bool:
    """A Markdown table row or a tab-separated row (003's tables)."""
    s = line.strip()
    return s.startswith("|") or s.startswith("- |") or ("\t" in line and bool(s))


def _looks_like_heading(line: str) -> bool:
    s = line.strip()
    if not s or len(s) > MAX_HEADING_CHARS or s[-1] in SENTENCE_PUNCT:
        return False
    return bool(_MD_HEADING.match(s) or _HEADING_MARK.match(s))


def _starts_block(line: str) -> bool:
    """Lines that never continue the line before: headings, list items, table rows."""
    return _looks_like_heading(line) or bool(_LIST_ITEM.match(line)) or is_table_row(line)


def _ends_sentence(s: str) -> bool:
    s = s.rstrip()
    if not s:
        return True
    tail = s.rstrip(CLOSERS + "*")
    # "”。" / "。）" end a sentence; a bare closer after running text ("（2023年）") does not.
    return bool(tail) and tail[-1] in SENTENCE_END


def _is_title_like(s: str) -> bool:
    """Short text with no clause punctuation: a title, a label, a date or a figure."""
    s = s.strip()
    if _LIST_ITEM.match(s):  # `一是积极稳妥有序疏解` opens an enumerated sentence
        return False
    return 0 < len(s) <= 16 and not any(c in CLAUSE_PUNCT for c in s)


def _is_title_block(block: Sequence[MappedText]) -> bool:
    """A short unpunctuated block (1-3 lines): a running title, not a paragraph fragment.

    A page-break fragment of a long paragraph usually runs on over several clauses
    ("…方面，当前…频发，外部环境复杂严"); a title has at most one comma, at a line end or before a space.
    """
    if not block or len(block) > 3:
        return False
    text = "".join(line.text.strip() for line in block)
    if not text or len(text) > 50 or any(c in SENTENCE_PUNCT for c in text):
        return False
    if any(is_table_row(line.text) for line in block):
        return False
    commas = [m.start() for m in re.finditer("[，,]", text)]
    if len(commas) > 1:
        return False
    if commas:
        joined_with_breaks = "\n".join(line.text.strip() for line in block)
        return bool(re.search(r"[，,](?:\n|\s)", joined_with_breaks))
    # Enumerations (`、`) without a title's comma run on like text unless very short.
    return "、" not in text or len(text) <= 16


# ---------------------------------------------------------------- markup and symbols


def _strip_markup(mt: MappedText) -> MappedText:
    mt = mt.sub(r"\r\n?", "\n")
    mt = mt.sub("\ufeff", "")
    mt = mt.sub("[\u00a0\u2002\u2003\u2009]", " ")
    mt = mt.sub(r"<(sub|sup)>(.*?)</\1>", r"\2", flags=re.IGNORECASE)
    mt = mt.sub(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>", "")
    # LaTeX fragments of the PDF converter: PM_{2.5}, $\geq 400$.
    mt = mt.sub(r"_\{([^{}]*)\}", r"\1")
    mt = mt.sub(r"\$\s*\\geq?\s*([^$]*?)\s*\$", r"≥\1")
    mt = mt.sub(r"\$\s*\\leq?\s*([^$]*?)\s*\$", r"≤\1")
    mt = mt.sub(r"\$([^$\n]{1,40})\$", r"\1")
    # Markdown emphasis carries no content; headings keep their '#' (the chunker reads them).
    mt = mt.sub(r"\*\*", "")
    return mt


# ---------------------------------------------------------------- line-level repairs

_TOC_LINE = re.compile(
    r"(?:\.{3,}|…{2,}|·{3,}|\.{2,}…)\s*\t?\s*\d{1,3}\s*$|^[^\t]+\t\s*\d{1,3}\s*$"
)
_TOC_TITLE = re.compile(r"^\s*#*\s*目\s*录\s*$")
_PAGE_NUMBER = re.compile(r"^\s*\d{1,3}(?:\s+\d{1,3})*\s*$")
_RUNNING_HEAD_NUMBER = re.compile(rf"(?<=[{CJK}”》])\d{{2}}\s*$")
_DOUBLED_CHAPTER = re.compile(rf"^(\s*)(第[{_CN_NUM}\d]+[篇章节])\2")
_DOUBLED_FIGURE = re.compile(r"(\d+\.\d+|\d{3,})\s*\1(?![\d.])")
_CREDIT_END = re.compile(r"[（(](?:[^（）()]|[（(][^（）()]*[）)])*[）)]\s*$")
_STRONG_CREDIT = re.compile(r"(?:/\s*[摄供]|\s[摄供]|[摄供])\s*[）)]\s*$")


def _undouble(line: MappedText) -> MappedText:
    """`XX` -> `X` for a line holding the same text twice (copies may differ in whitespace)."""
    s = line.text
    compact = [i for i, c in enumerate(s) if not c.isspace()]
    n = len(compact)
    if n < 4 or n % 2:
        return line
    half = n // 2
    first = "".join(s[i] for i in compact[:half])
    second = "".join(s[i] for i in compact[half:])
    if first != second:
        return line
    return line[: compact[half - 1] + 1]


def _is_caption(line: str, prev_blank: bool, next_line: str | None) -> bool:
    """Photo captions and source credits, e.g. `万春亭北望中轴线（霍文武 / 摄）`, `（中国政府网）`."""
    s = line.strip()
    if not s or any(c in SENTENCE_PUNCT + "，," for c in s) or len(s) > 80:
        return False
    m = _CREDIT_END.search(s)
    if not m:
        return False
    if _STRONG_CREDIT.search(s):
        return True
    inner = m.group(0)
    if re.search(r"\d", inner) or _looks_like_heading(s):
        return False
    # A bare source credit stands alone: a new block after it, and before it a blank line or
    # (credit on its own line) the caption text it belongs to.
    next_starts = next_line is None or not next_line.strip() or next_line[:1].isspace()
    return next_starts and (prev_blank or m.start() == 0)


def _drop_markdown_toc_tables(lines: list[MappedText]) -> list[MappedText]:
    """Drop Markdown tables whose every row ends in a page number (000's tables of contents)."""
    out: list[MappedText] = []
    i = 0
    while i < len(lines):
        if not is_table_row(lines[i].text) or "\t" in lines[i].text:
            out.append(lines[i])
            i += 1
            continue
        j = i
        while j < len(lines) and is_table_row(lines[j].text) and "\t" not in lines[j].text:
            j += 1
        rows = [ln.text.strip() for ln in lines[i:j]]
        data = [r for r in rows if re.search(r"[^\s|:\-]", r)]
        if data and all(re.search(r"\|\s*\d{1,3}\s*\|?\s*$", r) for r in data):
            # The chapter line printed above a contents table belongs to the contents too.
            while out and not out[-1].text.strip():
                out.pop()
            if (
                out
                and len(out[-1].text.strip()) <= 40
                and not any(c in SENTENCE_PUNCT for c in out[-1].text)
            ):
                out.pop()
            i = j
            continue
        out.extend(lines[i:j])
        i = j
    return out


def _repair_lines(lines: list[MappedText]) -> list[MappedText]:
    """Per-line repairs: TOC, doubled text, captions, page numbers, running heads."""
    lines = _drop_markdown_toc_tables(lines)
    staged: list[MappedText] = []
    for line in lines:
        s = line.text
        if _TOC_TITLE.match(s) or (_TOC_LINE.search(s) and len(s.strip()) <= 80):
            continue
        line = _undouble(line.rstrip())
        line = line.sub(_DOUBLED_CHAPTER, r"\1\2")
        staged.append(line)

    out: list[MappedText] = []
    for i, line in enumerate(staged):
        s = line.text
        prev_blank = not out or not out[-1].text.strip() or _ends_sentence(out[-1].text)
        nxt = staged[i + 1].text if i + 1 < len(staged) else None
        if _is_caption(s, prev_blank, nxt):
            if _CREDIT_END.fullmatch(s.strip()):
                # `(新华社)` on its own line: the caption text above it goes too.
                for _ in range(2):
                    above = out[-1].text.strip() if out else ""
                    if not above or len(above) > 60 or any(c in CLAUSE_PUNCT for c in above):
                        break
                    out.pop()
            continue
        # A line that repeats the beginning of the line before (two-column extraction).
        if out and len(s.strip()) >= 8 and out[-1].text.strip().startswith(s.strip()):
            continue
        if _PAGE_NUMBER.match(s) and not _is_zero_padded_section_number(s, staged, i):
            continue
        if len(s.strip()) <= 30 and not any(c in SENTENCE_PUNCT for c in s):
            line = line.sub(_RUNNING_HEAD_NUMBER, "")
        if len(s.strip()) <= 15 and not any(c in CLAUSE_PUNCT for c in s):
            # Figure labels of infographics print the number twice: `54.254.2万名`, `17151715人次`.
            line = line.sub(_DOUBLED_FIGURE, r"\1")
        out.append(line)
    return out


def _is_zero_padded_section_number(s: str, lines: list[MappedText], i: int) -> bool:
    """`01` alone on a line before a short title is a section number (000), not a page number."""
    if not re.fullmatch(r"\s*0[1-9]\s*", s):
        return False
    for later in lines[i + 1 : i + 4]:
        t = later.text.strip()
        if not t:
            continue
        return (
            len(t) <= 40 and not any(c in SENTENCE_PUNCT for c in t) and not _PAGE_NUMBER.match(t)
        )
    return False


# ---------------------------------------------------------------- blocks


def _split_blocks(lines: list[MappedText]) -> list[list[MappedText]]:
    """Blocks are separated by blank lines; an indented line (a page/column start) opens one too."""
    blocks: list[list[MappedText]] = []
    current: list[MappedText] = []
    for line in lines:
        if not line.text.strip():
            if current:
                blocks.append(current)
                current = []
            continue
        if current and line.text[:1].isspace() and not is_table_row(line.text):
            blocks.append(current)
            current = []
        current.append(line)
    if current:
        blocks.append(current)
    return blocks


def _drop_caption_blocks(blocks: list[list[MappedText]]) -> list[list[MappedText]]:
    """A short block with no clause punctuation that ends in a source credit is a photo caption."""
    out: list[list[MappedText]] = []
    for block in blocks:
        text = "".join(line.text.strip() for line in block)
        last = block[-1].text.strip()
        credit = _CREDIT_END.search(last)
        body = text[: len(text) - len(credit.group(0))] if credit else text
        if (
            credit
            and len(block) <= 3
            and len(text) <= 80
            and not re.search(r"\d", credit.group(0))
            and not any(c in CLAUSE_PUNCT for c in body)
            and not _looks_like_heading(block[0].text)
        ):
            continue
        out.append(block)
    return out


def _block_key(block: Sequence[MappedText]) -> str:
    return normalize_for_match("".join(line.text for line in block))


def _drop_repeated_blocks(blocks: list[list[MappedText]]) -> list[list[MappedText]]:
    """Running titles and figure labels printed again on later pages carry nothing new."""
    seen: set[str] = set()
    out: list[list[MappedText]] = []
    for block in blocks:
        text = "".join(line.text for line in block)
        repeatable = not any(c in SENTENCE_PUNCT for c in text) and not any(
            is_table_row(line.text) or _looks_like_heading(line.text) for line in block
        )
        key = _block_key(block)
        if repeatable and len(key) >= 4 and key in seen:
            continue
        seen.add(key)
        out.append(block)
    return out


def _split_glued_chapter(blocks: list[list[MappedText]]) -> list[list[MappedText]]:
    """`第三章城市更新…` -> `第三章` + `城市更新…` (a chapter mark glued to the next title)."""
    out: list[list[MappedText]] = []
    for block in blocks:
        first = block[0].strip()
        m = _CHAPTER.match(first.text)
        if m and m.end() < len(first.text) and not first.text[m.end()].isspace():
            out.append([first[: m.end()]])
            out.append([first[m.end() :], *block[1:]])
        else:
            out.append(block)
    return out


def _attach_chapter_titles(blocks: list[list[MappedText]]) -> list[list[MappedText]]:
    """A bare `第一章` line takes its title from the short title block after it, else before it.

    Layout-extracted reports print the chapter title as a separate block next to the mark.
    """
    out: list[list[MappedText]] = []
    i = 0
    while i < len(blocks):
        block = blocks[i]
        mark = block[0].strip()
        if len(block) == 1 and _CHAPTER.fullmatch(mark.text):
            nxt = blocks[i + 1] if i + 1 < len(blocks) else None
            if nxt and _is_title_block(nxt) and not _looks_like_heading(nxt[0].text):
                out.append([_titled(mark, nxt)])
                i += 2
                continue
            prev = out[-1] if out else None
            if prev and _is_title_block(prev) and not _looks_like_heading(prev[0].text):
                out[-1] = [_titled(mark, prev)]
                i += 1
                continue
        out.append(block)
        i += 1
    return out


def _titled(mark: MappedText, title_block: Sequence[MappedText]) -> MappedText:
    title = MappedText.join(line.strip() for line in title_block)
    return MappedText.join([mark, title], sep=" ")


def _attach_section_numbers(blocks: list[list[MappedText]]) -> list[list[MappedText]]:
    """`01` then a title block -> `01 title` (000 prints section numbers on their own line)."""
    out: list[list[MappedText]] = []
    i = 0
    while i < len(blocks):
        block = blocks[i]
        if len(block) == 1 and re.fullmatch(r"\s*0[1-9]\s*", block[0].text):
            nxt = blocks[i + 1] if i + 1 < len(blocks) else None
            body = blocks[i + 2] if i + 2 < len(blocks) else []
            if (
                nxt
                and _is_title_block(nxt)
                and not _looks_like_heading(nxt[0].text)
                and not nxt[0].text.strip()[:1].isdigit()
                # a section title is followed by its text, not by another label
                and any(c in SENTENCE_PUNCT for line in body for c in line.text)
            ):
                title = MappedText.join(line.strip() for line in nxt)
                out.append([MappedText.join([block[0].strip(), title], sep=" ")])
                i += 2
            else:
                i += 1  # a page or figure number after all
            continue
        out.append(block)
        i += 1
    return out


# ---------------------------------------------------------------- hard wraps


def _joins_next(line: str, nxt: str, prev_ended: bool) -> bool:
    """Does `line` run on into `nxt` (a hard wrap inside a sentence)?"""
    s = line.strip()
    if not s or _ends_sentence(s) or _starts_block(nxt):
        return False
    if is_table_row(line) or (_looks_like_heading(line) and not _has_clause_after_mark(s)):
        return False
    # A short unpunctuated line after a finished sentence is a title or a date (004), not a wrap.
    return not (prev_ended and _is_title_like(s))


def _has_clause_after_mark(s: str) -> bool:
    """`1、坚持生态优先为前提,推进` is a list item's first line, not a heading: it has clauses."""
    m = _HEADING_MARK.match(s)
    rest = s[m.end() :] if m else s
    return any(c in CLAUSE_PUNCT for c in rest)


def _join_wrapped_lines(block: list[MappedText]) -> list[MappedText]:
    out: list[MappedText] = []
    prev_ended = True
    for line in block:
        line = _strip_paragraph(line)
        if out and _joins_next(out[-1].text, line.text, prev_ended):
            out[-1] = MappedText.join([out[-1], line])
            continue
        if out:
            last = out[-1].text
            prev_ended = _ends_sentence(last) or _is_title_like(last) and prev_ended
        out.append(line)
    return out


def _join_across_blanks(blocks: list[list[MappedText]]) -> list[list[MappedText]]:
    """Join a block to the next when a page break (blank line) fell inside a sentence."""
    out: list[list[MappedText]] = []
    for block in blocks:
        if out and _page_break_inside_sentence(out[-1], block):
            prev = out[-1]
            out[-1] = [
                *prev[:-1],
                MappedText.join([prev[-1].rstrip(), block[0].lstrip()]),
                *block[1:],
            ]
            continue
        out.append(block)
    return out


def _is_term_item(s: str) -> bool:
    """`6.多圈：推动形成…` is a list item explaining a term (it runs on), not a numbered title."""
    m = _LIST_ITEM.match(s)
    return bool(m) and bool(re.search(r"[：:].{2,}", s[m.end() :]))


def _page_break_inside_sentence(prev: Sequence[MappedText], block: Sequence[MappedText]) -> bool:
    last = prev[-1].text.strip()
    first = block[0].text
    if not last or _ends_sentence(last) or last[-1] in CLOSERS or is_table_row(last):
        return False
    if not first.strip() or _starts_block(first):
        return False
    if _looks_like_heading(last) and not _is_term_item(last):
        return False
    # Titles, labels and figures end without punctuation too; they are not cut sentences.
    if _is_title_block(prev) or _is_title_like(last):
        return False
    if first[:1].isspace():
        return False
    # The continuation finishes the sentence: its block holds a sentence end.
    return any(c in SENTENCE_PUNCT for c in "".join(line.text for line in block))


# ---------------------------------------------------------------- spacing


def _fix_spacing(mt: MappedText) -> MappedText:
    # `2185.8 万`, `6% 以上`, `2023 年`: figures belong to their units.
    # (`01 人口规模…` keeps its space: a section number, not a figure.)
    # Tabs separate table cells and are never touched.
    mt = mt.sub(rf"(?<!^0\d)(?<=\d) +(?=[{CJK}%％‰℃])", "", flags=re.MULTILINE)
    mt = mt.sub(rf"(?<=[{CJK}]) +(?=\d)", "")
    mt = mt.sub(r"(?<=[\d.]) +(?=%)", "")
    mt = mt.sub(rf"(?<=\d[%％‰]) +(?=[{CJK}])", "")
    # Spaces glued to full-width punctuation are layout residue (`定位， 保障`).
    mt = mt.sub(r"(?<=[，。；：、！？》”）]) +(?=\S)", "")
    mt = mt.sub(r"(?<=\S) +(?=[，。；：、！？《“（）])", "")
    mt = mt.sub(r" {2,}(?=\S)", " ")
    return mt


# ---------------------------------------------------------------- entry point


def clean_report_text(raw: str) -> tuple[str, tuple[int, ...]]:
    """Clean one report; return the text and, per cleaned character, its 1-based source line."""
    mt = _strip_markup(MappedText.from_source(raw))
    lines = _split_lines(mt)
    lines = _repair_lines(lines)
    blocks = _split_blocks(lines)
    blocks = _drop_caption_blocks(blocks)
    blocks = _split_glued_chapter(blocks)
    blocks = _drop_repeated_blocks(blocks)
    blocks = _attach_chapter_titles(blocks)
    blocks = _attach_section_numbers(blocks)
    blocks = _join_across_blanks(blocks)
    blocks = [_join_wrapped_lines(block) for block in blocks]
    paragraphs = [line for block in blocks for line in block if line.text.strip()]
    cleaned = MappedText.join((_fix_spacing(_strip_paragraph(p)) for p in paragraphs), sep="\n")
    return cleaned.text, cleaned.lines


def _strip_paragraph(p: MappedText) -> MappedText:
    # A table row's leading tab is an empty first cell; keep it.
    return p.rstrip().sub(r"^[ \u3000]+", "") if is_table_row(p.text) else p.strip()


def _split_lines(mt: MappedText) -> list[MappedText]:
    out: list[MappedText] = []
    start = 0
    for m in re.finditer("\n", mt.text):
        out.append(mt[start : m.start()])
        start = m.end()
    out.append(mt[start:])
    return out
