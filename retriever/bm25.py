"""Okapi BM25 over pre-tokenised chunks, built once at index time and stored as JSON."""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np


class BM25Index:
    """Inverted index with BM25 term weights precomputed, so a query is a few array adds."""

    def __init__(
        self,
        postings: dict[str, tuple[np.ndarray, np.ndarray]],
        n_docs: int,
        k1: float,
        b: float,
    ) -> None:
        self._postings = postings
        self.n_docs = n_docs
        self.k1 = k1
        self.b = b

    @classmethod
    def build(
        cls, docs_tokens: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75
    ) -> BM25Index:
        if k1 < 0 or not 0 <= b <= 1:
            raise ValueError(f"need k1 >= 0 and 0 <= b <= 1, got k1={k1}, b={b}")
        n_docs = len(docs_tokens)
        lengths = np.array([len(t) for t in docs_tokens], dtype=np.float32)
        avgdl = float(lengths.mean()) if n_docs and lengths.sum() else 1.0
        by_term: dict[str, list[tuple[int, int]]] = {}
        for doc, tokens in enumerate(docs_tokens):
            for term, tf in Counter(tokens).items():
                by_term.setdefault(term, []).append((doc, tf))
        postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for term, entries in by_term.items():
            docs = np.array([d for d, _ in entries], dtype=np.int32)
            tfs = np.array([tf for _, tf in entries], dtype=np.float32)
            df = len(entries)
            # The "plus one" idf stays positive for terms in over half the chunks.
            idf = math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
            norm = k1 * (1.0 - b + b * lengths[docs] / avgdl)
            weights = idf * tfs * (k1 + 1.0) / (tfs + norm)
            postings[term] = (docs, weights.astype(np.float32))
        return cls(postings, n_docs, k1, b)

    @property
    def unseen_idf(self) -> float:
        """The IDF of a term no chunk contains: the largest any term gets."""
        return math.log(1.0 + (self.n_docs + 0.5) / 0.5)

    def idf(self, term: str) -> float:
        """Inverse document frequency; a term no chunk contains gets the largest value."""
        entry = self._postings.get(term)
        df = 0 if entry is None else len(entry[0])
        return math.log(1.0 + (self.n_docs - df + 0.5) / (df + 0.5))

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of every chunk for the query (a repeated query term counts once)."""
        scores = np.zeros(self.n_docs, dtype=np.float32)
        for term in dict.fromkeys(query_tokens):
            entry = self._postings.get(term)
            if entry is not None:
                np.add.at(scores, entry[0], entry[1])
        return scores

    def top(self, query_tokens: Sequence[str], k: int) -> list[tuple[int, float]]:
        """(row, score) of the best k chunks with a positive score, best first."""
        scores = self.scores(query_tokens)
        positive = np.flatnonzero(scores > 0)
        if not len(positive):
            return []
        k = min(k, len(positive))
        best = positive[np.argsort(-scores[positive], kind="stable")[:k]]
        return [(int(i), float(scores[i])) for i in best]

    def to_json(self) -> dict:
        return {
            "k1": self.k1,
            "b": self.b,
            "n_docs": self.n_docs,
            "postings": {
                term: [docs.tolist(), [round(float(w), 6) for w in weights]]
                for term, (docs, weights) in self._postings.items()
            },
        }

    @classmethod
    def from_json(cls, data: dict) -> BM25Index:
        postings = {
            term: (np.array(docs, dtype=np.int32), np.array(weights, dtype=np.float32))
            for term, (docs, weights) in data["postings"].items()
        }
        return cls(postings, int(data["n_docs"]), float(data["k1"]), float(data["b"]))

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(self.to_json(), fh, ensure_ascii=False, separators=(",", ":"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> BM25Index:
        with open(path, encoding="utf-8") as fh:
            return cls.from_json(json.load(fh))
