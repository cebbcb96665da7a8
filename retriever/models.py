"""The retriever layer's vocabulary: one ranked passage, `Hit`."""

from __future__ import annotations

from dataclasses import dataclass

from corpus.models import Chunk


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk. Every score here means "higher is more relevant"."""

    chunk: Chunk
    score: float  # the score that decided the rank (fused, or the single mode's, or rerank)
    rank: int  # 1-based
    bm25_score: float | None = None
    dense_score: float | None = None  # cosine similarity of query and chunk
    rerank_score: float | None = None

    def to_dict(self) -> dict:
        return {
            "chunk_id": self.chunk.chunk_id,
            "doc_id": self.chunk.doc_id,
            "title": self.chunk.title,
            "section": self.chunk.section_label,
            "text": self.chunk.text,
            "score": round(float(self.score), 6),
            "rank": self.rank,
            "bm25_score": None if self.bm25_score is None else round(float(self.bm25_score), 4),
            "dense_score": None if self.dense_score is None else round(float(self.dense_score), 4),
            "rerank_score": None
            if self.rerank_score is None
            else round(float(self.rerank_score), 4),
            "line_start": self.chunk.line_start,
            "line_end": self.chunk.line_end,
        }
