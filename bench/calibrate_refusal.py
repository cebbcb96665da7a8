"""Choose the retrieval-relevance refusal thresholds on the dev split (never the test split).

    .venv/bin/python bench/calibrate_refusal.py
Prints, for a grid of (min_coverage, min_dense), how many dev unanswerable questions would be refused
before the model is asked, and how many answerable ones would be wrongly refused.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.chain import is_relevant, query_coverage  # noqa: E402
from assistant.services import open_retriever  # noqa: E402
from assistant.settings import ChainSettings, Settings  # noqa: E402
from evals.dataset import load_questions  # noqa: E402


def main() -> int:
    retriever = open_retriever(Settings.from_env())
    rows = []
    for q in load_questions(split="dev"):
        hits = retriever.run(q.question, top_k=ChainSettings().retrieve_k)
        dense = max((h.dense_score for h in hits if h.dense_score is not None), default=None)
        rows.append((q.answerable, query_coverage(q.question, hits, retriever), dense, q.id))
    answerable = [r for r in rows if r[0]]
    unanswerable = [r for r in rows if not r[0]]
    print(f"dev: {len(answerable)} answerable, {len(unanswerable)} unanswerable")
    for flag, label in ((True, "answerable"), (False, "unanswerable")):
        cov = sorted(round(r[1], 2) for r in rows if r[0] == flag)
        den = sorted(round(r[2], 3) for r in rows if r[0] == flag)
        print(f"  {label:<13} coverage {cov[:6]}…  dense {den[:6]}…")
    results = []
    for cov, dense in itertools.product(
        [0.0, 0.1, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5], [0.0, 0.8, 0.82, 0.84, 0.86, 0.88]
    ):
        s = ChainSettings(min_coverage=cov, min_dense=dense)
        refused_u = sum(not is_relevant(c, d, s) for _, c, d, _ in unanswerable)
        refused_a = sum(not is_relevant(c, d, s) for _, c, d, _ in answerable)
        results.append((refused_a, -refused_u, cov, dense, refused_u))
    results.sort()
    print("min_coverage min_dense  unanswerable refused  answerable wrongly refused")
    for refused_a, _, cov, dense, refused_u in results[:40]:
        if refused_a / len(answerable) <= 0.05:
            print(f"  {cov:>10} {dense:>9}  {refused_u:>3}/{len(unanswerable)}"
                  f"                  {refused_a}/{len(answerable)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
