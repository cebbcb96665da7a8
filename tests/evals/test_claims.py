"""The fact-check claim set: loads, schema holds, every evidence is report text, splits are fair."""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from assistant.grounding import extract_figures, figure_in_text
from corpus.cleaning import normalize_for_match
from evals.claims import SPLITS, VERDICTS, EvalClaim, load_claims

ROOT = Path(__file__).resolve().parents[2]
REPORTS = ROOT / "corpus" / "reports"
_YEAR = re.compile(r"\d{4}年")


@cache
def cleaned_reports() -> dict[str, str]:
    """doc_id → the cleaned text PlanQA indexes, in match form."""
    from corpus.reading import load_reports

    return {r.entry.doc_id: normalize_for_match(r.text) for r in load_reports(REPORTS)}


def asserted_figures(claim: str) -> list[str]:
    """The claim's figures without its context years (all of them when it only has years)."""
    figures = extract_figures(claim)
    values = [f for f in figures if not _YEAR.fullmatch(f)]
    return values or figures


@pytest.fixture(scope="module")
def claims() -> list[EvalClaim]:
    return load_claims()


def test_big_enough_and_mixed(claims):
    assert len(claims) >= 60
    counts = Counter(c.verdict for c in claims)
    assert all(counts[v] >= 15 for v in VERDICTS), counts


def test_ids_unique(claims):
    ids = [c.id for c in claims]
    assert len(ids) == len(set(ids))


def test_every_evidence_is_in_its_cleaned_report(claims):
    reports = cleaned_reports()
    missing = [
        (c.id, c.evidence)
        for c in claims
        if c.evidence is not None
        and (c.doc_id not in reports or normalize_for_match(c.evidence) not in reports[c.doc_id])
    ]
    assert not missing, missing


def test_evidence_agrees_with_the_verdict(claims):
    """A supported claim's figures are all in its evidence; a contradicted claim's evidence states
    a value the claim does not (its own value may be there too, as last year's or another
    count: "由上年的279亿千瓦时增长至354亿千瓦时")."""
    wrong = []
    for c in claims:
        figures = asserted_figures(c.claim)
        if c.verdict == "supported" and not all(figure_in_text(f, c.evidence) for f in figures):
            wrong.append(c.id)
        if c.verdict == "contradicted" and all(
            figure_in_text(g, c.claim) for g in extract_figures(c.evidence)
        ):
            wrong.append(c.id)
    assert not wrong, wrong


def test_claims_are_paraphrased_not_copied(claims):
    copied = [
        c.id
        for c in claims
        if c.evidence and normalize_for_match(c.claim) in normalize_for_match(c.evidence)
    ]
    assert not copied, copied


def test_splits_hold_every_verdict_and_are_balanced(claims):
    for split in SPLITS:
        part = load_claims(split=split)
        assert {c.verdict for c in part} == set(VERDICTS), split
        assert len({c.doc_id for c in part if c.doc_id}) == len(cleaned_reports()), split
    counts = Counter(c.split for c in claims)
    assert abs(counts["dev"] - counts["test"]) <= len(claims) // 5


GOOD = {
    "id": "c001",
    "claim": "2024年北京常住人口为2183.2万人",
    "verdict": "supported",
    "doc_id": "checkup-2024",
    "evidence": "2024年全市常住人口2183.2万人。",
    "split": "dev",
}


def _write(tmp_path: Path, *rows: dict | str) -> Path:
    path = tmp_path / "c.jsonl"
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_loader_filters_split(tmp_path):
    other = {**GOOD, "id": "c002", "split": "test"}
    path = _write(tmp_path, GOOD, "", other)
    assert [c.id for c in load_claims(path)] == ["c001", "c002"]
    assert [c.id for c in load_claims(path, split="test")] == ["c002"]
    with pytest.raises(ValueError, match="split"):
        load_claims(path, split="train")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"verdict": "maybe"}, "verdict"),
        ({"split": "train"}, "split"),
        ({"id": "7"}, "id"),
        ({"claim": "  "}, "claim"),
        ({"evidence": None}, "evidence"),
        ({"verdict": "not_found"}, "doc_id"),
        ({"extra": 1}, "extra"),
    ],
)
def test_loader_names_line_and_field(tmp_path, change, field):
    bad = {**GOOD, "id": "c002", **change}
    with pytest.raises(ValueError, match=rf"c\.jsonl:2: field '{field}'"):
        load_claims(_write(tmp_path, GOOD, bad))


def test_loader_rejects_bad_json_and_duplicates(tmp_path):
    with pytest.raises(ValueError, match=r":2: field '<line>': invalid JSON"):
        load_claims(_write(tmp_path, GOOD, "{not json"))
    with pytest.raises(ValueError, match=r":2: field 'id': duplicate"):
        load_claims(_write(tmp_path, GOOD, GOOD))
