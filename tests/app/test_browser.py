"""End to end in a real headless browser: `streamlit run app.py` on 127.0.0.1, Debian's chromium
driven by Playwright; ask a question, find the answer with its citation, check a claim.

Screenshots go to $PLANQA_SCREENSHOTS when set (the README's come from
`PLANQA_SCREENSHOTS=docs/screenshots bash scripts/test.sh tests/app/test_browser.py`), else to
the test's temporary folder.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags chromium keeps dialling out of this closed network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def app_url(bundled_index: Path, tmp_path: Path):
    port = _free_port()
    env = dict(
        os.environ,
        PLANQA_INDEX_DIR=str(bundled_index),
        PLANQA_CORPUS_DIR=str(bundled_index.parent / "reports"),
        PLANQA_DATA_DIR=str(tmp_path / "data"),
        PLANQA_BACKEND="extractive",
    )
    env.pop("PLANQA_ADMIN_PASSWORD", None)
    log = open(tmp_path / "streamlit.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                    if reply.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("streamlit did not start:\n" + (tmp_path / "streamlit.log").read_text())
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_ask_in_a_real_browser_and_find_a_cited_answer(app_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: run `bash scripts/test.sh` (it installs Debian's chromium)")
    shots = Path(os.environ.get("PLANQA_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            page.goto(app_url, wait_until="domcontentloaded")
            expect(page.get_by_text("试试这些问题")).to_be_visible(timeout=60_000)

            box = page.get_by_test_id("stChatInputTextArea")
            box.fill("2023年末北京常住人口是多少？")
            box.press("Enter")
            badge = page.locator("a.pq-cite").first
            expect(badge).to_be_visible(timeout=120_000)
            assert badge.inner_text().strip() == "1"
            answer = page.locator("div.pq-answer").first.inner_text()
            assert "2185.8万人" in answer

            card = page.get_by_test_id("stExpander").filter(has_text="[1] 《").first
            card.locator("summary").click()
            expect(card.locator("mark").first).to_contain_text("2185.8万人")
            page.screenshot(path=str(shots / "chat.png"), full_page=True)

            page.goto(f"{app_url}/search", wait_until="domcontentloaded")
            page.get_by_role("tab", name="事实核查").click()
            claim = page.get_by_placeholder("例如：2024年北京森林覆盖率达到45%")
            claim.fill("2023年末北京常住人口为2200万人")
            claim.press("Control+Enter")  # commit the text area before clicking
            page.get_by_role("button", name="核查", exact=True).click()
            expect(page.get_by_text("不一致").first).to_be_visible(timeout=60_000)
            # the figure table: the value the report states next to the claimed one
            expect(page.get_by_test_id("stTable")).to_contain_text("2185.8万人", timeout=30_000)
            expect(page.get_by_test_id("stTable")).to_contain_text("2200万人")
            page.screenshot(path=str(shots / "factcheck.png"), full_page=True)
        finally:
            browser.close()
    assert (shots / "chat.png").stat().st_size > 10_000


def test_two_sessions_asking_at_once_both_get_their_own_answer(app_url: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    questions = ("2023年末北京常住人口是多少？", "2024年北京森林覆盖率达到了多少？")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            pages = [browser.new_context(locale="zh-CN").new_page() for _ in questions]
            for page in pages:
                page.goto(app_url, wait_until="domcontentloaded")
                expect(page.get_by_text("试试这些问题")).to_be_visible(timeout=60_000)
            for page, question in zip(pages, questions, strict=True):
                page.get_by_test_id("stChatInputTextArea").fill(question)
            for page in pages:  # both submitted before either answer arrives
                page.get_by_test_id("stChatInputTextArea").press("Enter")
            answers = []
            for page in pages:
                expect(page.locator("a.pq-cite").first).to_be_visible(timeout=120_000)
                answers.append(page.locator("div.pq-answer").first.inner_text())
                expect(page.locator("div.pq-answer")).to_have_count(1)
        finally:
            browser.close()
    assert "2185.8万人" in answers[0]
    assert "森林覆盖率" in answers[1] and "2185.8" not in answers[1]
