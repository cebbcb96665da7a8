"""Retrieval benchmark: is the evidence sentence in what a system retrieved, and how early?

Metrics, per answerable question (unanswerable ones are skipped here):
- `hit@2000`: every evidence string is inside the first 2,000 characters of retrieved text
  (passages concatenated in rank order);
- `rank1`: at least one evidence string is inside the rank-1 passage;
- `mrr`: 1 / rank of the first passage holding an evidence string (0 if none in top-k).
Matching is done on normalised text (NFKC, whitespace removed), the same as evals/dataset.py; the
metric functions live in evals/metrics.py (`planqa eval` reports more of them).

    python -m evals.retrieval --split dev            # PlanQA hybrid, bm25, dense
    python -m evals.retrieval --split dev --baselines  # + the LangChain tutorial pipeline
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from evals.baselines import langchain_tutorial_search
from evals.dataset import EvalQuestion, load_questions
from evals.metrics import chars_to_evidence, first_relevant_rank, holds_evidence

PREFIX_CHARS = 2000
SearchFn = Callable[[str], Sequence[str]]  # question -> passage texts, best first


@dataclass(frozen=True)
class QuestionResult:
    qid: str
    hit_prefix: bool
    rank1: bool
    first_rank: int | None  # 1-based rank of the first passage holding evidence


def score_question(question: EvalQuestion, passages: Sequence[str]) -> QuestionResult:
    relevant = [holds_evidence(p, question.evidence) for p in passages]
    needed = chars_to_evidence(passages, question.evidence)
    return QuestionResult(
        qid=question.id,
        hit_prefix=needed is not None and needed <= PREFIX_CHARS,
        rank1=bool(relevant) and relevant[0],
        first_rank=first_relevant_rank(relevant),
    )


def summarise(results: Sequence[QuestionResult]) -> dict:
    n = len(results)
    if n == 0:
        return {"n": 0, "hit@2000": 0.0, "rank1": 0.0, "mrr": 0.0}
    return {
        "n": n,
        "hit@2000": sum(r.hit_prefix for r in results) / n,
        "rank1": sum(r.rank1 for r in results) / n,
        "mrr": sum(1.0 / r.first_rank for r in results if r.first_rank) / n,
    }


def evaluate(
    name: str, search: SearchFn, questions: Sequence[EvalQuestion]
) -> tuple[dict, list[QuestionResult]]:
    results, latencies = [], []
    for q in questions:
        if not q.evidence:
            continue
        started = time.perf_counter()
        passages = list(search(q.question))
        latencies.append((time.perf_counter() - started) * 1000)
        results.append(score_question(q, passages))
    summary = summarise(results)
    summary["system"] = name
    if latencies:
        summary["latency_ms_p50"] = statistics.median(latencies)
    return summary, results


def planqa_search(retriever, mode: str, k: int = 10) -> SearchFn:
    def search(question: str) -> list[str]:
        return [h.chunk.text for h in retriever.run(question, top_k=k, mode=mode)]

    return search


def _format_table(rows: list[dict]) -> str:
    lines = [f"{'system':<34} {'n':>4} {'hit@2000':>9} {'rank1':>7} {'mrr':>6} {'p50 ms':>8}"]
    for r in rows:
        lines.append(
            f"{r['system']:<34} {r['n']:>4} {r['hit@2000']:>9.1%} {r['rank1']:>7.1%} "
            f"{r['mrr']:>6.3f} {r.get('latency_ms_p50', 0):>8.1f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from assistant.services import open_retriever
    from assistant.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=["dev", "test", "all"], default="dev")
    parser.add_argument("--questions", type=Path, default=None)
    parser.add_argument("--index", type=Path, default=None)
    parser.add_argument("--baselines", action="store_true", help="also run the LangChain tutorial")
    parser.add_argument("--out", type=Path, default=None, help="write a JSON report here")
    parser.add_argument("--misses", action="store_true", help="list questions PlanQA missed")
    args = parser.parse_args(argv)

    split = None if args.split == "all" else args.split
    questions = load_questions(args.questions, split) if args.questions else load_questions(
        split=split
    )
    settings = Settings.from_env().with_overrides(index_dir=args.index)
    retriever = open_retriever(settings)
    rows, per_system = [], {}
    for mode in ("hybrid", "bm25", "dense"):
        summary, results = evaluate(f"planqa-{mode}", planqa_search(retriever, mode), questions)
        rows.append(summary)
        per_system[summary["system"]] = results
    if args.baselines:
        search = langchain_tutorial_search(settings.corpus_dir, retriever.embedder)
        summary, results = evaluate("langchain-tutorial(1000/200+faiss)", search, questions)
        rows.append(summary)
        per_system[summary["system"]] = results
    print(f"split={args.split} questions={len(questions)} (answerable scored: {rows[0]['n']})")
    print(_format_table(rows))
    if args.misses:
        by_id = {q.id: q for q in questions}
        for r in per_system["planqa-hybrid"]:
            if not (r.hit_prefix and r.rank1):
                q = by_id[r.qid]
                print(f"  miss {r.qid} hit={r.hit_prefix} r1={r.rank1} first={r.first_rank} "
                      f"{q.question} | {q.evidence[0][:40]}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkstemp(dir=args.out.parent, suffix=".tmp")[1])
        tmp.write_text(json.dumps({"split": args.split, "systems": rows}, ensure_ascii=False,
                                  indent=1), encoding="utf-8")
        os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
