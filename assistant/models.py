"""The assistant layer's vocabulary: an `Answer` and its `Citation`s."""

from __future__ import annotations

from dataclasses import dataclass, field

from retriever.models import Hit

REFUSAL = "报告中未找到相关内容。"


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of a conversation, used to rewrite a follow-up question."""

    question: str
    answer: str = ""
    standalone_question: str = ""


def quoted_passage_dict(hit: Hit, quote: str, quote_start: int, quote_end: int) -> dict:
    """A passage with the quote that supports a statement, as `--json` and the app show it."""
    c = hit.chunk
    return {
        "chunk_id": c.chunk_id,
        "doc_id": c.doc_id,
        "title": c.title,
        "section": c.section_label,
        "text": c.text,
        "quote": quote,
        "quote_start": quote_start,
        "quote_end": quote_end,
        "source_lines": [c.line_start, c.line_end],
    }


@dataclass(frozen=True)
class Citation:
    """Passage `[n]` of an answer, with the sentence(s) of it that support the claim."""

    n: int  # the number shown in the answer, 1-based
    hit: Hit
    quote: str  # exact substring of hit.chunk.text
    quote_start: int  # offsets of the quote inside hit.chunk.text
    quote_end: int

    @property
    def source_lines(self) -> tuple[int, int]:
        return (self.hit.chunk.line_start, self.hit.chunk.line_end)

    def to_dict(self) -> dict:
        return {
            "n": self.n,
            **quoted_passage_dict(self.hit, self.quote, self.quote_start, self.quote_end),
        }


@dataclass(frozen=True)
class Answer:
    question: str
    standalone_question: str
    answer: str
    refused: bool
    grounded: bool
    citations: tuple[Citation, ...] = ()
    retrieved: tuple[Hit, ...] = ()
    ungrounded_figures: tuple[str, ...] = ()
    backend: str = ""
    notice: str = ""  # one line for the user, e.g. "本地模型不可用，已改用摘录式回答。"
    # why another backend answered: model_file | unavailable | timeout | error | empty | rescue
    fallback: str = ""
    timings_ms: dict = field(default_factory=dict)
    id: str | None = None

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "question": self.question,
            "standalone_question": self.standalone_question,
            "answer": self.answer,
            "refused": self.refused,
            "grounded": self.grounded,
            "ungrounded_figures": list(self.ungrounded_figures),
            "citations": [c.to_dict() for c in self.citations],
            "retrieved": [
                {
                    k: h.to_dict()[k]
                    for k in ("chunk_id", "doc_id", "title", "section", "text", "score")
                }
                for h in self.retrieved
            ],
            "backend": self.backend,
            "notice": self.notice,
            "fallback": self.fallback,
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
        }
