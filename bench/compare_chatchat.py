"""The same bundled model given Langchain-Chatchat's default knowledge-base prompt over the top-3
retrieved chunks, scored like `evals.answers` (answer accuracy, refusal), for comparison.

    .venv/bin/python bench/compare_chatchat.py --split test
Chatchat's prompt (configs/prompt_config.py, "knowledge_base_chat") asks for a concise answer from
the known information, or "根据已知信息无法回答该问题"; it asks for no citations, so only accuracy and
refusal are compared. Retrieval is PlanQA's, so the difference is the prompt and the checks.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from langchain_core.messages import HumanMessage  # noqa: E402

from assistant.services import make_chat_model, open_retriever  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from evals.answers import answer_matches  # noqa: E402
from evals.baselines import CHATCHAT_PROMPT  # noqa: E402
from evals.dataset import load_questions  # noqa: E402


def main() -> int:
    from tqdm import tqdm

    parser = argparse.ArgumentParser()
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument(
        "--qa", type=Path, default=None, help="question file (default: the bundled set)"
    )
    parser.add_argument(
        "--rows", type=Path, default=None, help="also write one JSON line per question here"
    )
    args = parser.parse_args()
    settings = Settings.from_env()
    retriever = open_retriever(settings)
    model = make_chat_model(settings.answer)
    if model is None:
        print("needs the local or openai backend", file=sys.stderr)
        return 2
    questions = (
        load_questions(args.qa, split=args.split) if args.qa else load_questions(split=args.split)
    )[: args.limit or None]
    rows = []
    correct = refused_u = refused_a = n_a = n_u = 0
    latencies = []
    for q in tqdm(questions, desc="chatchat prompt", file=sys.stderr):
        hits = retriever.run(q.question, top_k=3)
        context = "\n".join(h.chunk.text for h in hits)
        started = time.perf_counter()
        reply = str(
            model.invoke(
                [HumanMessage(CHATCHAT_PROMPT.format(context=context, question=q.question))]
            ).content
        )
        latencies.append((time.perf_counter() - started) * 1000)
        refused = "无法回答" in reply or "未找到" in reply
        right = (not refused) and answer_matches(q, reply) if q.answerable else refused
        rows.append(
            {
                "id": q.id,
                "question": q.question,
                "reply": reply,
                "refused": refused,
                "right": right,
                "ms": round(latencies[-1]),
            }
        )
        if q.answerable:
            n_a += 1
            refused_a += refused
            correct += right
        else:
            n_u += 1
            refused_u += refused
    result = {
        "system": "chatchat-default-prompt+top3",
        "split": args.split,
        "n": len(questions),
        "answer_accuracy": correct / n_a if n_a else 0.0,
        "refusal_accuracy": refused_u / n_u if n_u else 0.0,
        "false_refusal_rate": refused_a / n_a if n_a else 0.0,
        "total_ms_p50": statistics.median(latencies) if latencies else None,
    }
    print(json.dumps(result, ensure_ascii=False, indent=1))
    if args.rows:
        args.rows.write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
        )
    if args.qa or args.limit:
        return 0  # a partial or other question set does not replace the stored figures
    out = ROOT / "evals" / "results" / f"chatchat-{args.split}.json"
    out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
