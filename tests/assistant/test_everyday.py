"""Everyday words of a question counted as the reports' words for the same thing
(`retriever/data/everyday.txt`, `assistant.chain.query_coverage`)."""

from __future__ import annotations

from assistant.settings import ChainSettings
from retriever import index as index_store
from retriever.hybrid import HybridRetriever


def test_everyday_words_count_as_their_report_words(
    bundled_index, embedder, tokenizer, monkeypatch
):
    """ "剩饭剩菜" is no word of the reports; their "厨余" is: the question is covered, so the
    model is asked instead of the relevance gate refusing it (`assistant.chain.query_coverage`)."""
    import assistant.chain as chain

    bundled = HybridRetriever(index_store.load(bundled_index), embedder, tokenizer)
    question = "通州专门处理剩饭剩菜的那个中心，每天能处理多少吨？"
    hits = bundled.run(question, top_k=6)
    assert any("2100" in h.chunk.text for h in hits[:3])
    assert chain.everyday_words()["剩饭剩菜"] == ("厨余",)
    covered = chain.query_coverage(question, hits, bundled)
    monkeypatch.setattr(chain, "everyday_words", dict)
    plain = chain.query_coverage(question, hits, bundled)
    assert plain < ChainSettings().min_coverage <= covered
