"""HTML for the app, built only from escaped text: nothing from a report or a model is ever
rendered as markup. Every function here returns a string and touches no Streamlit state."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence

CSS = """
<style>
.pq-answer { font-size: 1.05rem; line-height: 1.8; }
.pq-cite { display: inline-block; min-width: 1.4em; padding: 0 .3em; margin: 0 .1em;
  border-radius: .35em; background: #e8f0fe; color: #1a56b8; font-size: .8em; font-weight: 600;
  text-align: center; text-decoration: none; vertical-align: super; line-height: 1.4; }
a.pq-cite:hover { background: #1a56b8; color: #fff; }
.pq-passage { line-height: 1.8; white-space: normal; }
.pq-passage mark { background: #fff3b0; padding: 0 .1em; border-radius: .2em; }
.pq-passage mark.pq-term { background: #d7ecff; }
.pq-refusal { border-left: 4px solid #9aa4b2; padding: .4em .8em; background: #f4f6f8;
  border-radius: .3em; }
.pq-meta { color: #5f6b7a; font-size: .85em; }
.pq-target { outline: 2px solid #f0b429; border-radius: .3em; background: #fffbea; padding: .3em; }
</style>
"""

_MARKER = re.compile(r"\[(\d{1,3})\]")


def esc(text: object) -> str:
    """Escape text for HTML (quotes included)."""
    return html.escape(str(text), quote=True)


def _lines(escaped: str) -> str:
    return escaped.replace("\r\n", "\n").replace("\n", "<br>")


def anchor_id(turn_key: str, n: int) -> str:
    return f"pq-src-{re.sub(r'[^A-Za-z0-9_-]', '', turn_key)}-{int(n)}"


def answer_html(text: str, turn_key: str, cited: Iterable[int]) -> str:
    """The answer with each `[n]` of a real citation as a badge linking to its source card."""
    known = set(cited)

    def badge(match: re.Match[str]) -> str:
        n = int(match.group(1))
        if n in known:
            return f'<a class="pq-cite" href="#{anchor_id(turn_key, n)}">{n}</a>'
        return esc(match.group(0))

    out, last = [], 0
    for match in _MARKER.finditer(text):
        out.append(_lines(esc(text[last : match.start()])))
        out.append(badge(match))
        last = match.end()
    out.append(_lines(esc(text[last:])))
    return f'<div class="pq-answer">{"".join(out)}</div>'


def merge_spans(spans: Iterable[tuple[int, int, str]], length: int) -> list[tuple[int, int, str]]:
    """Sorted, clipped, non-overlapping (start, end, css class) spans; earlier spans win."""
    taken = [False] * length
    result: list[tuple[int, int, str]] = []
    for start, end, cls in spans:
        start, end = max(0, start), min(length, end)
        i = start
        while i < end:
            if taken[i]:
                i += 1
                continue
            j = i
            while j < end and not taken[j]:
                taken[j] = True
                j += 1
            result.append((i, j, cls))
            i = j
    return sorted(result)


def highlight_html(
    text: str, spans: Sequence[tuple[int, int]] = (), terms: Sequence[str] = (), css_class: str = "pq-passage"
) -> str:
    """A passage with quote spans marked (yellow) and query terms marked (blue)."""
    marks = [(s, e, "") for s, e in spans if e > s]
    for term in sorted({t for t in terms if t and t.strip()}, key=len, reverse=True):
        for m in re.finditer(re.escape(term), text):
            marks.append((m.start(), m.end(), "pq-term"))
    out, last = [], 0
    for start, end, cls in merge_spans(marks, len(text)):
        out.append(_lines(esc(text[last:start])))
        attr = f' class="{cls}"' if cls else ""
        out.append(f"<mark{attr}>{_lines(esc(text[start:end]))}</mark>")
        last = end
    out.append(_lines(esc(text[last:])))
    return f'<div class="{esc(css_class)}">{"".join(out)}</div>'


def citation_text(title: str, section: str, quote: str) -> str:
    """The standard citation form staff paste into documents: 《title》 section：“quote”."""
    where = f"《{title}》"
    if section:
        where += f" {section}"
    return f"{where}：“{quote.strip()}”" if quote.strip() else where


_MD_SPECIAL = re.compile(r"([\\`*_\[\]()#!|<>~:$])")


def md(text: object) -> str:
    """Text for a Streamlit label, caption or alert (which read Markdown), shown literally: no
    links, images, emphasis, code, HTML, LaTeX or :icon: shortcodes from a report or a model."""
    out = _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))
    return "\\" + out if out[:1] in ("-", "+") else out
