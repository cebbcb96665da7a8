"""Benchmark: index build from scratch, incremental no-op, warm hybrid latency, peak memory of search.

    .venv/bin/python bench/bench_retrieval.py            # prints a table, writes bench/results/retrieval.json
Timings are measured here and reported in notes; no test asserts them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLANQA = [sys.executable, "-m", "assistant.cli"]


def run(cmd: list[str], env: dict) -> tuple[float, str]:
    started = time.perf_counter()
    out = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    return time.perf_counter() - started, out.stdout + out.stderr


def peak_rss_mb(cmd: list[str], env: dict) -> float:
    """Max resident set size of a child process, from GNU time if present, else rusage."""
    if shutil.which("/usr/bin/time"):
        out = subprocess.run(["/usr/bin/time", "-v", *cmd], env=env, cwd=ROOT,
                             capture_output=True, text=True, check=True)
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr)
        if m:
            return int(m.group(1)) / 1024
    import resource

    subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, check=True)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from assistant.services import open_retriever
    from assistant.settings import Settings
    from evals.dataset import load_questions

    work = Path(tempfile.mkdtemp(prefix="planqa-bench-"))
    env = {**os.environ, "PLANQA_INDEX_DIR": str(work / "index")}
    results: dict = {"machine": f"{os.cpu_count()} cores", "python": sys.version.split()[0]}
    try:
        build_s, _ = run([*PLANQA, "index", "--quiet"], env)
        noop_s, noop_out = run([*PLANQA, "index", "--quiet"], env)
        assert "up to date" in noop_out, noop_out
        results["build_from_scratch_s"] = round(build_s, 1)
        results["noop_reindex_s"] = round(noop_s, 2)
        results["search_peak_rss_mb"] = round(
            peak_rss_mb([*PLANQA, "search", "2023年末北京常住人口是多少？", "--json"], env), 1
        )

        retriever = open_retriever(Settings.from_env().with_overrides(index_dir=work / "index"))
        questions = [q.question for q in load_questions()]
        retriever.run(questions[0])  # warm-up: jieba dictionary, first FAISS call
        latencies = []
        for question in questions:
            started = time.perf_counter()
            retriever.run(question, top_k=5, mode="hybrid")
            latencies.append((time.perf_counter() - started) * 1000)
        latencies.sort()
        results["hybrid_queries"] = len(latencies)
        results["hybrid_p50_ms"] = round(statistics.median(latencies), 1)
        results["hybrid_p95_ms"] = round(latencies[int(0.95 * (len(latencies) - 1))], 1)
        results["chunks"] = len(retriever.index.chunks)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for key, value in results.items():
        print(f"{key:<24} {value}")
    out = ROOT / "bench" / "results" / "retrieval.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
