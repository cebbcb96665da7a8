"""Optional second-stage reranking behind a small protocol; none by default (no bundled model)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from corpus.errors import EmbedderError


@runtime_checkable
class Reranker(Protocol):
    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        """One relevance score per passage, higher is more relevant."""
        ...


class CrossEncoderReranker:
    """A sentence-transformers CrossEncoder the user supplies (a local path, or a cached name)."""

    def __init__(self, model: str, batch_size: int = 16, max_length: int = 512) -> None:
        if batch_size <= 0:
            raise ValueError(f"batch_size must be > 0, got {batch_size}")
        try:
            from sentence_transformers import CrossEncoder
        except ImportError as exc:
            raise EmbedderError(
                "Reranking needs sentence-transformers: `pip install -e '.[st]'`."
            ) from exc
        local = Path(model).expanduser()
        try:
            self._model = CrossEncoder(
                str(local) if local.exists() else model,
                device="cpu",
                max_length=max_length,
                local_files_only=not local.exists(),
            )
        except Exception as exc:
            raise EmbedderError(
                f"Could not load the reranker {model!r} from a local path or the local cache; "
                f"models are never downloaded at run time. ({type(exc).__name__}: {exc})"
            ) from exc
        self._batch_size = batch_size

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        if not passages:
            return []
        scores = self._model.predict(
            [(query, p) for p in passages], batch_size=self._batch_size, show_progress_bar=False
        )
        return [float(s) for s in scores]
