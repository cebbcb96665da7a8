"""The app's non-Streamlit parts: escaping and highlighting, the report outline, the SQLite store."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from assistant.store import AppStore, new_conversation_id, valid_conversation_id
from assistant.ui import render
from assistant.ui.outline import find_chunk, sections_of
from corpus.models import Chunk


def test_answer_html_escapes_text_and_links_only_real_citations() -> None:
    html = render.answer_html("<b>面积</b>达到44.9%[1]，另见[7]。", "t1", cited=[1])
    assert "&lt;b&gt;面积&lt;/b&gt;" in html and "<b>" not in html
    assert f'href="#{render.anchor_id("t1", 1)}"' in html
    assert "[7]" in html and 'href="#pq-src-t1-7"' not in html  # no card: plain text


def test_highlight_marks_quote_and_terms_without_overlap() -> None:
    text = "全市森林覆盖率达到44.9%，<script>x</script>平原地区森林覆盖率达到32.5%。"
    html = render.highlight_html(text, [(0, 14)], terms=["森林覆盖率", "平原"])
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<mark>全市森林覆盖率达到44.9%</mark>" in html  # the quote wins over the term inside it
    assert '<mark class="pq-term">平原</mark>' in html
    assert html.count('<mark class="pq-term">森林覆盖率</mark>') == 1  # only outside the quote


def test_merge_spans_clips_and_keeps_first() -> None:
    assert render.merge_spans([(2, 6, "a"), (4, 9, "b"), (-3, 1, "c")], 8) == [
        (0, 1, "c"), (2, 6, "a"), (6, 8, "b")
    ]


def test_citation_text_standard_form() -> None:
    assert render.citation_text("报告", "第一章 > 一、", " 句子。 ") == "《报告》 第一章 > 一、：“句子。”"
    assert render.citation_text("报告", "", "") == "《报告》"


def _chunk(pos: int, section: tuple[str, ...], text: str, start: int) -> Chunk:
    return Chunk(
        chunk_id=f"d:{pos:04d}", doc_id="d", title="T", section=section, text=text,
        char_start=start, char_end=start + len(text), line_start=pos + 1, line_end=pos + 2,
        position=pos,
    )


def test_sections_rebuild_text_once_across_overlapping_chunks() -> None:
    chunks = [
        _chunk(0, ("一",), "甲句。乙句。", 0),
        _chunk(1, ("一",), "乙句。丙句。", 3),  # one-sentence overlap
        _chunk(2, ("二",), "丁句。", 20),
    ]
    sections = sections_of(chunks)
    assert [s.path for s in sections] == [("一",), ("二",)]
    assert sections[0].text == "甲句。乙句。丙句。"
    where = find_chunk(sections, "d:0001")
    assert where is not None
    i, (start, end) = where
    assert sections[i].text[start:end] == "乙句。丙句。"
    assert find_chunk(sections, "missing") is None


def test_store_keeps_turns_and_feedback_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "data" / "app.sqlite3"
    conv = new_conversation_id()
    assert valid_conversation_id(conv) and not valid_conversation_id("../../etc")
    record = {"question": "问？", "answer": "答[1]", "backend": "extractive",
              "citations": [{"n": 1, "title": "T", "section": "S", "quote": "原句。"}]}
    store = AppStore(path)
    assert store.add_turn(conv, record) == 0
    assert store.add_turn(conv, dict(record, question="再问？")) == 1
    store.set_feedback(conv, 1, 1, record)
    store.set_feedback(conv, 1, 0, record, comment="不准确")
    store.set_feedback(conv, 1, 0, record)  # a rating change keeps the comment

    again = AppStore(path)  # a restart
    assert [t["question"] for t in again.turns(conv)] == ["问？", "再问？"]
    assert again.ratings(conv) == {1: 0}
    rows = again.feedback()
    assert len(rows) == 1 and rows[0]["comment"] == "不准确"
    assert rows[0]["citations"] == "[1] 《T》 S：原句。"
    with pytest.raises(ValueError):
        again.set_feedback(conv, 0, 5, record)


def test_store_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    store = AppStore(tmp_path / "app.sqlite3")
    convs = [new_conversation_id() for _ in range(4)]

    def write(conv: str) -> None:
        for i in range(25):
            store.add_turn(conv, {"question": f"q{i}"})

    threads = [threading.Thread(target=write, args=(c,)) for c in convs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(len(store.turns(c)) == 25 for c in convs)


def test_store_in_an_unwritable_place_is_a_plain_error(tmp_path: Path) -> None:
    from corpus.errors import PlanQAError

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(PlanQAError, match="PLANQA_DATA_DIR"):
        AppStore(blocker / "app.sqlite3")


def test_md_shows_markdown_and_shortcodes_literally() -> None:
    text = render.md("见[链接](http://x) **粗** :red[红] <b>b</b> $x$\n- 列表")
    for raw in ("[链接](", "**", ":red[", "<b>", "$x$"):
        assert raw not in text
    assert text.replace("\\", "") == "见[链接](http://x) **粗** :red[红] <b>b</b> $x$ - 列表"
    assert render.md("- 开头").startswith("\\-")
