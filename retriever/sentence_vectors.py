"""Unit vectors of every sentence of the indexed passages, made when the index is built.

The extractive answer compares the question with each sentence of its passages; embedding
those sentences per question takes ~15 ms each on two cores (half a second a question), so
they are embedded once, with the chunks, and looked up by text.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from embeddings.base import Embedder, ProgressFn

TEXTS_FILE = "sentences.json"
VECTORS_FILE = "sentences.npy"
# Sentences not in the index (a passage added since, a caller's own text) are embedded on
# first use and kept, up to this many.
_MAX_EXTRA = 5000


class SentenceVectors:
    """Sentence text -> unit vector (float16 on disk and in memory)."""

    def __init__(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        vectors = np.asarray(vectors, dtype=np.float16)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise ValueError(
                f"{len(texts)} sentences but vectors of shape {vectors.shape}: they must match"
            )
        self.texts = list(texts)
        self.vectors = vectors
        self._row = {t: i for i, t in enumerate(self.texts)}
        self._extra: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.texts)

    def __contains__(self, text: object) -> bool:
        return text in self._row

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def similarities(
        self, query_vector: np.ndarray, texts: Sequence[str], embedder: Embedder | None = None
    ) -> list[float | None]:
        """Cosine similarity of `query_vector` to each of `texts`. A text the index lacks is
        embedded with `embedder` (and kept); without one its similarity is None."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._row and t not in self._extra]
        if missing and embedder is not None:
            if len(self._extra) + len(missing) > _MAX_EXTRA:
                self._extra.clear()
            for text, vector in zip(missing, embedder.embed_passages(missing), strict=True):
                self._extra[text] = np.asarray(vector, dtype=np.float16)
        query = np.asarray(query_vector, dtype=np.float32)
        out: list[float | None] = []
        for text in texts:
            row = self._row.get(text)
            vector = self.vectors[row] if row is not None else self._extra.get(text)
            out.append(None if vector is None else float(vector.astype(np.float32) @ query))
        return out

    @classmethod
    def build(
        cls,
        texts: Sequence[str],
        unseen: Sequence[str],
        embedder: Embedder,
        previous: SentenceVectors | None = None,
        progress: ProgressFn | None = None,
    ) -> SentenceVectors:
        """A store of `texts` (distinct sentences): `unseen` ones are embedded, the others are
        taken from `previous` (same embedder)."""
        fresh = dict(zip(unseen, embedder.embed_passages(unseen, progress=progress), strict=True))
        vectors = np.zeros((len(texts), embedder.dim), dtype=np.float16)
        for i, text in enumerate(texts):
            if text in fresh:
                vectors[i] = fresh[text]
            else:
                vectors[i] = previous.vectors[previous._row[text]]  # type: ignore[union-attr]
        return cls(texts, vectors)

    def save(self, folder: Path) -> None:
        """Write both files into `folder` (a generation being staged), synced to disk."""
        folder = Path(folder)
        with open(folder / TEXTS_FILE, "w", encoding="utf-8") as fh:
            json.dump(self.texts, fh, ensure_ascii=False)
            fh.flush()
            os.fsync(fh.fileno())
        with open(folder / VECTORS_FILE, "wb") as fh:
            np.save(fh, self.vectors, allow_pickle=False)
            fh.flush()
            os.fsync(fh.fileno())

    @classmethod
    def load(cls, folder: Path) -> SentenceVectors:
        folder = Path(folder)
        with open(folder / TEXTS_FILE, encoding="utf-8") as fh:
            texts = json.load(fh)
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise ValueError(f"{TEXTS_FILE} must hold a list of sentences")
        return cls(texts, np.load(folder / VECTORS_FILE, allow_pickle=False))
