"""Where the sentences of a passage begin and end: the unit answers quote and questions are
compared with (the chunker has its own splitter, which also cuts over-long sentences)."""

from __future__ import annotations

import re

SENTENCE_END = "。！？；!?;"
CLOSERS = "”’」』）)》"
# A sentence ends at end punctuation (with the closing quotes after it) or at a line end.
_PASSAGE_SENTENCE = re.compile(rf"[^{SENTENCE_END}\n]*(?:[{SENTENCE_END}]+[{CLOSERS}]*|\n|$)")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """[start, end) of each sentence of `text`, surrounding whitespace excluded.

    A sentence ends at `。！？；` (with the closing quotes after it) or at a line end.
    """
    spans = (trimmed_span(text, m.start(), m.end()) for m in _PASSAGE_SENTENCE.finditer(text))
    return [(start, end) for start, end in spans if end > start]


def trimmed_span(text: str, start: int, end: int) -> tuple[int, int]:
    """[start, end) without the whitespace at either end (start == end if it is all space)."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def sentence_texts(text: str) -> list[str]:
    """The sentences of `text` (`split_sentences`), as strings."""
    return [text[a:b] for a, b in split_sentences(text)]
