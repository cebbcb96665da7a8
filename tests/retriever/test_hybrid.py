"""The hybrid search component: validation, modes, top_k, filters, preference, dedupe, rerank."""

from __future__ import annotations

import logging

import pytest

from corpus.chunking import ChunkerSettings
from corpus.errors import BadQueryError
from retriever import index as index_store
from retriever.filters import ReportFilter
from retriever.hybrid import HybridRetriever, RetrieverSettings
from retriever.lc_adapter import PlanQARetriever


@pytest.fixture()
def retriever(tiny_corpus, tmp_path, embedder, tokenizer) -> HybridRetriever:
    index_store.build(tiny_corpus, tmp_path / "idx", embedder, tokenizer, ChunkerSettings(max_chars=60, min_chars=10))
    return HybridRetriever(index_store.load(tmp_path / "idx"), embedder, tokenizer)


class TestRetrieverSettings:
    def test_defaults(self):
        s = RetrieverSettings()
        assert s.mode == "hybrid" and s.top_k > 0 and s.candidates >= s.top_k

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"top_k": 0}, {"mode": "fuzzy"}, {"bm25_weight": -1}, {"rrf_k": 0}, {"candidates": 1},
            {"quote_weight": -0.1}, {"quote_max_chunks": 0},
        ],
    )
    def test_invalid(self, kwargs):
        with pytest.raises(ValueError):
            RetrieverSettings(**kwargs)

    def test_round_trip(self):
        s = RetrieverSettings(top_k=7, bm25_weight=0.5)
        assert RetrieverSettings.from_dict(s.to_dict()) == s


