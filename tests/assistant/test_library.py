"""Report management as the app uses it: list, upload, remove, hide and restore, with rollback."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import pytest

from assistant import library
from assistant.cli import main
from assistant.services import open_retriever
from assistant.settings import Settings
from corpus.errors import CorpusError, IndexMissingError, PlanQAError
from corpus.reading import load_reports
from retriever import index as index_store

UPLOAD_TXT = (
    "北京市地下管廊建设年报（2024年度）\n"
    "第一章 管廊\n"
    "全市综合管廊建成里程达到286公里，较上年增加18公里。\n"
    "第二章 海绵城市\n"
    "海绵城市达标面积占建成区比例达到38%。\n"
)
UPLOAD_MD = (
    "# 城市更新专项规划\n\n## 老旧小区\n\n累计完成老旧小区综合整治项目1120个，惠及居民40万户。\n"
)


@pytest.fixture()
def settings(tiny_corpus: Path, tmp_path: Path) -> Settings:
    return Settings.from_env(
        {
            "PLANQA_CORPUS_DIR": str(tiny_corpus),
            "PLANQA_INDEX_DIR": str(tmp_path / "idx"),
            "PLANQA_DATA_DIR": str(tmp_path / "data"),
        }
    )


@pytest.fixture()
def indexed(settings, embedder, tokenizer) -> Settings:
    library.rebuild(settings, embedder=embedder, tokenizer=tokenizer)
    return settings


def _snapshot(settings: Settings) -> dict[str, bytes | None]:
    """Every file and folder of the corpus, the data folder and the index, with its bytes."""
    out: dict[str, bytes | None] = {}
    for root in (settings.corpus_dir, settings.data_dir, settings.index_dir):
        if root.exists():
            for path in sorted(root.rglob("*")):
                out[str(path)] = path.read_bytes() if path.is_file() else None
    return out


def _search(settings, embedder, tokenizer, query: str) -> list[str]:
    retriever = open_retriever(settings, embedder=embedder, tokenizer=tokenizer)
    return [hit.chunk.text for hit in retriever.run(query, top_k=3)]


def _docx_bytes(*paragraphs: str) -> bytes:
    import docx

    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


class TestUpload:
    def test_txt_upload_is_indexed_and_found(self, indexed, embedder, tokenizer):
        seen: list[tuple[int, int]] = []
        summary = library.add_report(
            indexed,
            "管廊年报.txt",
            UPLOAD_TXT.encode("utf-8"),
            progress=lambda done, total: seen.append((done, total)),
            embedder=embedder,
            tokenizer=tokenizer,
        )
        assert summary.rebuilt_reports == ["upload_管廊年报.txt"]
        assert sorted(summary.reused_reports) == ["a_transport.txt", "b_population.txt"]
        done = summary.embedded_chunks + summary.embedded_sentences
        assert seen[0][0] == 0 and seen[-1][0] == seen[-1][1] == done > summary.embedded_chunks > 0
        assert (indexed.uploads_dir / "upload_管廊年报.txt").read_bytes() == UPLOAD_TXT.encode()

        texts = _search(indexed, embedder, tokenizer, "综合管廊建成里程是多少")
        assert "286公里" in texts[0]
        row = next(r for r in library.list_reports(indexed) if r.source == "uploaded")
        # The title is the document's first line, and its year comes from the title.
        assert row.title == "北京市地下管廊建设年报（2024年度）" and row.year == 2024
        assert row.state == "indexed" and row.n_chunks > 0 and row.kind == "uploaded"

    def test_md_upload_with_title_and_year(self, indexed, embedder, tokenizer):
        library.add_report(
            indexed,
            "更新规划.md",
            UPLOAD_MD.encode("utf-8"),
            title="城市更新专项规划（2021—2025年）",
            year=2021,
            kind="special-plan",
            embedder=embedder,
            tokenizer=tokenizer,
        )
        retriever = open_retriever(indexed, embedder=embedder, tokenizer=tokenizer)
        hit = retriever.run("老旧小区综合整治项目有多少个", top_k=1)[0]
        assert "1120个" in hit.chunk.text
        assert hit.chunk.title == "城市更新专项规划（2021—2025年）"
        assert hit.chunk.year == 2021 and hit.chunk.kind == "special-plan"
        catalog = json.loads((indexed.uploads_dir / "catalog.json").read_text(encoding="utf-8"))
        assert [e["file"] for e in catalog] == ["upload_更新规划.md"]

    def test_docx_upload(self, indexed, embedder, tokenizer):
        data = _docx_bytes("副中心站综合交通枢纽", "枢纽日均客流量设计为30万人次。")
        library.add_report(indexed, "枢纽.docx", data, embedder=embedder, tokenizer=tokenizer)
        assert "30万人次" in _search(indexed, embedder, tokenizer, "枢纽日均客流量")[0]

    def test_first_upload_into_an_empty_index(self, settings, embedder, tokenizer):
        library.add_report(
            settings, "a.txt", UPLOAD_TXT.encode(), embedder=embedder, tokenizer=tokenizer
        )
        assert {r.state for r in library.list_reports(settings)} == {"indexed"}

    def test_unsafe_names_are_made_safe(self):
        assert (
            library.safe_upload_name("../../etc/城市 规划 v1.0.TXT") == "upload_城市_规划_v1_0.txt"
        )
        assert (
            library.safe_upload_name("C:\\Users\\me\\规划（草案）.PDF") == "upload_规划（草案）.pdf"
        )
        assert library.safe_upload_name("..md") == "upload_report.md"


class TestUploadRejected:
    def _assert_rejected(self, settings, filename, data, match, **kw):
        before = _snapshot(settings)
        with pytest.raises(CorpusError, match=match):
            library.add_report(settings, filename, data, **kw)
        assert _snapshot(settings) == before

    def test_too_large(self, indexed, tmp_path):
        small = Settings.from_env(
            {
                "PLANQA_CORPUS_DIR": str(indexed.corpus_dir),
                "PLANQA_INDEX_DIR": str(indexed.index_dir),
                "PLANQA_DATA_DIR": str(indexed.data_dir),
                "PLANQA_UPLOAD_MAX_MB": "1",
            }
        )
        data = UPLOAD_TXT.encode() * (1024 * 1024 // len(UPLOAD_TXT.encode()) + 1)
        self._assert_rejected(small, "big.txt", data, "limit is 1 MB")

    @pytest.mark.parametrize("filename", ["报告.exe", "报告", "notes.rtf"])
    def test_unsupported_type(self, indexed, filename):
        self._assert_rejected(indexed, filename, UPLOAD_TXT.encode(), "cannot be added.*\\.docx")

    @pytest.mark.parametrize(
        "filename, data, match",
        [
            ("empty.txt", b"", "is empty"),
            ("blank.txt", "  \n\u3000\n".encode(), "no text"),
            ("binary.txt", b"\x00\x01\x02", "binary"),
            ("garbled.txt", b"\xff\xff\x80abc", "not UTF-8 or GB18030"),
            ("damaged.pdf", b"%PDF-1.4\n1 0 obj <<>> broken", "damaged.pdf: cannot be read"),
            ("damaged.docx", b"PK\x03\x04 not a zip", "damaged.docx: cannot be read"),
        ],
    )
    def test_unreadable_or_empty(self, indexed, filename, data, match):
        self._assert_rejected(indexed, filename, data, match)

    def test_duplicates(self, indexed, embedder, tokenizer):
        library.add_report(
            indexed, "管廊.txt", UPLOAD_TXT.encode(), embedder=embedder, tokenizer=tokenizer
        )
        self._assert_rejected(
            indexed, "管廊.txt", b"other text", "file name is already there.*管廊建设年报"
        )
        self._assert_rejected(
            indexed, "copy.txt", UPLOAD_TXT.encode(), "already in the corpus.*管廊建设年报"
        )
        bundled = (indexed.corpus_dir / "a_transport.txt").read_bytes()
        self._assert_rejected(indexed, "交通.txt", bundled, "《交通与生态年报（2024年度）》")


class TestRollback:
    @pytest.mark.parametrize(
        "error, expected, earlier_upload",
        [(RuntimeError, PlanQAError, True), (KeyboardInterrupt, KeyboardInterrupt, False)],
    )
    def test_failed_build_leaves_files_catalog_and_index_as_before(
        self, indexed, embedder, tokenizer, monkeypatch, error, expected, earlier_upload
    ):
        if earlier_upload:
            library.add_report(
                indexed, "更新.md", UPLOAD_MD.encode(), embedder=embedder, tokenizer=tokenizer
            )
        before = _snapshot(indexed)
        placed: list[bool] = []

        def crash(texts, progress=None):
            placed.append((indexed.uploads_dir / "upload_管廊.txt").is_file())
            raise error("embedding failed")

        monkeypatch.setattr(embedder, "embed_passages", crash)
        with pytest.raises(expected):
            library.add_report(
                indexed, "管廊.txt", UPLOAD_TXT.encode(), embedder=embedder, tokenizer=tokenizer
            )
        assert placed == [True]  # it failed after the file was in the corpus
        assert _snapshot(indexed) == before
        monkeypatch.undo()
        open_retriever(indexed, embedder=embedder, tokenizer=tokenizer)  # not stale

    def test_failed_removal_puts_the_report_back(self, indexed, embedder, tokenizer, monkeypatch):
        library.add_report(
            indexed, "管廊.txt", UPLOAD_TXT.encode(), embedder=embedder, tokenizer=tokenizer
        )
        before = _snapshot(indexed)

        def crash(text):
            raise RuntimeError("tokenizer failed")

        monkeypatch.setattr(tokenizer, "tokenize", crash)
        with pytest.raises(PlanQAError, match="left as they were"):
            library.remove_report(indexed, "upload_管廊", embedder=embedder, tokenizer=tokenizer)
        with pytest.raises(PlanQAError):
            library.remove_report(indexed, "transport", embedder=embedder, tokenizer=tokenizer)
        assert _snapshot(indexed) == before


class TestRemoveAndHide:
    def test_remove_uploaded(self, indexed, embedder, tokenizer):
        library.add_report(
            indexed, "管廊.txt", UPLOAD_TXT.encode(), embedder=embedder, tokenizer=tokenizer
        )
        summary = library.remove_report(
            indexed, "upload_管廊", embedder=embedder, tokenizer=tokenizer
        )
        assert summary.removed_reports == ["upload_管廊.txt"] and summary.embedded_chunks == 0
        assert not (indexed.uploads_dir / "upload_管廊.txt").exists()
        catalog = json.loads((indexed.uploads_dir / "catalog.json").read_text(encoding="utf-8"))
        assert catalog == []
        assert [p.name for p in indexed.uploads_dir.iterdir()] == ["catalog.json"]
        retriever = open_retriever(indexed, embedder=embedder, tokenizer=tokenizer)
        assert {c.doc_id for c in retriever.index.chunks} == {"transport", "population"}

    def test_hide_and_restore_bundled(self, indexed, embedder, tokenizer):
        bundled = indexed.corpus_dir / "a_transport.txt"
        original = bundled.read_bytes()
        library.remove_report(indexed, "transport", embedder=embedder, tokenizer=tokenizer)
        assert bundled.read_bytes() == original  # the package's files are never changed
        assert indexed.hidden_files == {"a_transport.txt"}
        row = next(r for r in library.list_reports(indexed) if r.doc_id == "transport")
        assert row.hidden and row.state == "not indexed" and row.n_chunks == 0
        retriever = open_retriever(indexed, embedder=embedder, tokenizer=tokenizer)
        assert {c.doc_id for c in retriever.index.chunks} == {"population"}
        with pytest.raises(CorpusError, match="already hidden"):
            library.remove_report(indexed, "transport", embedder=embedder, tokenizer=tokenizer)

        library.restore_report(indexed, "a_transport.txt", embedder=embedder, tokenizer=tokenizer)
        assert indexed.hidden_files == frozenset()
        assert "836公里" in _search(indexed, embedder, tokenizer, "轨道交通运营里程")[0]
        with pytest.raises(CorpusError, match="not a hidden report"):
            library.restore_report(indexed, "a_transport.txt")

    def test_unknown_id(self, indexed):
        with pytest.raises(CorpusError, match="'nope'.*transport"):
            library.remove_report(indexed, "nope")


class TestListAndStaleness:
    def test_states(self, settings, embedder, tokenizer):
        rows = library.list_reports(settings)
        assert [(r.doc_id, r.state, r.n_chunks, r.source) for r in rows] == [
            ("transport", "not indexed", 0, "bundled"),
            ("population", "not indexed", 0, "bundled"),
        ]
        assert rows[0].title == "交通与生态年报（2024年度）" and rows[0].year == 2024
        library.rebuild(settings, embedder=embedder, tokenizer=tokenizer)
        assert {r.state for r in library.list_reports(settings)} == {"indexed"}

        (settings.corpus_dir / "b_population.txt").write_text("一、新\n内容变了。\n", "utf-8")
        settings.uploads_dir.mkdir(parents=True)
        (settings.uploads_dir / "新报告.txt").write_text("新报告\n新的内容。\n", "utf-8")
        states = {r.file: (r.state, r.source) for r in library.list_reports(settings)}
        assert states == {
            "a_transport.txt": ("indexed", "bundled"),
            "b_population.txt": ("changed", "bundled"),
            "新报告.txt": ("not indexed", "uploaded"),
        }

    def test_stale_reason_sees_the_uploads_folder(self, indexed, embedder, tokenizer):
        settings = indexed
        settings.uploads_dir.mkdir(parents=True)
        (settings.uploads_dir / "新报告.txt").write_text("新报告\n新的内容。\n", "utf-8")
        with pytest.raises(IndexMissingError, match="新报告.txt is new"):
            open_retriever(settings, embedder=embedder, tokenizer=tokenizer)
        library.rebuild(settings, embedder=embedder, tokenizer=tokenizer)
        loaded = index_store.load(settings.index_dir)
        assert index_store.stale_reason(loaded, settings.corpus_dirs) == ""
        # The reports folder alone no longer describes the index.
        assert "新报告.txt was removed" in index_store.stale_reason(loaded, settings.corpus_dir)

    def test_a_name_in_two_folders_is_an_error(self, tiny_corpus, tmp_path):
        other = tmp_path / "other"
        other.mkdir()
        (other / "a_transport.txt").write_text("另一份\n内容。\n", "utf-8")
        with pytest.raises(CorpusError, match="Two reports are both named a_transport.txt"):
            load_reports([tiny_corpus, other])
        assert len(load_reports([tiny_corpus, other], hidden={"a_transport.txt"})) == 1


class TestCliIndex:
    @pytest.fixture()
    def env(self, settings, tmp_path, monkeypatch):
        for key in ("PLANQA_CONFIG", "PLANQA_EMBEDDER", "PLANQA_CHUNK_SIZE"):
            monkeypatch.delenv(key, raising=False)
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("PLANQA_CORPUS_DIR", str(settings.corpus_dir))
        monkeypatch.setenv("PLANQA_INDEX_DIR", str(settings.index_dir))
        monkeypatch.setenv("PLANQA_DATA_DIR", str(settings.data_dir))
        settings.uploads_dir.mkdir(parents=True)
        (settings.uploads_dir / "新报告.txt").write_text("新报告\n新的内容。\n", "utf-8")
        settings.hidden_file.write_text('["a_transport.txt"]', encoding="utf-8")
        return settings

    def test_planqa_index_covers_uploads_and_skips_hidden(self, env, capsys):
        assert main(["index", "--quiet"]) == 0
        files = {s.file for s in index_store.load(env.index_dir).manifest.sources}
        assert files == {"b_population.txt", "新报告.txt"}

    def test_corpus_flag_is_exactly_that_folder(self, env, capsys):
        assert main(["index", "--quiet", "--corpus", str(env.corpus_dir)]) == 0
        files = {s.file for s in index_store.load(env.index_dir).manifest.sources}
        assert files == {"a_transport.txt", "b_population.txt"}


class _HeldEmbedder:
    """The real embedder, held at its first batch until the test lets it go."""

    def __init__(self, embedder) -> None:
        self._embedder = embedder
        self.embedding = threading.Event()
        self.release = threading.Event()

    def __getattr__(self, name: str):
        return getattr(self._embedder, name)

    def embed_passages(self, texts, progress=None):
        self.embedding.set()
        assert self.release.wait(timeout=60)
        return self._embedder.embed_passages(texts, progress=progress)


def test_a_second_upload_waits_for_the_first(indexed, embedder, tokenizer):
    held = _HeldEmbedder(embedder)
    errors: list[BaseException] = []

    def upload(name: str, text: str, with_embedder) -> None:
        try:
            library.add_report(
                indexed, name, text.encode(), embedder=with_embedder, tokenizer=tokenizer
            )
        except BaseException as exc:  # reported by the assert below
            errors.append(exc)

    first = threading.Thread(target=upload, args=("管廊.txt", UPLOAD_TXT, held))
    second = threading.Thread(target=upload, args=("更新.md", UPLOAD_MD, embedder))
    first.start()
    try:
        assert held.embedding.wait(timeout=60)
        second.start()
        second.join(timeout=2)
        # While the first build runs, the second upload has not even placed its file.
        assert second.is_alive() and not (indexed.uploads_dir / "upload_更新.md").exists()
    finally:
        held.release.set()
        first.join()
        if second.ident is not None:
            second.join()
    assert errors == []
    rows = library.list_reports(indexed)
    assert {r.file for r in rows if r.source == "uploaded"} == {"upload_管廊.txt", "upload_更新.md"}
    assert {r.state for r in rows} == {"indexed"}
