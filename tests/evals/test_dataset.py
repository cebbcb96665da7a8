"""The QA question set: loads, schema holds, every fact is anchored in its report."""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from evals.dataset import (  # noqa: E402
    ANSWER_OUTSIDE_EVIDENCE,
    DIFFICULTIES,
    SPLITS,
    TYPES,
    EvalQuestion,
    load_questions,
    normalize_for_match,
)

REPORTS = ROOT / "corpus" / "reports"
REPORT_FILES = sorted(p.name for p in REPORTS.glob("*.txt"))


@cache
def report_text(name: str) -> str:
    return normalize_for_match((REPORTS / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def questions() -> list[EvalQuestion]:
    return load_questions()


def test_file_loads_and_is_big_enough(questions):
    assert len(questions) >= 250
    assert sum(q.type == "unanswerable" for q in questions) >= 0.15 * len(questions)


def test_the_second_question_set_loads_and_shares_no_id_or_question(questions):
    # evals/qa_fresh.jsonl: written later, without reading qa.jsonl (evals/README.md)
    fresh = load_questions(ROOT / "evals" / "qa_fresh.jsonl")
    assert len(fresh) >= 50 and {q.split for q in fresh} == {"dev"}
    assert sum(q.type == "unanswerable" for q in fresh) >= 5
    assert not {q.id for q in fresh} & {q.id for q in questions}
    assert not {q.question for q in fresh} & {q.question for q in questions}


def test_ids_unique(questions):
    ids = [q.id for q in questions]
    assert len(ids) == len(set(ids))


def test_schema(questions):
    for q in questions:
        assert q.type in TYPES and q.difficulty in DIFFICULTIES and q.split in SPLITS, q.id
        assert q.match in ("any", "all"), q.id
        assert all(isinstance(a, str) and a.strip() for a in q.answers), q.id
        for name in q.docs:
            assert name in REPORT_FILES, (q.id, name)
    assert {q.type for q in questions} == set(TYPES)


def test_every_evidence_is_in_its_report(questions):
    missing = []
    for q in questions:
        for ev in q.evidence:
            needle = normalize_for_match(ev)
            if not any(needle in report_text(name) for name in q.docs):
                missing.append((q.id, ev))
    assert not missing, missing


def test_every_evidence_survives_cleaning(questions):
    """Evidence must be findable in the text PlanQA indexes, or the benchmark would score
    extraction artefacts (`PM_{2.5}`, `$\\geq 400$`) instead of retrieval."""
    from corpus.reading import load_reports

    cleaned = {r.entry.file: normalize_for_match(r.text) for r in load_reports(REPORTS)}
    missing = [
        (q.id, ev)
        for q in questions
        for ev in q.evidence
        if not any(normalize_for_match(ev) in cleaned[name] for name in q.docs)
    ]
    assert not missing, missing


def test_every_answer_is_in_its_evidence(questions):
    """Literal match after normalisation: no helper equates 三 and 3, so neither does the set.
    The one exception (q109, a table label without its value) must still be in the report."""
    missing = []
    for q in questions:
        if not q.answerable:
            continue
        assert q.answers and q.evidence and q.docs, q.id
        evidence = [normalize_for_match(ev) for ev in q.evidence]
        for ans in q.answers:
            needle = normalize_for_match(ans)
            if any(needle in ev for ev in evidence):
                continue
            if q.id in ANSWER_OUTSIDE_EVIDENCE and any(
                needle in report_text(name) for name in q.docs
            ):
                continue
            missing.append((q.id, ans))
    assert not missing, missing
    assert ANSWER_OUTSIDE_EVIDENCE == {"q109"}


def test_unanswerable_have_nothing_but_absent_patterns(questions):
    for q in questions:
        if q.type == "unanswerable":
            assert q.answers == () and q.evidence == () and q.doc is None, q.id
            assert q.absent, q.id
        else:
            assert q.absent == (), q.id


def test_absent_patterns_are_in_no_report(questions):
    texts = [report_text(name) for name in REPORT_FILES]
    found = [
        (q.id, pattern)
        for q in questions
        for pattern in q.absent
        if any(re.search(pattern, text) for text in texts)
    ]
    assert not found, found


def test_splits_cover_every_report(questions):
    for split in SPLITS:
        part = load_questions(split=split)
        assert part and all(q.split == split for q in part)
        covered = {name for q in part for name in q.docs}
        assert covered == set(REPORT_FILES), (split, set(REPORT_FILES) - covered)
        assert any(q.type == "unanswerable" for q in part), split
    counts = Counter(q.split for q in questions)
    assert abs(counts["dev"] - counts["test"]) <= len(questions) // 5


def test_normalize_for_match():
    assert normalize_for_match("2185.8 万\n人") == "2185.8万人"
    assert normalize_for_match("（２０２３ 年）") == "(2023年)"
    assert normalize_for_match("一年一体检，五\n年一评估") == "一年一体检,五年一评估"


GOOD = {
    "id": "q001",
    "question": "北京常住人口多少？",
    "answers": ["2185.8万"],
    "match": "any",
    "doc": "001_c428c9fd66e3c585.txt",
    "evidence": ["2023 年末全市常住人口 2185.8 万人"],
    "type": "number",
    "difficulty": "easy",
    "split": "dev",
}


def _write(tmp_path: Path, *rows: dict | str) -> Path:
    path = tmp_path / "q.jsonl"
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_loader_accepts_good_line_and_filters_split(tmp_path):
    other = {**GOOD, "id": "q002", "split": "test"}
    path = _write(tmp_path, GOOD, "", other)
    assert [q.id for q in load_questions(path)] == ["q001", "q002"]
    assert [q.id for q in load_questions(path, split="test")] == ["q002"]
    with pytest.raises(ValueError, match="split"):
        load_questions(path, split="train")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"match": "some"}, "match"),
        ({"type": "yesno"}, "type"),
        ({"answers": "2185.8万"}, "answers"),
        ({"answers": []}, "answers"),
        ({"evidence": ["太短"]}, "evidence"),
        ({"doc": None}, "doc"),
        ({"doc": 3}, "doc"),
        ({"split": "train"}, "split"),
        ({"id": "7"}, "id"),
        ({"type": "unanswerable"}, "answers"),
        ({"extra": 1}, "extra"),
        # checked against the bundled reports
        ({"evidence": ["2023 年末全市常住人口 2190.0 万人"]}, "evidence"),
        ({"doc": "000_806e4535e5dab8e1.txt"}, "evidence"),
        ({"answers": ["2185.8万", "1.5万人"]}, "answers"),
        ({"doc": "999_missing.txt"}, "doc"),
        ({"doc": [GOOD["doc"], GOOD["doc"]]}, "doc"),
        ({"absent": ["浦东"]}, "absent"),
    ],
)
def test_loader_names_line_and_field(tmp_path, change, field):
    bad = {**GOOD, "id": "q002", **change}
    path = _write(tmp_path, GOOD, bad)
    with pytest.raises(ValueError, match=rf"q\.jsonl:2: field '{field}'"):
        load_questions(path)


