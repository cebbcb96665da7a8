"""Chunking: settings, headings, sentences, packing, tables, and the bundled reports."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from corpus.chunking import ChunkerSettings, chunk_report, detect_heading, split_sentences
from corpus.cleaning import clean_report_text, normalize_for_match
from corpus.models import CatalogEntry, Report
from corpus.reading import load_reports

REPORTS = Path(__file__).resolve().parents[2] / "corpus" / "reports"
ENTRY = CatalogEntry(
    doc_id="demo", file="demo.txt", title="演示报告", year=2024, kind="checkup-report"
)


def make_report(raw: str) -> Report:
    text, line_map = clean_report_text(raw)
    return Report(
        entry=ENTRY, source_path="demo.txt", sha256="0" * 64, text=text, line_map=line_map
    )


class TestSettings:
    def test_defaults(self):
        s = ChunkerSettings()
        assert (s.max_chars, s.min_chars, s.overlap_sentences) == (400, 80, 1)

    def test_custom(self):
        assert ChunkerSettings(max_chars=200, min_chars=10, overlap_sentences=0).max_chars == 200

    @pytest.mark.parametrize(
        "kwargs, name",
        [
            ({"max_chars": 0}, "max_chars"),
            ({"min_chars": -1}, "min_chars"),
            ({"max_chars": 100, "min_chars": 100}, "min_chars"),
            ({"overlap_sentences": -1}, "overlap_sentences"),
        ],
    )
    def test_invalid_values_are_named(self, kwargs, name):
        with pytest.raises(ValueError, match=name):
            ChunkerSettings(**kwargs)

    def test_round_trip(self):
        s = ChunkerSettings(max_chars=300, min_chars=50, overlap_sentences=2)
        assert ChunkerSettings.from_dict(s.to_dict()) == s
        assert s.to_dict() == {"max_chars": 300, "min_chars": 50, "overlap_sentences": 2}


class TestHeadings:
    @pytest.mark.parametrize(
        "line, level",
        [
            ("第一篇 加力奋进样板路 承前启后谱新篇", 1),
            ("# 第一篇 加力奋进样板路", 1),
            ("第二章 首都都市圈定位和布局", 2),
            ("## 第十一章 打造有引力的产业生态", 2),
            ("第三节 主要规划依据", 3),
            ("### 一、城市框架基本成型", 4),
            ("一 深入落实城市战略定位，“四个中心”功能建设全面增强", 4),
            ("01 人口规模较为平稳，空间分布持续优化", 4),
            ("（一）总体要求", 5),
            ("1. 重大成效", 6),
            ("2.面临形势", 6),
            ("（1）政治中心", 6),
            ("## 序 言", 7),
        ],
    )
    def test_levels(self, line, level):
        assert detect_heading(line) == level

    @pytest.mark.parametrize(
        "line",
        [
            "1.一核：以北京为现代化首都都市圈协同发展的核心，充分发挥“一核”辐射带动作用，将“四个中心”蕴含的巨大能量转化为区域高质量发展动能。",
            "一、坚持生态优先。",
            "2023年末全市常住人口2185.8万人。",
            "",
        ],
    )
    def test_paragraphs_are_not_headings(self, line):
        assert detect_heading(line) is None


class TestSentences:
    def test_ends_and_closing_quotes(self):
        text = "他说：“好。”然后走了！还有吗？有；没有"
        parts = [text[a:b] for a, b in split_sentences(text)]
        assert parts == ["他说：“好。”", "然后走了！", "还有吗？", "有；", "没有"]

    def test_line_ends_close_a_sentence(self):
        text = "第一段没有句号\n第二段。"
        assert [text[a:b] for a, b in split_sentences(text)] == ["第一段没有句号", "第二段。"]

    def test_numbers_are_never_split(self):
        text = "常住人口2185.8万人，覆盖率44.9%，城市家具1.87万处，" * 20
        for a, b in split_sentences(text, max_chars=50):
            assert b - a <= 50
            assert not (text[b - 1 : b].isdigit() and text[b : b + 1] in ".%万0123456789")
        joined = "".join(text[a:b] for a, b in split_sentences(text, max_chars=50))
        assert joined == text

    def test_comma_only_for_long_sentences(self):
        text = "甲，乙，丙。"
        assert split_sentences(text) == [(0, len(text))]


def long_section(n: int, head: str = "内容") -> str:
    return "".join(
        f"{head}第{i}句，这里写一些关于规划实施的说明文字以便凑够长度。" for i in range(n)
    )


class TestChunkReport:
    def test_text_is_the_report_span_and_lines_are_mapped(self):
        report = make_report(
            "第一章 总则\n\n" + long_section(20) + "\n\n第二章 布局\n\n" + long_section(3, "布局")
        )
        chunks = chunk_report(report, ChunkerSettings(max_chars=120, min_chars=20))
        for c in chunks:
            assert c.text == report.text[c.char_start : c.char_end]
            assert (c.line_start, c.line_end) == report.source_lines(c.char_start, c.char_end)
            assert len(c.text) <= 120
            assert c.doc_id == "demo" and c.year == 2024 and c.kind == "checkup-report"
        assert [c.position for c in chunks] == list(range(len(chunks)))
        assert chunks[0].section == ("第一章 总则",)
        assert chunks[-1].section == ("第二章 布局",)
        assert "第二章" not in "".join(c.text for c in chunks)  # headings live in the section path

    def test_neighbours_share_one_sentence(self):
        report = make_report("第一章 总则\n\n" + long_section(20))
        chunks = chunk_report(
            report, ChunkerSettings(max_chars=120, min_chars=20, overlap_sentences=1)
        )
        for a, b in zip(chunks, chunks[1:], strict=False):
            assert b.char_start < a.char_end
            last_sentence = re.findall(r"[^。]*。", a.text)[-1]
            assert b.text.startswith(last_sentence)

    def test_no_overlap_when_asked(self):
        report = make_report(long_section(20))
        chunks = chunk_report(
            report, ChunkerSettings(max_chars=120, min_chars=20, overlap_sentences=0)
        )
        for a, b in zip(chunks, chunks[1:], strict=False):
            assert b.char_start >= a.char_end

    def test_small_trailing_bit_merges(self):
        report = make_report("第一章 总则\n\n" + long_section(3) + "尾巴。")
        chunks = chunk_report(report, ChunkerSettings(max_chars=200, min_chars=40))
        assert chunks[-1].text.endswith("尾巴。")
        assert all(len(c.text) >= 40 for c in chunks)

    def test_heading_without_body_is_kept(self):
        report = make_report("第一章 总则\n\n第二章 布局\n\n布局内容。")
        texts = [c.text for c in chunk_report(report)]
        assert any("第一章 总则" in t for t in texts)

    def test_small_table_stays_whole(self):
        rows = "\n".join(f"项目{i}\t位于{i}号地块" for i in range(5))
        report = make_report("表 1 项目表\n\n项目名称\t项目内容\n" + rows)
        chunks = chunk_report(report, ChunkerSettings(max_chars=100, min_chars=10))
        table = [c for c in chunks if "\t" in c.text]
        assert len(table) == 1 and table[0].text.startswith("项目名称\t项目内容")

    def test_big_table_repeats_its_header(self):
        rows = "\n".join(
            f"项目{i:02d}\t位于张家湾设计小镇南起广开街北至京津公路城市主干路{i}" for i in range(30)
        )
        report = make_report("项目名称\t项目内容\n" + rows)
        chunks = chunk_report(report, ChunkerSettings(max_chars=200, min_chars=10))
        assert len(chunks) > 2
        for c in chunks:
            assert c.text.startswith("项目名称\t项目内容\n")
            assert len(c.text) <= 200
        assert chunks[0].text == report.text[chunks[0].char_start : chunks[0].char_end]
        for c in chunks[1:]:
            assert c.text == "项目名称\t项目内容\n" + report.text[c.char_start : c.char_end]

    def test_ids_are_stable(self):
        report = make_report("第一章 总则\n\n" + long_section(10))
        first = [c.chunk_id for c in chunk_report(report)]
        assert first == [c.chunk_id for c in chunk_report(report)]
        assert all(re.fullmatch(r"demo:\d{4}:[0-9a-f]{8}", i) for i in first)


@pytest.fixture(scope="module")
def bundled() -> dict[str, list]:
    return {r.entry.doc_id: chunk_report(r) for r in load_reports(REPORTS)}


class TestBundledChunks:
    def test_sizes_and_spans(self, bundled):
        for doc_id, chunks in bundled.items():
            assert chunks, doc_id
            for c in chunks:
                limit = 800 if "\t" in c.text or c.text.startswith("|") else 400
                assert len(c.text) <= limit, (doc_id, c.chunk_id)
                assert c.line_start <= c.line_end

    def test_no_chunk_ends_inside_a_number(self, bundled):
        for chunks in bundled.values():
            for a, b in zip(chunks, chunks[1:], strict=False):
                if b.char_start >= a.char_end and a.text[-1:].isdigit():
                    assert not b.text[:1].isdigit() and b.text[:1] != ".", a.chunk_id

    def test_overlap_present(self, bundled):
        chunks = bundled["capital-region-plan"]
        assert sum(b.char_start < a.char_end for a, b in zip(chunks, chunks[1:], strict=False)) > 10

    def test_population_chunk_has_its_chapter(self, bundled):
        hits = [
            c for c in bundled["checkup-2023"] if "常住人口2185.8万" in normalize_for_match(c.text)
        ]
        assert hits
        assert any("城市规模" in c.section_label or "第二章" in c.section_label for c in hits)

    def test_sections_of_a_plan(self, bundled):
        labels = {c.section_label for c in bundled["tongzhou-15th-fyp"]}
        assert any(
            lab.startswith("第一篇 加力奋进样板路 承前启后谱新篇 > 第一章") for lab in labels
        )

    def test_ids_are_stable_across_runs(self, bundled):
        again = {r.entry.doc_id: chunk_report(r) for r in load_reports(REPORTS)}
        assert {k: [c.chunk_id for c in v] for k, v in again.items()} == {
            k: [c.chunk_id for c in v] for k, v in bundled.items()
        }
