"""Follow-up latency with the local model: a question, then a follow-up that the model rewrites
into a standalone question before answering it (two prompts for one answer).

    .venv/bin/python bench/bench_follow_ups.py
Warm: the model is loaded and one question answered before timing. Prints each follow-up's
rewrite, answer and time; writes bench/results/follow_ups.json.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.models import Turn  # noqa: E402
from assistant.services import open_chain, open_retriever  # noqa: E402
from assistant.settings import Settings  # noqa: E402

# Conversations as people have them in the app; not eval questions.
CONVERSATIONS = [
    ("2024年北京常住人口是多少？", "那2023年呢？"),
    ("城市副中心155平方公里范围内，到2035年常住人口控制在多少以内？", "通州全区呢？"),
    ("大兴机场投运以来累计旅客吞吐量有多少？", "货邮吞吐量呢？"),
    ("京津冀机场群旅客吞吐量是多少？", "同比增长多少？"),
    ("北京轨道交通2024年新增了多少运营里程？", "新增了多少座站点？"),
    ("通州的森林覆盖率达到多少？", "PM2.5呢？"),
]


def main() -> int:
    settings = Settings.from_env()
    chain, notice, _ = open_chain(settings, open_retriever(settings))
    if notice or chain.backend != "local":
        print(f"needs the local backend: {notice or chain.backend}", file=sys.stderr)
        return 1
    chain.ask("北京城市总体规划确定的城市战略定位是什么？")  # warm-up
    times, rows = [], []
    for first, follow_up in CONVERSATIONS:
        answer = chain.ask(first)
        turn = Turn(first, answer.answer, answer.standalone_question)
        started = time.perf_counter()
        second = chain.ask(follow_up, history=[turn])
        seconds = time.perf_counter() - started
        times.append(seconds)
        rows.append({"follow_up": follow_up, "standalone": second.standalone_question,
                     "answer": second.answer, "seconds": round(seconds, 2)})
        print(f"{seconds:.2f} s  {follow_up} -> {second.standalone_question} -> {second.answer[:60]}")
    result = {"machine": f"{os.cpu_count()} cores", "follow_ups": len(times),
              "total_s_p50": round(statistics.median(times), 2),
              "total_s_mean": round(statistics.mean(times), 2), "rows": rows}
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}, ensure_ascii=False))
    out = ROOT / "bench" / "results" / "follow_ups.json"
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
