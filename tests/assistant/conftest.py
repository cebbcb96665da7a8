"""Fixtures of the assistant tests: a retriever over the tiny corpus."""

from __future__ import annotations

import pytest

from corpus.chunking import ChunkerSettings
from retriever import index as index_store
from retriever.hybrid import HybridRetriever


@pytest.fixture()
def retriever(tiny_corpus, tmp_path, embedder, tokenizer) -> HybridRetriever:
    index_store.build(tiny_corpus, tmp_path / "idx", embedder, tokenizer, ChunkerSettings())
    return HybridRetriever(index_store.load(tmp_path / "idx"), embedder, tokenizer)
