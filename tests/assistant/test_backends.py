"""The real model backends: llama.cpp in process, and llama.cpp's OpenAI-compatible server on
127.0.0.1 serving the same bundled model (slow: loads a 1.1 GB model)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from assistant import backend_local
from assistant.backend_local import BackendUnavailable, LlamaCppChatModel, check_llama_runs
from assistant.backend_openai import make_openai_chat_model
from assistant.chain import AnswerChain, answer_prompt_prefix
from assistant.settings import ChainSettings

pytestmark = pytest.mark.slow
pytest.importorskip("llama_cpp")


@pytest.fixture(scope="module")
def model_path() -> str:
    from assistant.model_files import bundled_model_path

    return str(bundled_model_path())


@pytest.fixture(scope="module")
def local_model(model_path) -> LlamaCppChatModel:
    model = LlamaCppChatModel(
        model_path=model_path,
        n_ctx=2048,
        max_tokens=96,
        timeout_s=120,
        pinned_text=answer_prompt_prefix(),
    )
    model.load()
    return model


def test_local_model_streams_chinese_text(local_model):
    chunks = list(local_model.stream("用一句话回答：中国的首都是哪座城市？"))
    text = "".join(str(c.content) for c in chunks)
    assert len(chunks) > 1 and "北京" in text


def test_local_chain_answers_with_a_verified_citation(local_model, retriever):
    chain = AnswerChain(retriever, local_model, "local")
    streamed: list[str] = []
    answer = chain.ask("2023年末北京常住人口是多少？", on_token=streamed.append)
    assert answer.backend == "local" and streamed
    assert not answer.refused and "2185.8" in answer.answer
    assert answer.grounded and answer.citations
    assert any("2185.8" in c.hit.chunk.text for c in answer.citations)


def _answer_prompt(context: str, question: str) -> str:
    return f"{answer_prompt_prefix()}{context}\n</已知信息>\n<问题>{question}</问题>"


_SHARED_CONTEXT = (
    "[1] 《北京城市总体规划实施体检报告》 人口\n2023年末，全市常住人口2185.8万人，比上年末增加1.5万人。"
    "城六区常住人口1097.7万人。\n[2] 《北京城市总体规划实施体检报告》 用地\n城乡建设用地规模减少到2900平方公里左右。"
)


@pytest.fixture()
def reads(local_model, monkeypatch) -> list[tuple[int, int]]:
    """(tokens already cached, tokens read) for each llama.cpp eval while the test runs."""
    llama = local_model._llama
    seen: list[tuple[int, int]] = []
    real_eval = llama.eval

    def spy(tokens):
        seen.append((llama.n_tokens, len(tokens)))
        return real_eval(tokens)

    monkeypatch.setattr(llama, "eval", spy)
    return seen


def test_a_new_question_reuses_only_the_answer_prompts_instruction(local_model, reads):
    """The previous prompt's cache is kept only up to the fixed instruction, computed alone,
    so an answer does not depend on the question asked before it; a second turn of the
    same conversation still reuses its first."""
    llama = local_model._llama
    first = _answer_prompt(_SHARED_CONTEXT, "2023年末北京常住人口是多少？")
    local_model.invoke([HumanMessage(content=first)])
    reads.clear()
    second = _answer_prompt(_SHARED_CONTEXT, "城六区常住人口是多少？")
    after_first = local_model.invoke([HumanMessage(content=second)]).content
    pinned = len(llama._pinned)
    decoded = llama.detokenize(llama._pinned).decode("utf-8", errors="ignore")
    instruction = decoded[decoded.index("<指令>") :]
    # The pinned tokens are the chat template's opening and the instruction, all but its end.
    assert answer_prompt_prefix().startswith(instruction)
    assert len(instruction) > len(answer_prompt_prefix()) - 10
    # The two prompts share the passages too, yet only the instruction is reused.
    assert reads[0] == (pinned, reads[0][1]) and reads[0][1] > 100

    reads.clear()
    local_model.invoke([HumanMessage(content="用一句话回答：中国的首都是哪座城市？")])
    assert reads[0][0] == 0  # a prompt without the instruction is read from scratch
    reads.clear()
    after_other = local_model.invoke([HumanMessage(content=second)]).content
    assert after_other == after_first
    # ... and the instruction is put back from its saved cache, not read again.
    assert reads[0] == (pinned, reads[0][1]) and reads[0][1] > 100

    reads.clear()
    local_model.invoke(
        [
            HumanMessage(content=second),
            AIMessage(content=after_first),
            HumanMessage(content="请再读一遍。"),
        ]
    )
    assert reads[0][0] > pinned + 100  # the second turn reuses its first turn


def test_avoid_start_rules_out_the_refusal_and_reuses_the_prompt(local_model, reads):
    """Asked about something its passages do not say, the model refuses; with the refusal's
    first token ruled out it writes something else, reading only the prompt's last token."""
    from assistant.models import REFUSAL

    llama = local_model._llama
    prompt = [HumanMessage(content=_answer_prompt(_SHARED_CONTEXT, "北京有多少座机场？"))]
    assert local_model.invoke(prompt).content.strip() == REFUSAL
    reads.clear()
    forced = str(local_model.invoke(prompt, avoid_start=REFUSAL).content).strip()
    first = llama.tokenize(REFUSAL.encode(), add_bos=False, special=False)[0]
    assert forced and llama.tokenize(forced.encode(), add_bos=False, special=False)[0] != first
    assert reads[0][1] == 1 and reads[0][0] > 100  # the cached prompt, its last token re-read
    # A later question is a new conversation again: only the instruction is reused.
    reads.clear()
    local_model.invoke(prompt)
    assert reads[0][0] == len(llama._pinned)


