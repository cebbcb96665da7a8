"""The on-disk index: build, incremental update, no-op, atomic swap, damage and staleness."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil

import pytest

from corpus.chunking import ChunkerSettings
from corpus.errors import IndexMissingError
from retriever import index as index_store
from retriever.tokenizer import TOKENIZER_VERSION


def _build(corpus, index_dir, embedder, tokenizer, **kw):
    return index_store.build(corpus, index_dir, embedder, tokenizer, ChunkerSettings(), **kw)


class TestIndexBuild:
    def test_build_writes_manifest_chunks_vectors_and_bm25(self, tiny_corpus, tmp_path, embedder, tokenizer):
        summary = _build(tiny_corpus, tmp_path / "idx", embedder, tokenizer)
        assert not summary.unchanged and summary.reports == 2 and summary.chunks > 0
        loaded = index_store.load(tmp_path / "idx")
        m = loaded.manifest
        assert m.schema_version == index_store.SCHEMA_VERSION
        assert m.embedder_id == embedder.embedder_id and m.dim == 384
        assert m.chunker == ChunkerSettings().to_dict()
        assert {s.file for s in m.sources} == {"a_transport.txt", "b_population.txt"}
        assert all(len(s.sha256) == 64 for s in m.sources)
        assert len(loaded.chunks) == loaded.vectors.ntotal == loaded.bm25.n_docs
        # Titles come from the catalog, never the file name.
        assert {c.title for c in loaded.chunks} == {"交通与生态年报（2024年度）", "人口与文化年报（2023年度）"}
        files = {p.name for p in loaded.path.iterdir()}
        assert {"manifest.json", "chunks.jsonl", "dense.faiss", "bm25.json"} <= files
        assert not any(p.suffix == ".pkl" for p in loaded.path.iterdir())

    def test_noop_when_nothing_changed(self, tiny_corpus, tmp_path, embedder, tokenizer):
        _build(tiny_corpus, tmp_path / "idx", embedder, tokenizer)
        before = index_store.current_generation(tmp_path / "idx")
        again = _build(tiny_corpus, tmp_path / "idx", embedder, tokenizer)
        assert again.unchanged and again.embedded_chunks == 0
        assert index_store.current_generation(tmp_path / "idx") == before

    def test_only_changed_report_is_reembedded_and_removed_ones_dropped(
        self, tiny_corpus, tmp_path, embedder, tokenizer
    ):
        first = _build(tiny_corpus, tmp_path / "idx", embedder, tokenizer)
        path = tiny_corpus / "b_population.txt"
        path.write_text(path.read_text(encoding="utf-8") + "三、住房\n新增保障性租赁住房8万套。\n", "utf-8")
        second = _build(tiny_corpus, tmp_path / "idx", embedder, tokenizer)
        assert second.rebuilt_reports == ["b_population.txt"]
        assert second.reused_reports == ["a_transport.txt"]
        assert 0 < second.embedded_chunks < second.chunks or first.chunks == 1
        texts = [c.text for c in index_store.load(tmp_path / "idx").chunks]
        assert any("保障性租赁住房" in t for t in texts)

        (tiny_corpus / "a_transport.txt").unlink()
        third = _build(tiny_corpus, tmp_path / "idx", embedder, tokenizer)
        assert third.removed_reports == ["a_transport.txt"] and third.embedded_chunks == 0
        loaded = index_store.load(tmp_path / "idx")
        assert {c.doc_id for c in loaded.chunks} == {"population"}

    def test_changed_chunker_rebuilds_everything(self, tiny_corpus, tmp_path, embedder, tokenizer):
        _build(tiny_corpus, tmp_path / "idx", embedder, tokenizer)
        summary = index_store.build(
            tiny_corpus, tmp_path / "idx", embedder, tokenizer, ChunkerSettings(max_chars=200)
        )
        assert not summary.unchanged and summary.reused_reports == []
        assert summary.embedded_chunks == summary.chunks

    def test_interrupted_build_leaves_previous_index_usable(
        self, tiny_corpus, tmp_path, embedder, tokenizer, monkeypatch
    ):
        _build(tiny_corpus, tmp_path / "idx", embedder, tokenizer)
        before = [c.chunk_id for c in index_store.load(tmp_path / "idx").chunks]
        (tiny_corpus / "a_transport.txt").write_text("第一章 新\n全新的内容。\n", encoding="utf-8")

        def crash(*args, **kwargs):
            raise KeyboardInterrupt  # as if Ctrl-C arrived while files were being written

        monkeypatch.setattr(index_store.BM25Index, "save", crash)
        with pytest.raises(KeyboardInterrupt):
            _build(tiny_corpus, tmp_path / "idx", embedder, tokenizer)
        after = index_store.load(tmp_path / "idx")
        assert [c.chunk_id for c in after.chunks] == before
        assert not [p for p in (tmp_path / "idx").iterdir() if p.name.endswith(".partial")]

    def test_killed_writer_leftovers_are_ignored_then_cleaned(self, tiny_corpus, tmp_path, embedder, tokenizer):
        _build(tiny_corpus, tmp_path / "idx", embedder, tokenizer)
        junk = tmp_path / "idx" / ".gen-x.partial"
        junk.mkdir()
        (junk / "chunks.jsonl").write_text("{broken", encoding="utf-8")
        index_store.load(tmp_path / "idx")  # still loads the complete generation
        (tiny_corpus / "a_transport.txt").write_text("第一章 新\n全新的内容。\n", encoding="utf-8")
        _build(tiny_corpus, tmp_path / "idx", embedder, tokenizer)
        assert not junk.exists()


class TestSentenceVectors:
    """Every sentence of the chunks is embedded with them, once, and looked up by text."""

    def test_every_sentence_has_its_vector(self, tiny_corpus, tmp_path, embedder, tokenizer):
        import numpy as np

        from corpus.sentences import sentence_texts

        summary = _build(tiny_corpus, tmp_path / "idx", embedder, tokenizer)
        loaded = index_store.load(tmp_path / "idx")
        texts = {t for c in loaded.chunks for t in sentence_texts(c.text)}
        store = loaded.sentences
        assert set(store.texts) == texts and summary.embedded_sentences == len(texts)
        assert store.dim == 384 and {"sentences.json", "sentences.npy"} <= {
            p.name for p in loaded.path.iterdir()
        }
        sentence = "全市森林覆盖率达到44.9%，平原地区森林覆盖率达到32.5%。"
        stored = store.vectors[store.texts.index(sentence)].astype(np.float32)
        fresh = embedder.embed_passages([sentence])[0]
        assert abs(float(np.linalg.norm(stored)) - 1) < 1e-2 and float(stored @ fresh) > 0.999
        # a question is closest in meaning to the sentence that answers it
        query = embedder.embed_queries(["全市森林覆盖率是多少？"])[0]
        sims = store.similarities(query, store.texts)
        assert store.texts[int(np.argmax(sims))] == sentence

    def test_a_sentence_the_index_lacks_is_embedded_on_use(
        self, tiny_corpus, tmp_path, embedder, tokenizer
    ):
        _build(tiny_corpus, tmp_path / "idx", embedder, tokenizer)
        store = index_store.load(tmp_path / "idx").sentences
        query = embedder.embed_queries(["新增保障性租赁住房多少套？"])[0]
        new = "新增保障性租赁住房8万套。"
        assert new not in store.texts
        assert store.similarities(query, [new]) == [None]  # no embedder: unknown
        with_model = store.similarities(query, [new, store.texts[0]], embedder)
        assert with_model[0] == pytest.approx(float(embedder.embed_passages([new])[0] @ query), abs=1e-3)
        assert with_model[0] > with_model[1]

    def test_an_update_embeds_only_sentences_not_seen_before(
        self, tiny_corpus, tmp_path, embedder, tokenizer
    ):
        _build(tiny_corpus, tmp_path / "idx", embedder, tokenizer)
        path = tiny_corpus / "b_population.txt"
        path.write_text(path.read_text(encoding="utf-8") + "三、住房\n新增保障性租赁住房8万套。\n", "utf-8")
        second = _build(tiny_corpus, tmp_path / "idx", embedder, tokenizer)
        assert second.rebuilt_reports == ["b_population.txt"]
        assert second.embedded_sentences == 1  # the added line; the report's others are reused
        assert "新增保障性租赁住房8万套。" in index_store.load(tmp_path / "idx").sentences.texts


class TestIndexErrors:
    def test_missing_index(self, tmp_path):
        with pytest.raises(IndexMissingError, match="planqa index"):
            index_store.load(tmp_path / "nothing")

    @pytest.mark.parametrize(
        "victim",
        ["chunks.jsonl", "dense.faiss", "bm25.json", "manifest.json", "sentences.json", "sentences.npy"],
    )
    def test_damaged_part_is_one_plain_error(self, tiny_corpus, tmp_path, embedder, tokenizer, victim):
        _build(tiny_corpus, tmp_path / "idx", embedder, tokenizer)
        gen = index_store.current_generation(tmp_path / "idx")
        (gen / victim).write_bytes(b"\x00garbage")
        with pytest.raises(IndexMissingError, match="planqa index"):
            index_store.load(tmp_path / "idx")

    def test_truncated_chunk_store_is_detected(self, tiny_corpus, tmp_path, embedder, tokenizer):
        _build(tiny_corpus, tmp_path / "idx", embedder, tokenizer)
        gen = index_store.current_generation(tmp_path / "idx")
        lines = (gen / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
        (gen / "chunks.jsonl").write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
        with pytest.raises(IndexMissingError, match="damaged"):
            index_store.load(tmp_path / "idx")

    def test_old_schema_is_rejected(self, tiny_corpus, tmp_path, embedder, tokenizer):
        _build(tiny_corpus, tmp_path / "idx", embedder, tokenizer)
        gen = index_store.current_generation(tmp_path / "idx")
        manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
        manifest["schema_version"] = 0
        (gen / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        with pytest.raises(IndexMissingError, match="another version"):
            index_store.load(tmp_path / "idx")

    def test_stale_reason_names_the_changed_file(self, tiny_corpus, tmp_path, embedder, tokenizer):
        _build(tiny_corpus, tmp_path / "idx", embedder, tokenizer)
        loaded = index_store.load(tmp_path / "idx")
        assert index_store.stale_reason(loaded, tiny_corpus) == ""
        shutil.copy(tiny_corpus / "a_transport.txt", tiny_corpus / "c_new.txt")
        assert "c_new.txt" in index_store.stale_reason(loaded, tiny_corpus)
        os.remove(tiny_corpus / "c_new.txt")
        (tiny_corpus / "a_transport.txt").write_text("改了。\n", encoding="utf-8")
        assert "a_transport.txt" in index_store.stale_reason(loaded, tiny_corpus)

    def test_an_index_cut_by_another_tokenizer_is_stale(self, tiny_corpus, tmp_path, embedder, tokenizer):
        _build(tiny_corpus, tmp_path / "idx", embedder, tokenizer)
        loaded = index_store.load(tmp_path / "idx")
        older = dataclasses.replace(loaded, manifest=dataclasses.replace(loaded.manifest, tokenizer="jieba-search-v1"))
        assert index_store.stale_reason(older, tiny_corpus) == (
            f"it was built with tokenizer jieba-search-v1, not {TOKENIZER_VERSION}"
        )
