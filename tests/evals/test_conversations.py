"""The follow-up benchmark: the conversation file, its checks, and `planqa eval --conversations`."""

from __future__ import annotations

import json

import pytest

from assistant.cli import main
from evals.conversations import (
    DEFAULT_CONVERSATIONS,
    follow_up_questions,
    load_conversations,
)
from evals.dataset import DEFAULT_PATH, load_questions


@pytest.fixture(scope="module")
def qa():
    return {q.id: q for q in load_questions(DEFAULT_PATH)}


def test_bundled_conversations_are_follow_ups_of_one_split(qa):
    conversations = load_conversations(DEFAULT_CONVERSATIONS, qa)
    dev = load_conversations(DEFAULT_CONVERSATIONS, qa, "dev")
    test = load_conversations(DEFAULT_CONVERSATIONS, qa, "test")
    assert dev and test and len(dev) + len(test) == len(conversations)
    follow_ups = [c.turns[-1][1] for c in conversations]
    assert len(set(follow_ups)) == len(follow_ups)  # each QA item scores one follow-up at most
    for c in conversations:
        assert {qa[qa_id].split for _, qa_id in c.turns} == {c.split}
        # the follow-up as asked is not the QA item's own standalone wording
        assert c.turns[-1][0] != qa[c.turns[-1][1]].question
    assert any(not qa[c.turns[-1][1]].answerable for c in dev)  # some must be refused


def test_second_conversation_set_loads_over_its_own_questions(qa):
    # evals/conversations_fresh.jsonl: written later, without reading the first set (README)
    evals = DEFAULT_PATH.parent
    own = {q.id: q for q in load_questions(evals / "qa_fresh_followups.jsonl")}
    conversations = load_conversations(evals / "conversations_fresh.jsonl", own)
    assert len(conversations) >= 30 and {c.split for c in conversations} == {"dev"}
    assert sum(not own[c.turns[-1][1]].answerable for c in conversations) >= 5
    assert not set(own) & set(qa)  # its ids never name an item of the first set
    first = load_conversations(DEFAULT_CONVERSATIONS, qa)
    assert not {c.id for c in conversations} & {c.id for c in first}
    with pytest.raises(ValueError, match="not in the QA set"):
        load_conversations(evals / "conversations_fresh.jsonl", qa)


def test_follow_up_is_scored_as_its_qa_item(qa):
    conversation = load_conversations(DEFAULT_CONVERSATIONS, qa, "dev")[0]
    (question,) = follow_up_questions([conversation], qa)
    item = qa[conversation.turns[-1][1]]
    assert question.question == conversation.turns[-1][0]
    assert question.id == f"{conversation.id}/{item.id}"
    assert (question.answers, question.evidence, question.split) == (
        item.answers,
        item.evidence,
        item.split,
    )


@pytest.mark.parametrize(
    "turns, message",
    [
        ([{"question": "2024年北京全市常住人口是多少？", "qa_id": "q001"}], "at least two"),
        ([{"question": "人口？", "qa_id": "q001"}, {"question": "那呢？", "qa_id": "q999"}], "not in"),
        # q001 is a test question, q002 a dev one: a conversation keeps to one split
        ([{"question": "人口？", "qa_id": "q001"}, {"question": "比重呢？", "qa_id": "q002"}], "split"),
        ([{"question": "人口？", "qa_id": "q001"}, {"question": " ", "qa_id": "q003"}], "no question"),
    ],
)
def test_bad_conversation_names_its_line(qa, tmp_path, turns, message):
    path = tmp_path / "conversations.jsonl"
    good = {"id": "c001", "split": "test", "turns": [
        {"question": "2024年北京全市常住人口是多少？", "qa_id": "q001"},
        {"question": "优良天数呢？", "qa_id": "q003"},
    ]}  # fmt: skip
    bad = {"id": "c002", "split": "test", "turns": turns}
    lines = [json.dumps(good, ensure_ascii=False), json.dumps(bad, ensure_ascii=False)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=f"conversations.jsonl:2: .*{message}"):
        load_conversations(path, qa)


def test_eval_cli_rejects_a_bad_conversation_file_and_bad_combinations(tmp_path, capsys):
    missing = tmp_path / "none.jsonl"
    out = tmp_path / "run"
    assert main(["eval", "--conversations", str(missing), "--out", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["eval", "--conversations", "--compare", "--out", str(out)]) == 2
    assert "--compare" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.slow
def test_eval_conversations_asks_the_earlier_turn_first(bundled_index, monkeypatch, tmp_path, qa):
    monkeypatch.setenv("PLANQA_INDEX_DIR", str(bundled_index))
    monkeypatch.setenv("PLANQA_CORPUS_DIR", str(bundled_index.parent / "reports"))
    out = tmp_path / "run"
    args = ["eval", "--conversations", "--split", "dev", "--backend", "extractive",
            "--limit", "3", "--out", str(out), "--quiet"]  # fmt: skip
    assert main(args) == 0
    conversations = load_conversations(DEFAULT_CONVERSATIONS, qa, "dev")[:3]
    records = [json.loads(line) for line in (out / "results.jsonl").open(encoding="utf-8")]
    assert [r["question"] for r in records] == [c.turns[-1][0] for c in conversations]
    for record, conversation in zip(records, conversations, strict=True):
        assert record["history"] == [q for q, _ in conversation.turns[:-1]]
        assert record["expected"] == list(qa[conversation.turns[-1][1]].answers)
        assert record["standalone_question"]
    data = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert data["answers"]["n"] == 3 and data["conversations"].endswith("conversations.jsonl")
