"""The QA evaluation question set: schema, loading with validation, and match normalisation.

`evals/qa.jsonl` holds one JSON object per line (see `evals/README.md`). `load_questions`
validates every line, against the schema and against the bundled reports, and raises
`ValueError` naming the line number and the field at fault.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from corpus.cleaning import normalize_for_match

_Record = TypeVar("_Record")

DEFAULT_PATH = Path(__file__).resolve().parent / "qa.jsonl"
REPORTS_DIR = Path(__file__).resolve().parents[1] / "corpus" / "reports"

FIELDS = ("id", "question", "answers", "match", "doc", "evidence", "type", "difficulty", "split")
OPTIONAL_FIELDS = ("absent",)
MATCHES = ("any", "all")
TYPES = ("number", "date", "entity", "list", "comparison", "definition", "unanswerable")
DIFFICULTIES = ("easy", "medium", "hard")
SPLITS = ("dev", "test")
EVIDENCE_MIN, EVIDENCE_MAX = 8, 80
_ID_RE = re.compile(r"^q\d{3,}$")
# q109 (a held-out test question whose line may not change) quotes the table label of its row
# but not the value (`≥400`) that follows it; its answer is checked against the report instead.
ANSWER_OUTSIDE_EVIDENCE = frozenset({"q109"})

__all__ = [
    "DEFAULT_PATH",
    "DIFFICULTIES",
    "EvalQuestion",
    "REPORTS_DIR",
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
    # regexes (matched against normalised report text) that would reveal an answer; each is
    # absent from every report. Unanswerable questions only.
    absent: tuple[str, ...] = ()

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


@dataclass(frozen=True)
class _ReportText:
    """One report in match form: as cleaned for the index, and as the file reads."""

    cleaned: str
    raw: str


def field_error(where: str, field: str, why: str) -> ValueError:
    return ValueError(f"{where}: field '{field}': {why}")


def check_fields(
    obj: object, where: str, fields: tuple[str, ...], optional: tuple[str, ...] = ()
) -> dict:
    """`obj` as a JSON object holding every one of `fields` and nothing outside `optional`."""
    if not isinstance(obj, dict):
        raise field_error(where, "<line>", f"must be a JSON object, got {type(obj).__name__}")
    missing = [f for f in fields if f not in obj]
    if missing:
        raise field_error(where, missing[0], "missing")
    extra = sorted(set(obj) - set(fields) - set(optional))
    if extra:
        raise field_error(where, extra[0], "unknown field")
    return obj


def enum_field(value: object, where: str, field: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise field_error(where, field, f"must be one of {'|'.join(allowed)}, got {value!r}")
    return value  # type: ignore[return-value]


def _str_list(value: object, where: str, field: str, *, allow_empty: bool) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise field_error(where, field, f"must be a list of strings, got {type(value).__name__}")
    if not allow_empty and not value:
        raise field_error(where, field, "must not be empty")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise field_error(where, field, f"item {i} must be a non-empty string, got {item!r}")
    return tuple(value)


def _absent_patterns(value: object, where: str) -> tuple[str, ...]:
    patterns = _str_list(value, where, "absent", allow_empty=True)
    for pattern in patterns:
        # Report text is compared in match form (NFKC, no whitespace): a full-width `（` or a
        # space in a pattern could never match, and the check would pass for nothing.
        if unicodedata.normalize("NFKC", pattern) != pattern or re.search(r"\s", pattern):
            raise field_error(
                where,
                "absent",
                f"pattern {pattern!r} must be in match form (NFKC, half-width punctuation, "
                "no whitespace)",
            )
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise field_error(
                where, "absent", f"pattern {pattern!r} is not a valid regex ({exc})"
            ) from None
        if compiled.search(""):
            raise field_error(where, "absent", f"pattern {pattern!r} matches the empty string")
    return patterns


def _parse(obj: object, where: str) -> EvalQuestion:
    obj = check_fields(obj, where, FIELDS, OPTIONAL_FIELDS)

    qid = obj["id"]
    if not isinstance(qid, str) or not _ID_RE.match(qid):
        raise field_error(where, "id", f"must look like 'q001', got {qid!r}")
    question = obj["question"]
    if not isinstance(question, str) or not question.strip():
        raise field_error(where, "question", "must be a non-empty string")

    qtype = enum_field(obj["type"], where, "type", TYPES)
    match = enum_field(obj["match"], where, "match", MATCHES)
    difficulty = enum_field(obj["difficulty"], where, "difficulty", DIFFICULTIES)
    split = enum_field(obj["split"], where, "split", SPLITS)
    unanswerable = qtype == "unanswerable"

    answers = _str_list(obj["answers"], where, "answers", allow_empty=unanswerable)
    evidence = _str_list(obj["evidence"], where, "evidence", allow_empty=unanswerable)
    for ev in evidence:
        if not EVIDENCE_MIN <= len(ev) <= EVIDENCE_MAX:
            raise field_error(
                where,
                "evidence",
                f"each string must be {EVIDENCE_MIN}-{EVIDENCE_MAX} characters, got {len(ev)}: {ev!r}",
            )
    absent = _absent_patterns(obj.get("absent", []), where)

    raw_doc = obj["doc"]
    doc: str | tuple[str, ...] | None
    if raw_doc is None:
        doc = None
    elif isinstance(raw_doc, str) and raw_doc.strip():
        doc = raw_doc
    elif isinstance(raw_doc, list):
        doc = _str_list(raw_doc, where, "doc", allow_empty=False)
        if len(set(doc)) != len(doc):
            raise field_error(where, "doc", f"names a report twice: {raw_doc!r}")
    else:
        raise field_error(where, "doc", f"must be a file name, a list of them, or null, got {raw_doc!r}")

    if unanswerable:
        if answers:
            raise field_error(where, "answers", "must be [] for an unanswerable question")
        if evidence:
            raise field_error(where, "evidence", "must be [] for an unanswerable question")
        if doc is not None:
            raise field_error(where, "doc", "must be null for an unanswerable question")
        if not absent:
            raise field_error(
                where,
                "absent",
                "an unanswerable question needs at least one pattern that would reveal an answer",
            )
    else:
        if doc is None:
            raise field_error(where, "doc", "must name a report for an answerable question")
        if absent:
            raise field_error(where, "absent", "only unanswerable questions carry absent patterns")

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
        absent=absent,
    )


def _check_against_reports(q: EvalQuestion, reports: dict[str, _ReportText], where: str) -> None:
    """Evidence is text of its report, answers are in their evidence, absent patterns are absent."""
    for name in q.docs:
        if name not in reports:
            raise field_error(where, "doc", f"{name!r} is not one of the reports ({', '.join(reports)})")
    evidence = [normalize_for_match(ev) for ev in q.evidence]
    for ev, needle in zip(q.evidence, evidence, strict=True):
        if not any(needle in reports[name].cleaned for name in q.docs):
            raise field_error(
                where, "evidence", f"{ev!r} is not in the cleaned text of {', '.join(q.docs)}"
            )
    for answer in q.answers:
        needle = normalize_for_match(answer)
        if any(needle in ev for ev in evidence):
            continue
        if q.id in ANSWER_OUTSIDE_EVIDENCE and any(needle in reports[n].cleaned for n in q.docs):
            continue
        raise field_error(where, "answers", f"{answer!r} is not in its evidence")
    for pattern in q.absent:
        for name, text in reports.items():
            found = re.search(pattern, text.cleaned) or re.search(pattern, text.raw)
            if found:
                raise field_error(
                    where, "absent", f"pattern {pattern!r} is found in {name}: {found.group(0)!r}"
                )


def _corpus_signature(reports_dir: Path) -> tuple[tuple[str, int, int], ...]:
    return tuple(
        (p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(reports_dir.glob("*"))
    )


@lru_cache(maxsize=4)
def _load_report_texts(
    reports_dir: Path, signature: tuple[tuple[str, int, int], ...]
) -> dict[str, _ReportText]:
    # `signature` is only the cache key: a changed report file is read again.
    from corpus.reading import load_reports, read_source

    return {
        r.entry.file: _ReportText(
            cleaned=normalize_for_match(r.text),
            raw=normalize_for_match(read_source(Path(r.source_path))),
        )
        for r in load_reports(reports_dir)
    }


def read_records(path: Path, parse: Callable[[object, str], _Record]) -> list[tuple[_Record, str]]:
    """Each non-blank line of a JSON Lines file as `parse(obj, where)`, with its "<file>:<line>".

    Raises `ValueError` ("<file>:<line>: field '<name>': <why>") on bad JSON, on whatever `parse`
    rejects, and on a repeated `id`.
    """
    records: list[tuple[_Record, str]] = []
    seen: dict[str, int] = {}
    with Path(path).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{Path(path).name}:{lineno}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{where}: field '<line>': invalid JSON ({exc.msg})") from exc
            record = parse(obj, where)
            if record.id in seen:
                raise field_error(
                    where, "id", f"duplicate id {record.id!r} (first on line {seen[record.id]})"
                )
            seen[record.id] = lineno
            records.append((record, where))
    return records


def load_questions(
    path: str | Path = DEFAULT_PATH,
    split: str | None = None,
    *,
    reports_dir: str | Path | None = REPORTS_DIR,
) -> list[EvalQuestion]:
    """Read and validate the question file; keep only `split` ("dev"/"test") when given.

    Blank lines are skipped. Every line is checked against the schema and, unless `reports_dir`
    is None, against the reports in that folder: each `doc` is one of them, each evidence string
    is in the cleaned text of one of its docs, each answer is in one of its evidence strings, and
    each `absent` pattern is in no report. Raises `ValueError`
    ("<file>:<line>: field '<name>': <why>") on the first bad line, and on duplicate ids.
    """
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {'|'.join(SPLITS)} or None, got {split!r}")
    path = Path(path)
    reports: dict[str, _ReportText] | None = None
    if reports_dir is not None:
        folder = Path(reports_dir).resolve()
        reports = _load_report_texts(folder, _corpus_signature(folder))
    questions: list[EvalQuestion] = []
    for q, where in read_records(path, _parse):
        if reports is not None:
            _check_against_reports(q, reports, where)
        questions.append(q)
    if split is not None:
        questions = [q for q in questions if q.split == split]
    return questions