def test_a_replay_file_gives_back_the_recorded_reply_without_the_model(
    local_model, reads, tmp_path
):
    """PLANQA_REPLAY_FILE (evals): a reply is generated once, then replayed for the same
    prompt with nothing read by llama.cpp; a forced reply to that prompt is another one."""
    from assistant.replay import ReplayFile

    path = tmp_path / "replies.jsonl"
    prompt = [HumanMessage(content=_answer_prompt(_SHARED_CONTEXT, "2023年末全市常住人口是多少？"))]
    recording = local_model.model_copy(update={"replay": ReplayFile(path)})
    first = str(recording.invoke(prompt).content)
    assert "2185.8" in first and (recording.replay.hits, recording.replay.misses) == (0, 1)
    reads.clear()
    replaying = local_model.model_copy(update={"replay": ReplayFile(path)})
    streamed = "".join(str(c.content) for c in replaying.stream(prompt))
    assert streamed == first and replaying.invoke(prompt).content == first
    assert replaying.replay.hits == 2 and reads == []
    forced = str(replaying.invoke(prompt, avoid_start=first[:1]).content)
    assert reads and replaying.replay.misses == 1 and forced[:1] != first[:1]


def test_damaged_model_file_is_a_plain_error(tmp_path):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\x00" * 64)
    model = LlamaCppChatModel(model_path=str(broken))
    with pytest.raises(BackendUnavailable, match="Could not load the model file"):
        model.load()


# A child that dies the way a llama.cpp build unfit for the CPU does (SIGSEGV).
_SEGFAULT = "import ctypes; ctypes.string_at(0)"


def test_the_build_is_probed_once_in_a_child_process(model_path, tmp_path):
    check_llama_runs(model_path, 2, probe_dir=tmp_path)
    assert len(list(tmp_path.glob("llama-*.ok"))) == 1
    # the pass is remembered: the same build and model file are not read again
    check_llama_runs(model_path, 2, probe_dir=tmp_path, script=_SEGFAULT)


def test_a_build_that_crashes_is_a_plain_error_and_remembered_as_nothing(model_path, tmp_path):
    with pytest.raises(BackendUnavailable, match=r"crashed \(SIGSEGV\).*setup.sh local"):
        check_llama_runs(model_path, 2, probe_dir=tmp_path, script=_SEGFAULT)
    assert not list(tmp_path.iterdir())
    # a child that fails without a signal (a damaged file) leaves the verdict to the real load
    check_llama_runs(model_path, 2, probe_dir=tmp_path, script="raise SystemExit(1)")
    assert not list(tmp_path.iterdir())


def test_a_crashing_build_answers_extractively_with_exit_code_4(
    model_path, tiny_corpus, tmp_path, monkeypatch, capsys
):
    from assistant.cli import main

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # no remembered pass
    monkeypatch.setattr(backend_local, "_PROBE_SCRIPT", _SEGFAULT)
    monkeypatch.setenv("PLANQA_CORPUS_DIR", str(tiny_corpus))
    monkeypatch.setenv("PLANQA_INDEX_DIR", str(tmp_path / "idx"))
    assert main(["index", "--quiet"]) == 0
    capsys.readouterr()
    code = main(["ask", "北京常住人口是多少？", "--backend", "local", "--model", model_path, "--json"])
    captured = capsys.readouterr()
    assert code == 4
    assert "crashed (SIGSEGV)" in captured.err and "extractive" in captured.err
    record = json.loads(captured.out)
    assert record["backend"] == "extractive" and "2185.8万人" in record["answer"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def openai_server(model_path):
    """llama-cpp-python's own OpenAI-compatible server, on loopback, for this module."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", model_path, "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "2048", "--model_alias", "planqa-test"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy(),
    )
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 180
    try:
        while True:
            try:
                urllib.request.urlopen(f"{base}/models", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("llama_cpp.server did not start on 127.0.0.1")
                time.sleep(1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_openai_backend_against_a_real_local_server(openai_server, retriever):
    model = make_openai_chat_model(openai_server, "planqa-test", max_tokens=96, timeout_s=120)
    chain = AnswerChain(retriever, model, "openai", ChainSettings())
    answer = chain.ask("北京的森林覆盖率达到了多少？")
    assert answer.backend == "openai" and not answer.notice
    assert not answer.refused and "44.9%" in answer.answer
    assert answer.grounded and any("44.9%" in c.hit.chunk.text for c in answer.citations)


def test_openai_backend_times_out_into_extractive(openai_server, retriever):
    model = make_openai_chat_model(openai_server, "planqa-test", max_tokens=96, timeout_s=0.01)
    chain = AnswerChain(retriever, model, "openai", ChainSettings(rewrite_with_model=False))
    answer = chain.ask("北京的森林覆盖率达到了多少？")
    assert answer.backend == "extractive" and answer.fallback == "timeout"
    assert "44.9%" in answer.answer
