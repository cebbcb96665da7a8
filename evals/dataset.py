"""The QA evaluation question set: schema, loading with validation, and match normalisation.

`evals/questions.jsonl` holds one JSON object per line (see `evals/README.md`). `load_questions`
validates every line and raises `ValueError` naming the line number and the field at fault.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from corpus.cleaning import normalize_for_match

DEFAULT_PATH = Path(__file__).resolve().parent / "questions.jsonl"

FIELDS = ("id", "question", "answers", "match", "doc", "evidence", "type", "difficulty", "split")
MATCHES = ("any", "all")
TYPES = ("number", "date", "entity", "list", "comparison", "definition", "unanswerable")
DIFFICULTIES = ("easy", "medium", "hard")
SPLITS = ("dev", "test")
EVIDENCE_MIN, EVIDENCE_MAX = 8, 80
_ID_RE = re.compile(r"^q\d{3,}$")

__all__ = [
    "DEFAULT_PATH",
    "DIFFICULTIES",
    "EvalQuestion",
    "SPLITS",
    "TYPES",
    "load_questions",
    "normalize_for_match",
]


@dataclass(frozen=True)
class EvalQuestion:
    """One benchmark question. `doc` is a report file name, a tuple of them, or None."""

    id: str
    question: str
    answers: tuple[str, ...]  # acceptable answer strings; empty for unanswerable
    match: str  # "any": one answer string suffices; "all": every one must appear
    doc: str | tuple[str, ...] | None  # report file name(s); None for unanswerable
    evidence: tuple[str, ...]  # verbatim substrings of the report (after normalisation)
    type: str  # number|date|entity|list|comparison|definition|unanswerable
    difficulty: str  # easy|medium|hard
    split: str  # dev|test

    @property
    def docs(self) -> tuple[str, ...]:
        """The report file names as a tuple (empty for unanswerable)."""
        if self.doc is None:
            return ()
        if isinstance(self.doc, str):
            return (self.doc,)
        return self.doc

    @property
    def answerable(self) -> bool:
        return self.type != "unanswerable"


def _fail(where: str, field: str, why: str) -> ValueError:
    return ValueError(f"{where}: field '{field}': {why}")


def _str_list(value: object, where: str, field: str, *, allow_empty: bool) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _fail(where, field, f"must be a list of strings, got {type(value).__name__}")
    if not allow_empty and not value:
        raise _fail(where, field, "must not be empty")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise _fail(where, field, f"item {i} must be a non-empty string, got {item!r}")
    return tuple(value)


def _enum(value: object, where: str, field: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise _fail(where, field, f"must be one of {'|'.join(allowed)}, got {value!r}")
    return value  # type: ignore[return-value]


def _parse(obj: object, where: str) -> EvalQuestion:
    if not isinstance(obj, dict):
        raise _fail(where, "<line>", f"must be a JSON object, got {type(obj).__name__}")
    missing = [f for f in FIELDS if f not in obj]
    if missing:
        raise _fail(where, missing[0], "missing")
    extra = sorted(set(obj) - set(FIELDS))
    if extra:
        raise _fail(where, extra[0], "unknown field")

    qid = obj["id"]
    if not isinstance(qid, str) or not _ID_RE.match(qid):
        raise _fail(where, "id", f"must look like 'q001', got {qid!r}")
    question = obj["question"]
    if not isinstance(question, str) or not question.strip():
        raise _fail(where, "question", "must be a non-empty string")

    qtype = _enum(obj["type"], where, "type", TYPES)
    match = _enum(obj["match"], where, "match", MATCHES)
    difficulty = _enum(obj["difficulty"], where, "difficulty", DIFFICULTIES)
    split = _enum(obj["split"], where, "split", SPLITS)
    unanswerable = qtype == "unanswerable"

    answers = _str_list(obj["answers"], where, "answers", allow_empty=unanswerable)
    evidence = _str_list(obj["evidence"], where, "evidence", allow_empty=unanswerable)
    for ev in evidence:
        if not EVIDENCE_MIN <= len(ev) <= EVIDENCE_MAX:
            raise _fail(
                where,
                "evidence",
                f"each string must be {EVIDENCE_MIN}-{EVIDENCE_MAX} characters, got {len(ev)}: {ev!r}",
            )

    raw_doc = obj["doc"]
    doc: str | tuple[str, ...] | None
    if raw_doc is None:
        doc = None
    elif isinstance(raw_doc, str) and raw_doc.strip():
        doc = raw_doc
    elif isinstance(raw_doc, list):
        doc = _str_list(raw_doc, where, "doc", allow_empty=False)
    else:
        raise _fail(where, "doc", f"must be a file name, a list of them, or null, got {raw_doc!r}")

    if unanswerable:
        if answers:
            raise _fail(where, "answers", "must be [] for an unanswerable question")
        if evidence:
            raise _fail(where, "evidence", "must be [] for an unanswerable question")
        if doc is not None:
            raise _fail(where, "doc", "must be null for an unanswerable question")
    elif doc is None:
        raise _fail(where, "doc", "must name a report for an answerable question")

    return EvalQuestion(
        id=qid,
        question=question,
        answers=answers,
        match=match,
        doc=doc,
        evidence=evidence,
        type=qtype,
        difficulty=difficulty,
        split=split,
    )


def load_questions(path: str | Path = DEFAULT_PATH, split: str | None = None) -> list[EvalQuestion]:
    """Read and validate the question file; keep only `split` ("dev"/"test") when given.

    Blank lines are skipped. Raises `ValueError` ("<path>:<line>: field '<name>': <why>") on the
    first bad line, and on duplicate ids.
    """
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {'|'.join(SPLITS)} or None, got {split!r}")
    path = Path(path)
    questions: list[EvalQuestion] = []
    seen: dict[str, int] = {}
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path.name}:{lineno}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{where}: field '<line>': invalid JSON ({exc.msg})") from exc
            q = _parse(obj, where)
            if q.id in seen:
                raise _fail(where, "id", f"duplicate id {q.id!r} (first on line {seen[q.id]})")
            seen[q.id] = lineno
            questions.append(q)
    if split is not None:
        questions = [q for q in questions if q.split == split]
    return questions