class TestHybridRetriever:
    def test_finds_the_fact_in_every_mode(self, retriever):
        for mode in ("hybrid", "bm25", "dense"):
            hits = retriever.run("北京常住人口有多少？", top_k=2, mode=mode)
            assert "2185.8万人" in hits[0].chunk.text, mode

    def test_top_k_exact_ranks_and_scores_descend(self, retriever):
        hits = retriever.run("森林覆盖率和轨道交通", top_k=3)
        assert len(hits) == 3
        assert [h.rank for h in hits] == [1, 2, 3]
        assert all(a.score >= b.score for a, b in zip(hits, hits[1:], strict=False))
        assert all(h.dense_score is not None or h.bm25_score is not None for h in hits)

    @pytest.mark.parametrize("query", ["", "   \n"])
    def test_empty_query(self, retriever, query):
        with pytest.raises(BadQueryError, match="empty"):
            retriever.run(query)

    def test_bad_k_mode_and_report(self, retriever):
        with pytest.raises(BadQueryError, match="-k"):
            retriever.run("人口", top_k=0)
        with pytest.raises(BadQueryError, match="mode"):
            retriever.run("人口", mode="fuzzy")
        with pytest.raises(BadQueryError, match="Unknown report id"):
            retriever.run("人口", filters=ReportFilter(doc_ids=frozenset({"nope"})))

    def test_filters_restrict_reports(self, retriever):
        hits = retriever.run("森林覆盖率", top_k=5, filters=ReportFilter(doc_ids=frozenset({"population"})))
        assert hits and {h.chunk.doc_id for h in hits} == {"population"}
        hits = retriever.run("人口", filters=ReportFilter(years=frozenset({2024})))
        assert {h.chunk.year for h in hits} == {2024}

    def test_named_report_is_preferred(self, retriever):
        # Both reports state the figure; naming one of them decides which comes first.
        for question, doc_id in [
            ("交通年报里全年新增城市绿地多少？", "transport"),
            ("人口与文化年报（2023年度）里全年新增城市绿地多少？", "population"),
        ]:
            top = retriever.run(question, top_k=1)[0]
            assert top.chunk.doc_id == doc_id and "新增城市绿地" in top.chunk.text, question

    def test_quoted_term_is_preferred(self, retriever):
        question = "“绿色出行”和新增城市绿地各是多少"
        texts = {}
        for fusion in ("score", "rrf"):
            for weight in (0.0, 0.15):
                retriever.settings = RetrieverSettings(fusion=fusion, quote_weight=weight)
                texts[fusion, weight] = [h.chunk.text for h in retriever.run(question, top_k=3)]
            rank = {w: next(i for i, t in enumerate(texts[fusion, w]) if "绿色出行" in t) for w in (0.0, 0.15)}
            assert rank[0.15] < rank[0.0], (fusion, texts)

    def test_quoted_term_in_many_chunks_is_ignored(self, retriever):
        # "全年" is in two chunks: with at most one allowed, the quote changes nothing.
        question = "“全年”新增城市绿地多少"
        retriever.settings = RetrieverSettings(quote_weight=0.0)
        plain = [h.chunk.chunk_id for h in retriever.run(question, top_k=3)]
        retriever.settings = RetrieverSettings(quote_weight=5.0, quote_max_chunks=1)
        assert [h.chunk.chunk_id for h in retriever.run(question, top_k=3)] == plain
        retriever.settings = RetrieverSettings(quote_weight=5.0, quote_max_chunks=2)
        top = retriever.run(question, top_k=2)
        assert all("全年" in h.chunk.text for h in top)

    def test_no_near_duplicates_returned(self, retriever):
        hits = retriever.run("生态 交通 人口 文化", top_k=10)
        spans = [(h.chunk.doc_id, h.chunk.char_start, h.chunk.char_end) for h in hits]
        for i, (doc_a, s_a, e_a) in enumerate(spans):
            for doc_b, s_b, e_b in spans[i + 1 :]:
                if doc_a == doc_b:
                    shared = min(e_a, e_b) - max(s_a, s_b)
                    assert shared <= 0.5 * (e_b - s_b)  # the lower hit adds mostly new text

    def test_long_query_is_truncated_with_a_warning(self, retriever, caplog):
        with caplog.at_level(logging.WARNING):
            hits = retriever.run("常住人口" * 2500, top_k=2)
        assert hits and "characters long" in caplog.text

    def test_reranker_reorders(self, retriever):
        class PreferForests:
            def score(self, query, passages):
                return [1.0 if "森林" in p else 0.0 for p in passages]

        retriever.reranker = PreferForests()
        hits = retriever.run("北京常住人口", top_k=2)
        assert "森林" in hits[0].chunk.text and hits[0].rerank_score == 1.0
        assert len(hits) == 2


def test_langchain_adapter_returns_documents_with_metadata(retriever):
    lc = PlanQARetriever(retriever=retriever, k=2)
    docs = lc.invoke("中轴线申遗")
    assert len(docs) == 2
    top = docs[0]
    assert "中轴线" in top.page_content
    assert top.metadata["doc_id"] == "population"
    assert top.metadata["title"] == "人口与文化年报（2023年度）"
    assert top.metadata["chunk_id"] == top.id and top.metadata["line_start"] >= 1


def test_sentence_similarities_reuse_the_searched_question(retriever, embedder, monkeypatch):
    question = "全市森林覆盖率是多少？"
    sentences = ["全市森林覆盖率达到44.9%，平原地区森林覆盖率达到32.5%。", "城乡建设用地规模持续下降。"]
    retriever.run(question, top_k=3)
    calls: list[list[str]] = []
    real = embedder.embed_queries

    def counting(texts):
        calls.append(list(texts))
        return real(texts)

    monkeypatch.setattr(embedder, "embed_queries", counting)
    sims = retriever.sentence_similarities(question, sentences)
    assert calls == []  # the search's own question vector
    assert sims[0] > sims[1] > 0
    expected = embedder.embed_passages(sentences) @ real([question])[0]
    assert sims == pytest.approx(list(expected), abs=1e-3)
    retriever.sentence_similarities("北京中轴线列入了什么名录？", sentences)
    assert calls == [["北京中轴线列入了什么名录？"]]
    assert retriever.sentence_similarities(question, []) == []
