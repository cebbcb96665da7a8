"""Answer latency: time to first token and full answer for `local`, full answer for `extractive`.

    .venv/bin/python bench/bench_answers.py [--n 20]
Warm: the model is loaded and one question answered before timing. Writes bench/results/answers.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.services import open_chain, open_retriever  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from evals.dataset import load_questions  # noqa: E402


def time_backend(settings: Settings, retriever, backend: str, questions: list[str]) -> dict:
    chain, notice, _ = open_chain(
        replace(settings, answer=replace(settings.answer, backend=backend)), retriever
    )
    if notice:
        return {"backend": backend, "error": notice}
    chain.ask(questions[0])  # warm-up
    ttft, total = [], []
    for question in questions:
        first: list[float] = []
        started = time.perf_counter()
        chain.ask(question, on_token=lambda _t, f=first, s=started: f or f.append(time.perf_counter() - s))
        total.append((time.perf_counter() - started) * 1000)
        if first:
            ttft.append(first[0] * 1000)
    result = {"backend": backend, "questions": len(questions),
              "total_ms_p50": round(statistics.median(total), 1),
              "total_ms_p95": round(sorted(total)[int(0.95 * (len(total) - 1))], 1)}
    if ttft:
        result["ttft_ms_p50"] = round(statistics.median(ttft), 1)
        result["ttft_ms_p95"] = round(sorted(ttft)[int(0.95 * (len(ttft) - 1))], 1)
        result["answers_with_tokens"] = len(ttft)
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20, help="questions for the local model")
    args = parser.parse_args()
    settings = Settings.from_env()
    retriever = open_retriever(settings)
    questions = [q.question for q in load_questions(split="dev") if q.answerable]
    results = [
        time_backend(settings, retriever, "extractive", questions),
        time_backend(settings, retriever, "local", questions[: args.n]),
    ]
    for r in results:
        print(json.dumps(r, ensure_ascii=False))
    out = ROOT / "bench" / "results" / "answers.json"
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"machine": f"{os.cpu_count()} cores", "results": results},
                              ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
