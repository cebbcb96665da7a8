"""Answer benchmark: accuracy, refusal, citation precision, grounding and latency of `planqa ask`.

    python -m evals.answers --split dev --backend extractive
    python -m evals.answers --split test --backend local --limit 40

Per question (answers and evidence compared after NFKC and whitespace removal; answers also with
Chinese numerals read as Arabic ones, see evals/metrics.py, where the scoring functions live):
- answerable: `correct` when not refused and the answer holds any/all of the accepted answers;
  `false_refusal` when refused;
- unanswerable: `refused` when the answer is the fixed refusal sentence;
- each citation is `precise` when its passage holds an evidence string or an accepted answer;
- `grounded_with_missing_figure`: marked grounded yet a figure of the answer is in none of its cited
  passages (must be 0).
`planqa eval` runs the same scoring with a report; this module stays for quick checks.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from evals import metrics
from evals.dataset import EvalQuestion, load_questions


def answer_matches(q: EvalQuestion, text: str) -> bool:
    return metrics.answer_matches(q.answers, q.match, text)


def score(q: EvalQuestion, record: dict) -> dict:
    row = metrics.score_answer(q.answers, q.match, q.evidence, q.answerable, record)
    row.update(
        id=q.id,
        backend=record["backend"],
        ttft_ms=record.get("ttft_ms"),
        total_ms=record["timings_ms"]["total"],
    )
    return row


def summarise(rows: list[dict]) -> dict:
    totals = [r["total_ms"] for r in rows if not r["refused"]]
    ttfts = [r["ttft_ms"] for r in rows if r.get("ttft_ms") is not None]
    summary = metrics.summarise_answers(rows)
    summary.update(
        total_ms_p50=statistics.median(totals) if totals else None,
        ttft_ms_p50=statistics.median(ttfts) if ttfts else None,
    )
    return summary


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    from assistant.services import open_chain
    from assistant.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=["dev", "test", "all"], default="dev")
    parser.add_argument("--backend", choices=["local", "openai", "extractive"], default=None)
    parser.add_argument("--limit", type=int, default=0, help="only the first N questions")
    parser.add_argument("--out", type=Path, default=None, help="write rows + summary JSON here")
    parser.add_argument("--failures", action="store_true", help="print wrong answers")
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    if args.backend:
        settings = replace(settings, answer=replace(settings.answer, backend=args.backend))
    chain, notice, _ = open_chain(settings)
    if notice:
        print(notice, file=sys.stderr)
    questions = load_questions(split=None if args.split == "all" else args.split)
    if args.limit:
        questions = questions[: args.limit]
    rows, failures = [], []
    for q in tqdm(questions, desc=f"asking ({chain.backend})", file=sys.stderr):
        first: list[float] = []
        started = time.perf_counter()
        answer = chain.ask(
            q.question, qid=q.id,
            on_token=lambda _t, first=first, started=started: first
            or first.append((time.perf_counter() - started) * 1000),
        )
        record = answer.to_dict()
        record["ttft_ms"] = first[0] if first else None
        row = score(q, record)
        rows.append(row)
        if (q.answerable and not row["correct"]) or (not q.answerable and not row["refused"]):
            failures.append((q, record))
    summary = summarise(rows)
    summary.update(split=args.split, backend=chain.backend)
    print(json.dumps(summary, ensure_ascii=False, indent=1))
    if args.failures:
        for q, record in failures:
            print(f"- {q.id} {q.question} | expected {list(q.answers) or 'refusal'} | got "
                  f"{record['answer'][:120]!r}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=args.out.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"summary": summary, "rows": rows}, fh, ensure_ascii=False, indent=1)
        os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
