"""Choose the extractive backend's minimum sentence coverage on the dev split (never test).

    .venv/bin/python bench/calibrate_extractive.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.backend_extractive import extractive_answer  # noqa: E402
from assistant.chain import pack_context  # noqa: E402
from assistant.models import REFUSAL  # noqa: E402
from assistant.services import open_retriever  # noqa: E402
from assistant.settings import ChainSettings, Settings  # noqa: E402
from evals.dataset import load_questions, normalize_for_match  # noqa: E402


def main() -> int:
    settings = Settings.from_env()
    retriever = open_retriever(settings)
    chain = ChainSettings()
    cases = []
    for q in load_questions(split="dev"):
        hits = retriever.run(q.question, top_k=chain.retrieve_k)
        passages = [h.chunk.text for h in pack_context(hits, chain.context_chars)]
        cases.append((q, passages))
    print("min_cov  unanswerable refused  answerable refused  answerable correct")
    for min_cov in (0.0, 0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7):
        ref_u = ref_a = correct = n_a = n_u = 0
        for q, passages in cases:
            text = extractive_answer(q.question, passages, retriever.tokenizer, min_coverage=min_cov)
            refused = text == REFUSAL
            if q.answerable:
                n_a += 1
                ref_a += refused
                norm = normalize_for_match(text)
                hits = [normalize_for_match(a) in norm for a in q.answers]
                correct += (all(hits) if q.match == "all" else any(hits)) and not refused
            else:
                n_u += 1
                ref_u += refused
        print(f"{min_cov:>7}  {ref_u:>3}/{n_u:<18} {ref_a:>3}/{n_a:<16} {correct}/{n_a}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
