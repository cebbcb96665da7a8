"""Fact-check benchmark: verdict accuracy of `check_claim` on evals/claims.jsonl.

    python -m evals.claims --split dev
    python -m evals.claims --split test
    python -m evals.claims --split dev --min-match 0.4 --failures

Prints the accuracy per expected verdict and a confusion table (rows: expected, columns: got),
and writes rows + summary to evals/results/claims_<split>.json. Tune on dev only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from evals.dataset import check_fields, enum_field, field_error, read_records

DEFAULT_PATH = Path(__file__).resolve().parent / "claims.jsonl"
RESULTS_DIR = Path(__file__).resolve().parent / "results"

FIELDS = ("id", "claim", "verdict", "doc_id", "evidence", "split")
VERDICTS = ("supported", "contradicted", "not_found")
SPLITS = ("dev", "test")
_ID_RE = re.compile(r"^c\d{3,}$")


@dataclass(frozen=True)
class EvalClaim:
    """One claim with the verdict a careful reader of the reports would give."""

    id: str
    claim: str
    verdict: str  # supported | contradicted | not_found
    doc_id: str | None  # the report that settles it; None for not_found
    evidence: str | None  # verbatim report text stating the true fact; None for not_found
    split: str  # dev | test


def _parse(obj: object, where: str) -> EvalClaim:
    obj = check_fields(obj, where, FIELDS)
    if not isinstance(obj["id"], str) or not _ID_RE.match(obj["id"]):
        raise field_error(where, "id", f"must look like 'c001', got {obj['id']!r}")
    if not isinstance(obj["claim"], str) or not obj["claim"].strip():
        raise field_error(where, "claim", "must be a non-empty string")
    enum_field(obj["verdict"], where, "verdict", VERDICTS)
    enum_field(obj["split"], where, "split", SPLITS)
    for name in ("doc_id", "evidence"):
        value = obj[name]
        if obj["verdict"] == "not_found":
            if value is not None:
                raise field_error(where, name, "must be null for a not_found claim")
        elif not isinstance(value, str) or not value.strip():
            raise field_error(
                where, name, "must be a non-empty string for a supported/contradicted claim"
            )
    return EvalClaim(**{f: obj[f] for f in FIELDS})


def load_claims(path: str | Path = DEFAULT_PATH, split: str | None = None) -> list[EvalClaim]:
    """Read and validate the claim file; keep only `split` when given.

    Raises `ValueError` ("<file>:<line>: field '<name>': <why>") on the first bad line.
    """
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {'|'.join(SPLITS)} or None, got {split!r}")
    claims = [c for c, _ in read_records(Path(path), _parse)]
    return [c for c in claims if split is None or c.split == split]


def summarise(rows: list[dict]) -> dict:
    """Accuracy overall and per expected verdict, and the confusion counts."""
    confusion = {e: {g: 0 for g in VERDICTS} for e in VERDICTS}
    for r in rows:
        confusion[r["expected"]][r["got"]] += 1
    per_verdict = {
        e: (confusion[e][e] / sum(confusion[e].values()) if sum(confusion[e].values()) else None)
        for e in VERDICTS
    }
    correct = sum(r["expected"] == r["got"] for r in rows)
    return {
        "n": len(rows),
        "accuracy": correct / len(rows) if rows else 0.0,
        "per_verdict": per_verdict,
        "counts": {e: sum(confusion[e].values()) for e in VERDICTS},
        "confusion": confusion,
        "stated_correct": sum(r["stated_ok"] for r in rows if r["stated_ok"] is not None),
        "stated_checked": sum(r["stated_ok"] is not None for r in rows),
    }


def format_summary(summary: dict) -> str:
    lines = [f"n={summary['n']}  accuracy {summary['accuracy']:.1%}"]
    for v in VERDICTS:
        acc = summary["per_verdict"][v]
        shown = "-" if acc is None else f"{acc:.1%}"
        lines.append(f"  {v:<13} {shown:>6}  (n={summary['counts'][v]})")
    if summary["stated_checked"]:
        lines.append(
            f"  contradicted with the report's value found in the evidence: "
            f"{summary['stated_correct']}/{summary['stated_checked']}"
        )
    lines.append("")
    lines.append("expected \\ got " + "".join(f"{g:>14}" for g in VERDICTS))
    for e in VERDICTS:
        lines.append(f"{e:<15}" + "".join(f"{summary['confusion'][e][g]:>14}" for g in VERDICTS))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from assistant.factcheck import MIN_MATCH, check_claim
    from assistant.grounding import figure_in_text
    from assistant.services import open_retriever
    from assistant.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=["dev", "test", "all"], default="dev")
    parser.add_argument("--min-match", type=float, default=MIN_MATCH)
    parser.add_argument("-k", type=int, default=6, help="passages retrieved per claim")
    parser.add_argument(
        "--out", type=Path, default=None, help="default evals/results/claims_<split>.json"
    )
    parser.add_argument("--failures", action="store_true", help="print the claims judged wrongly")
    args = parser.parse_args(argv)

    retriever = open_retriever(Settings.from_env())
    claims = load_claims(split=None if args.split == "all" else args.split)
    rows, failures = [], []
    for c in claims:
        result = check_claim(c.claim, retriever, top_k=args.k, min_match=args.min_match)
        stated_ok = None
        if c.verdict == "contradicted" and result.verdict == "contradicted":
            # The value shown as the report's must be the one in the evidence sentence.
            wrong = [f for f in result.figures if not f.matches]
            stated_ok = bool(wrong) and all(
                f.stated is not None and figure_in_text(f.stated, c.evidence or "") for f in wrong
            )
        rows.append(
            {
                "id": c.id,
                "claim": c.claim,
                "expected": c.verdict,
                "got": result.verdict,
                "stated_ok": stated_ok,
                "figures": [f.to_dict() for f in result.figures],
                "quote": result.evidence[0].quote if result.evidence else None,
                "score": round(result.evidence[0].score, 4) if result.evidence else None,
            }
        )
        if c.verdict != result.verdict or stated_ok is False:
            failures.append(rows[-1])
    summary = summarise(rows)
    summary.update(split=args.split, min_match=args.min_match, top_k=args.k)
    print(format_summary(summary))
    if args.failures:
        print()
        for r in failures:
            figs = ", ".join(f"{f['claimed']}→{f['stated']}" for f in r["figures"])
            print(
                f"- {r['id']} expected {r['expected']}, got {r['got']}: {r['claim']} [{figs}] "
                f"score={r['score']} | {(r['quote'] or '')[:80]}"
            )
    out = args.out or RESULTS_DIR / f"claims_{args.split}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"summary": summary, "rows": rows}, fh, ensure_ascii=False, indent=1)
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
