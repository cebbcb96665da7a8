"""How fast the web app is in a real browser: first page render (cold process, then a second
session), first answer, and a search, with `streamlit run app.py` on 127.0.0.1 and Debian's
chromium driven by Playwright.

    .venv/bin/python bench/bench_app.py [--backend extractive|local] [--runs 3]

Needs a built index (`planqa index`). Writes bench/results/app.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.app.test_browser import CHROMIUM, CHROMIUM_ARGS, _free_port  # noqa: E402


def start_app(port: int, backend: str) -> tuple[subprocess.Popen, float]:
    env = dict(os.environ, PLANQA_BACKEND=backend)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return proc, time.perf_counter() - started
        except OSError:
            time.sleep(0.1)
        if proc.poll() is not None:
            raise SystemExit("streamlit did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="extractive")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import expect, sync_playwright

    results: dict = {"backend": args.backend, "runs": []}
    for _ in range(args.runs):
        port = _free_port()
        proc, server_s = start_app(port, args.backend)
        url = f"http://127.0.0.1:{port}"
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                timings = {"server_start_s": server_s}
                for label in ("first_render_cold_s", "first_render_warm_s"):
                    page = browser.new_page(viewport={"width": 1280, "height": 900})
                    t = time.perf_counter()
                    page.goto(url, wait_until="domcontentloaded")
                    expect(page.get_by_text("试试这些问题")).to_be_visible(timeout=60_000)
                    timings[label] = time.perf_counter() - t
                box = page.get_by_test_id("stChatInputTextArea")
                box.fill("2023年末北京常住人口是多少？")
                t = time.perf_counter()
                box.press("Enter")
                expect(page.locator("a.pq-cite").first).to_be_visible(timeout=300_000)
                timings["first_answer_s"] = time.perf_counter() - t
                box.fill("2024年北京森林覆盖率达到了多少？")
                t = time.perf_counter()
                box.press("Enter")
                expect(page.locator("div.pq-answer")).to_have_count(2, timeout=300_000)
                timings["second_answer_s"] = time.perf_counter() - t
                t = time.perf_counter()
                page.goto(f"{url}/search", wait_until="domcontentloaded")
                query = page.get_by_placeholder("例如：轨道交通运营里程、2023年度读本 常住人口")
                query.fill("轨道交通运营里程")
                query.press("Enter")
                expect(page.get_by_test_id("stExpander").first).to_be_visible(timeout=60_000)
                timings["search_page_and_results_s"] = time.perf_counter() - t
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        results["runs"].append({k: round(v, 2) for k, v in timings.items()})
        print(json.dumps(results["runs"][-1], ensure_ascii=False))
    keys = results["runs"][0].keys()
    results["median"] = {k: round(statistics.median(r[k] for r in results["runs"]), 2) for k in keys}
    out = ROOT / "bench" / "results" / f"app_{args.backend}.json"
    out.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print("median:", json.dumps(results["median"], ensure_ascii=False))


if __name__ == "__main__":
    main()