UNANSWERABLE = {
    "id": "q003",
    "question": "上海浦东新区的面积是多少？",
    "answers": [],
    "match": "any",
    "doc": None,
    "evidence": [],
    "absent": ["浦东", "上海[^。]{0,10}面积"],
    "type": "unanswerable",
    "difficulty": "easy",
    "split": "test",
}


def test_loader_reads_absent_patterns(tmp_path):
    q = load_questions(_write(tmp_path, GOOD, UNANSWERABLE))[1]
    assert q.absent == ("浦东", "上海[^。]{0,10}面积") and not q.answerable
    assert load_questions(_write(tmp_path, GOOD))[0].absent == ()


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"absent": ["全市常住人口"]}, "is found in 00"),  # in the 2023 and 2024 readers
        ({"absent": []}, "needs at least one pattern"),
        ({"absent": "浦东"}, "must be a list"),
        ({"absent": ["浦东("]}, "not a valid regex"),
        ({"absent": ["（浦东）"]}, "match form"),
        ({"absent": ["浦东 新区"]}, "match form"),
        ({"absent": ["(浦东)?"]}, "empty string"),
    ],
)
def test_loader_checks_absent_patterns(tmp_path, change, why):
    bad = {**UNANSWERABLE, **change}
    with pytest.raises(ValueError, match=rf"q\.jsonl:2: field 'absent': .*{re.escape(why)}"):
        load_questions(_write(tmp_path, GOOD, bad))


def test_report_checks_can_be_switched_off(tmp_path):
    """A question file about another corpus still gets its schema checked."""
    other = {**GOOD, "doc": "elsewhere.txt", "evidence": ["某市常住人口 2185.8 万人"]}
    path = _write(tmp_path, other)
    with pytest.raises(ValueError, match=r":1: field 'doc'"):
        load_questions(path)
    assert [q.id for q in load_questions(path, reports_dir=None)] == ["q001"]
    with pytest.raises(ValueError, match=r":1: field 'match'"):
        load_questions(_write(tmp_path, {**other, "match": "some"}), reports_dir=None)


def test_loader_rejects_missing_field_bad_json_and_duplicates(tmp_path):
    no_split = {k: v for k, v in GOOD.items() if k != "split"}
    with pytest.raises(ValueError, match=r":1: field 'split': missing"):
        load_questions(_write(tmp_path, no_split))
    with pytest.raises(ValueError, match=r":2: field '<line>': invalid JSON"):
        load_questions(_write(tmp_path, GOOD, "{not json"))
    with pytest.raises(ValueError, match=r"q\.jsonl:2: field 'id': duplicate id 'q001'"):
        load_questions(_write(tmp_path, GOOD, GOOD))
    with pytest.raises(ValueError, match=r"q\.jsonl:3: field 'id': duplicate id 'q003'"):
        load_questions(_write(tmp_path, UNANSWERABLE, GOOD, UNANSWERABLE))
