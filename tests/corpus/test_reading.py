"""Reading files of every supported kind, and loading a corpus folder."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from corpus.catalog import entry_for, load_catalog
from corpus.errors import CorpusError
from corpus.reading import load_reports, read_source, sha256_file

REPORTS = Path(__file__).resolve().parents[2] / "corpus" / "reports"


class TestReadSource:
    def test_utf8_with_and_without_bom(self, tmp_path):
        (tmp_path / "a.txt").write_bytes("规划正文。".encode())
        (tmp_path / "b.md").write_bytes(b"\xef\xbb\xbf" + "# 标题\n正文。".encode())
        assert read_source(tmp_path / "a.txt") == "规划正文。"
        assert read_source(tmp_path / "b.md") == "# 标题\n正文。"

    def test_gbk(self, tmp_path):
        (tmp_path / "gbk.txt").write_bytes("北京城市总体规划实施体检报告。".encode("gbk"))
        assert read_source(tmp_path / "gbk.txt") == "北京城市总体规划实施体检报告。"

    @pytest.mark.parametrize(
        "name, data",
        [
            ("empty.txt", b"  \n\t"),
            ("binary.txt", b"\x00\x01\x02abc"),
            ("bad.txt", b"\xff\xfe\xfa\xfb" * 3),
        ],
    )
    def test_unusable_text_names_the_file(self, tmp_path, name, data):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(CorpusError, match=name):
            read_source(tmp_path / name)

    def test_unsupported_suffix(self, tmp_path):
        (tmp_path / "x.rtf").write_text("正文")
        with pytest.raises(CorpusError, match="x.rtf"):
            read_source(tmp_path / "x.rtf")

    def test_damaged_pdf_and_docx(self, tmp_path):
        for name in ("broken.pdf", "broken.docx"):
            (tmp_path / name).write_bytes(b"not really")
            with pytest.raises(CorpusError, match=name):
                read_source(tmp_path / name)

    def test_docx_paragraphs_and_tables(self, tmp_path):
        docx = pytest.importorskip("docx")
        document = docx.Document()
        document.add_paragraph("第一章 总则")
        document.add_paragraph("规划正文。")
        table = document.add_table(rows=2, cols=2)
        for r, row in enumerate([("项目", "内容"), ("公园", "绿化")]):
            for c, value in enumerate(row):
                table.cell(r, c).text = value
        document.save(tmp_path / "plan.docx")
        text = read_source(tmp_path / "plan.docx")
        assert text.split("\n") == [
            "第一章 总则",
            "规划正文。",
            "| 项目 | 内容 |",
            "| 公园 | 绿化 |",
        ]

    def test_pdf(self, tmp_path):
        pypdf = pytest.importorskip("pypdf")
        writer = pypdf.PdfWriter()
        writer.add_blank_page(width=200, height=200)
        writer.write(tmp_path / "blank.pdf")
        with pytest.raises(CorpusError, match="no text"):
            read_source(tmp_path / "blank.pdf")


class TestLoadReports:
    def test_bundled_reports(self):
        reports = load_reports(REPORTS)
        assert [r.entry.doc_id for r in reports] == [
            "checkup-2024",
            "checkup-2023",
            "capital-region-plan",
            "tongzhou-15th-fyp",
            "jjj-overview",
        ]
        for r in reports:
            assert len(r.text) == len(r.line_map)
            assert r.sha256 == hashlib.sha256(Path(r.source_path).read_bytes()).hexdigest()
        assert reports[1].entry.aliases

    def test_bad_files_are_skipped_with_a_warning(self, tmp_path):
        (tmp_path / "a.txt").write_text("第一份报告。", encoding="utf-8")
        (tmp_path / "b.txt").write_bytes(b"\x00\x00")
        (tmp_path / "c.txt").write_text("   ", encoding="utf-8")
        (tmp_path / "notes.rtf").write_text("ignored", encoding="utf-8")
        warnings: list[str] = []
        reports = load_reports(tmp_path, warn=warnings.append)
        assert [Path(r.source_path).name for r in reports] == ["a.txt"]
        assert [w.split(":")[0] for w in warnings] == ["skipped b.txt", "skipped c.txt"]

    def test_missing_folder(self, tmp_path):
        with pytest.raises(CorpusError, match="does not exist"):
            load_reports(tmp_path / "nope")
        (tmp_path / "file.txt").write_text("x")
        with pytest.raises(CorpusError):
            load_reports(tmp_path / "file.txt")

    def test_sources_are_never_written(self, tmp_path):
        path = tmp_path / "a.txt"
        path.write_text("第一份报告。", encoding="utf-8")
        os.chmod(path, 0o444)
        before = (path.stat().st_mtime_ns, sha256_file(path))
        load_reports(tmp_path)
        assert (path.stat().st_mtime_ns, sha256_file(path)) == before


class TestCatalog:
    def test_missing_catalog_is_empty(self, tmp_path):
        assert load_catalog(tmp_path) == {}

    def test_malformed_catalog(self, tmp_path):
        (tmp_path / "catalog.json").write_text("{not json", encoding="utf-8")
        with pytest.raises(CorpusError, match="catalog.json"):
            load_catalog(tmp_path)

    def test_bundled_catalog(self):
        catalog = load_catalog(REPORTS)
        entry = catalog["001_c428c9fd66e3c585.txt"]
        assert (entry.doc_id, entry.year, entry.kind) == ("checkup-2023", 2023, "checkup-report")

    def test_unknown_file_gets_a_derived_entry(self):
        entry = entry_for(
            Path("/x/My Report 2.txt"), {}, "\n\n# 北京市交通发展年度报告（2022年）\n正文"
        )
        assert entry.doc_id == "my-report-2"
        assert entry.title == "北京市交通发展年度报告（2022年）"
        assert (entry.year, entry.kind, entry.file) == (2022, "document", "My Report 2.txt")

    def test_derived_entry_without_text_uses_the_stem(self):
        entry = entry_for(Path("plan.txt"), {}, "")
        assert (entry.title, entry.year) == ("plan", None)
