"""The benchmark set evals/qa.jsonl: size, mix, held-out test split, and the split rule."""

from __future__ import annotations

import sys
import zlib
from collections import Counter, defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from corpus.reading import load_reports  # noqa: E402
from evals.dataset import (  # noqa: E402
    DEFAULT_PATH,
    REPORTS_DIR,
    SPLITS,
    TYPES,
    EvalQuestion,
    load_questions,
)

REPORT_FILES = sorted(p.name for p in (ROOT / "corpus" / "reports").glob("*.txt"))

# The test split of the original 168 questions (evals/questions.jsonl, q001-q168), copied here
# before that file was renamed: these stay held out, whatever is added after them.
ORIGINAL_TEST_IDS = (
    "q001 q003 q005 q008 q011 q012 q015 q017 q019 q021 q023 q024 q026 q030 q032 q034 q036 q037 "
    "q039 q040 q042 q044 q046 q048 q050 q052 q054 q056 q057 q059 q061 q063 q065 q067 q069 q071 "
    "q073 q075 q077 q079 q080 q082 q086 q087 q089 q091 q094 q095 q097 q099 q102 q105 q107 q109 "
    "q110 q113 q115 q117 q119 q120 q122 q124 q128 q130 q131 q132 q134 q136 q138 q139 q142 q144 "
    "q146 q149 q150 q152 q154 q156 q158 q160 q162 q164 q166 q168"
).split()
ORIGINAL_COUNT = 168


def number(q: EvalQuestion) -> int:
    return int(q.id[1:])


def split_group(q: EvalQuestion) -> str:
    """The stratum of the split rule: the report (or sorted report set, or "none"), and the type."""
    if q.doc is None:
        docs = "none"
    elif isinstance(q.doc, str):
        docs = q.doc
    else:
        docs = "+".join(sorted(q.doc))
    return f"{docs}|{q.type}"


def rule_splits(questions: list[EvalQuestion]) -> dict[str, str]:
    """evals/README.md's rule for the questions added after q168, fixed before any system ran
    on them: within each stratum, in id order, alternate dev/test, starting at
    SPLITS[crc32(stratum) % 2]."""
    groups: dict[str, list[EvalQuestion]] = defaultdict(list)
    for q in questions:
        groups[split_group(q)].append(q)
    splits = {}
    for group, members in groups.items():
        start = zlib.crc32(group.encode("utf-8")) % 2
        for k, q in enumerate(sorted(members, key=number)):
            splits[q.id] = SPLITS[(start + k) % 2]
    return splits


@pytest.fixture(scope="module")
def questions() -> list[EvalQuestion]:
    return load_questions()


def test_default_file_is_qa_jsonl_and_validates(questions):
    assert DEFAULT_PATH.name == "qa.jsonl"
    assert not (DEFAULT_PATH.parent / "questions.jsonl").exists()
    assert len(questions) >= 250


def test_unanswerable_share_is_at_least_15_percent(questions):
    unanswerable = sum(not q.answerable for q in questions)
    assert unanswerable / len(questions) >= 0.15, (unanswerable, len(questions))


def test_ids_run_on_without_gaps(questions):
    assert [number(q) for q in questions] == list(range(1, len(questions) + 1))


def test_original_questions_keep_their_ids_and_splits(questions):
    original = [q for q in questions if number(q) <= ORIGINAL_COUNT]
    assert len(original) == ORIGINAL_COUNT
    assert sorted(q.id for q in original if q.split == "test") == ORIGINAL_TEST_IDS
    assert sum(q.split == "dev" for q in original) == ORIGINAL_COUNT - len(ORIGINAL_TEST_IDS)


def test_new_questions_follow_the_split_rule(questions):
    new = [q for q in questions if number(q) > ORIGINAL_COUNT]
    assert len(new) >= 95
    expected = rule_splits(new)
    wrong = [(q.id, q.split, expected[q.id]) for q in new if q.split != expected[q.id]]
    assert not wrong, wrong


@pytest.mark.parametrize("split", SPLITS)
def test_each_split_has_every_type_and_report(questions, split):
    part = [q for q in questions if q.split == split]
    assert {q.type for q in part} == set(TYPES), split
    assert {name for q in part for name in q.docs} == set(REPORT_FILES), split
    new = [q for q in part if number(q) > ORIGINAL_COUNT]
    assert {q.type for q in new} == set(TYPES), split
    assert {name for q in new for name in q.docs} == set(REPORT_FILES), split


def test_splits_are_balanced(questions):
    counts = Counter(q.split for q in questions)
    assert abs(counts["dev"] - counts["test"]) <= len(questions) // 20, counts
    for field in ("type", "difficulty"):
        for value, n in Counter(getattr(q, field) for q in questions).items():
            in_test = sum(getattr(q, field) == value and q.split == "test" for q in questions)
            assert abs(2 * in_test - n) <= max(4, n // 3), (field, value, in_test, n)


def test_reports_are_covered_roughly_by_length(questions):
    """Single-report questions per report within a factor of 1.5 of the report's share of text."""
    lengths = {r.entry.file: len(r.text) for r in load_reports(REPORTS_DIR)}
    single = Counter(q.doc for q in questions if isinstance(q.doc, str))
    total_q, total_len = sum(single.values()), sum(lengths.values())
    for name, length in lengths.items():
        share_q, share_len = single[name] / total_q, length / total_len
        assert share_len / 1.5 <= share_q <= share_len * 1.5, (
            name,
            single[name],
            share_q,
            share_len,
        )


@pytest.mark.parametrize(
    ("name", "first", "size", "unanswerable"),
    [
        ("qa_fresh.jsonl", 901, 60, 10),
        ("qa_fresh2.jsonl", 1101, 80, 25),
        ("qa_fresh3.jsonl", 1201, 80, 12),
        ("qa_fresh4.jsonl", 1301, 80, 12),
        ("qa_fresh5.jsonl", 1401, 80, 14),
        ("qa_fresh6.jsonl", 1501, 80, 16),
        ("qa_fresh7.jsonl", 1601, 80, 16),
    ],
)
def test_later_decision_sets_load_apart_from_qa_jsonl(questions, name, first, size, unanswerable):
    # Written later from the reports alone (evals/README.md): all dev, ids of their own, checked
    # by the same loader against the same reports.
    later = load_questions(DEFAULT_PATH.parent / name)
    assert [number(q) for q in later] == list(range(first, first + size))
    assert {q.split for q in later} == {"dev"}
    assert sum(not q.answerable for q in later) == unanswerable
    assert not {q.id for q in later} & {q.id for q in questions}
