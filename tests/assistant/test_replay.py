"""The replay file behind PLANQA_REPLAY_FILE: replies kept by prompt, safe across crashes."""

from __future__ import annotations

import json

import pytest

from assistant.replay import ReplayFile, replay_key
from assistant.settings import Settings
from corpus.errors import PlanQAError

MESSAGES = [{"role": "user", "content": "2023年末全市常住人口是多少？"}]


def test_a_reply_is_found_again_by_its_prompt_after_reopening(tmp_path):
    path = tmp_path / "replay" / "replies.jsonl"
    key = replay_key("model.gguf:10", MESSAGES, max_tokens=256, avoid_start="")
    first = ReplayFile(path)
    assert first.get(key) is None and first.misses == 1
    first.put(key, "2185.8万人[1]。", "stop")
    again = ReplayFile(path)
    assert again.get(key) == ("2185.8万人[1]。", "stop")
    assert again.summary() == {"file": str(path), "hits": 1, "misses": 0}


def test_the_key_changes_with_anything_that_decides_the_reply():
    base = replay_key("model.gguf:10", MESSAGES, max_tokens=256, avoid_start="")
    assert base == replay_key("model.gguf:10", MESSAGES, avoid_start="", max_tokens=256)
    assert base != replay_key("model.gguf:10", MESSAGES, max_tokens=256, avoid_start="报告")
    assert base != replay_key("model.gguf:10", MESSAGES, max_tokens=128, avoid_start="")
    assert base != replay_key("other.gguf:10", MESSAGES, max_tokens=256, avoid_start="")
    other = [{"role": "user", "content": "2022年末全市常住人口是多少？"}]
    assert base != replay_key("model.gguf:10", other, max_tokens=256, avoid_start="")


def test_a_torn_last_line_is_skipped_and_a_timed_out_reply_not_kept(tmp_path):
    path = tmp_path / "replies.jsonl"
    path.write_text(
        json.dumps({"key": "a", "text": "甲", "finish": "stop"}, ensure_ascii=False)
        + '\n{"key": "b", "te',
        encoding="utf-8",
    )
    replies = ReplayFile(path)
    assert len(replies) == 1 and replies.get("a") == ("甲", "stop") and replies.get("b") is None
    replies.put("c", "半句", "timeout")
    assert replies.get("c") is None and len(ReplayFile(path)) == 1
    replies.put("d", "整句", "stop")  # written on a line of its own, after the torn one
    assert ReplayFile(path).get("d") == ("整句", "stop") and len(ReplayFile(path)) == 2


def test_a_folder_is_a_plain_error(tmp_path):
    with pytest.raises(PlanQAError, match="must name a file"):
        ReplayFile(tmp_path)


def test_the_setting_comes_from_the_environment(tmp_path):
    path = str(tmp_path / "r.jsonl")
    assert Settings.from_env({"PLANQA_REPLAY_FILE": path}).answer.replay_file == path
    assert Settings.from_env({}).answer.replay_file == ""


def test_an_eval_run_names_only_the_replies_replayed_for_it(tmp_path, capsys):
    from types import SimpleNamespace

    from evals.runner import SystemRun, _note_replay, _replayed

    path = tmp_path / "replies.jsonl"
    key = replay_key("model.gguf:10", MESSAGES, max_tokens=256, avoid_start="")
    replay = ReplayFile(path)
    model = SimpleNamespace(replay=replay)
    assert replay.get(key) is None  # generated for an earlier run on the same model
    replay.put(key, "2185.8万人[1]。", "stop")
    before = _replayed(model)
    assert replay.get(key) and replay.get(key)
    run = SystemRun("chatchat-local", "answers", [])
    _note_replay(run, model, before)
    assert run.settings["replay"] == {"file": str(path), "hits": 2, "misses": 0}
    assert "2 model replies replayed" in capsys.readouterr().err
    # a model without a replay file (extractive, no PLANQA_REPLAY_FILE) leaves no note
    plain = SystemRun("planqa-extractive", "answers", [])
    _note_replay(plain, SimpleNamespace())
    assert "replay" not in plain.settings and not capsys.readouterr().err
