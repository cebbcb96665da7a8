"""The FAISS inner-product index over unit vectors, and its atomic save/load."""

from __future__ import annotations

import os
from pathlib import Path

import faiss
import numpy as np


def build_flat_ip(vectors: np.ndarray, dim: int) -> faiss.Index:
    """Exact inner-product search; on unit vectors the score is the cosine similarity."""
    index = faiss.IndexFlatIP(dim)
    if len(vectors):
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape[1] != dim:
            raise ValueError(f"vectors have dimension {vectors.shape[1]}, expected {dim}")
        index.add(vectors)
    return index


def all_vectors(index: faiss.Index) -> np.ndarray:
    """Every stored vector, in insertion order (used to reuse unchanged reports' vectors)."""
    if index.ntotal == 0:
        return np.zeros((0, index.d), dtype=np.float32)
    return index.reconstruct_n(0, index.ntotal)


def save_index(index: faiss.Index, path: Path) -> None:
    """Write to a temporary file beside `path`, then rename: a crash never leaves half a file."""
    tmp = path.with_name(path.name + ".tmp")
    faiss.write_index(index, str(tmp))
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_index(path: Path) -> faiss.Index:
    return faiss.read_index(str(path))


def search(index: faiss.Index, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(scores, row ids) of the k nearest rows, best first; ids of -1 (fewer rows than k) dropped."""
    k = min(k, index.ntotal)
    if k <= 0:
        return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
    scores, ids = index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k)
    keep = ids[0] >= 0
    return scores[0][keep], ids[0][keep]
