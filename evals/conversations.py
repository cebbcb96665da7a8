"""Follow-up questions: two-turn conversations whose last turn only makes sense after the first.

`evals/conversations.jsonl` holds one JSON object per line:
`{"id": "c001", "split": "dev", "turns": [{"question": "…", "qa_id": "q001"}, {"question": "那2023年呢？", "qa_id": "q0NN"}]}`.
Every turn names the item of the QA set (`evals/qa.jsonl`) that states what it asks; the last
turn is scored with that item's answers and evidence, so the benchmark's own checks score a
follow-up ("那2023年呢？" scored as "2023年北京常住人口是多少？"). The earlier turns are asked first,
by the same chain, and their answers become the conversation the follow-up is rewritten with.
Both turns of a conversation come from one split, so the held-out split stays held out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from evals.dataset import (
    SPLITS,
    EvalQuestion,
    check_fields,
    enum_field,
    field_error,
    read_records,
)

DEFAULT_CONVERSATIONS = Path(__file__).resolve().parent / "conversations.jsonl"
_ID_RE = re.compile(r"^c\d{3,}$")
_FIELDS = ("id", "split", "turns")


@dataclass(frozen=True)
class Conversation:
    id: str
    split: str
    turns: tuple[tuple[str, str], ...]  # (question as asked, qa_id of the item it means)


def load_conversations(
    path: str | Path, questions: Mapping[str, EvalQuestion], split: str | None = None
) -> list[Conversation]:
    """Read and check the conversation file against the QA items (`questions`: id -> item, all
    splits); keep only `split` when given. Raises `ValueError` ("<file>:<line>: field …: why")."""
    records = read_records(
        Path(path), lambda obj, where: _parse(check_fields(obj, where, _FIELDS), where, questions)
    )
    conversations = [conversation for conversation, _ in records]
    if split is not None:
        conversations = [c for c in conversations if c.split == split]
    return conversations


def _parse(obj: dict, where: str, questions: Mapping[str, EvalQuestion]) -> Conversation:
    cid = obj["id"]
    if not isinstance(cid, str) or not _ID_RE.match(cid):
        raise field_error(where, "id", f"must look like c001, got {cid!r}")
    split = enum_field(obj["split"], where, "split", SPLITS)
    turns = obj["turns"]
    if not isinstance(turns, list) or len(turns) < 2:
        raise field_error(where, "turns", "must be a list of at least two turns")
    parsed = []
    for i, turn in enumerate(turns):
        turn = check_fields(turn, f"{where}: turn {i + 1}", ("question", "qa_id"))
        question, qa_id = turn["question"], turn["qa_id"]
        if not isinstance(question, str) or not question.strip():
            raise field_error(where, "turns", f"turn {i + 1} has no question")
        item = questions.get(qa_id)
        if item is None:
            raise field_error(where, "turns", f"turn {i + 1} names {qa_id!r}, not in the QA set")
        if item.split != split:
            raise field_error(
                where, "turns", f"turn {i + 1} names {qa_id} of the {item.split} split, not {split}"
            )
        parsed.append((question.strip(), qa_id))
    return Conversation(cid, split, tuple(parsed))


def follow_up_questions(
    conversations: Sequence[Conversation], questions: Mapping[str, EvalQuestion]
) -> list[EvalQuestion]:
    """One benchmark question per conversation: its last turn as asked, scored as its QA item."""
    return [
        replace(questions[c.turns[-1][1]], id=f"{c.id}/{c.turns[-1][1]}", question=c.turns[-1][0])
        for c in conversations
    ]


def conversation_ask(chain, conversations: Sequence[Conversation]) -> tuple[Callable, Callable]:
    """(ask, standalone): `ask` answers a `follow_up_questions` item after asking the earlier turns
    of its conversation with the same chain; `standalone()` is the last follow-up's rewrite, the
    question retrieval was scored with."""
    from assistant.models import Turn

    earlier = {f"{c.id}/{c.turns[-1][1]}": [q for q, _ in c.turns[:-1]] for c in conversations}
    last = {"standalone": ""}

    def ask(q: EvalQuestion) -> dict:
        history: list[Turn] = []
        for question in earlier[q.id]:
            answer = chain.ask(question, history=history)
            history.append(Turn(question, answer.answer, answer.standalone_question))
        record = chain.ask(q.question, history=history, qid=q.id).to_dict()
        record["history"] = [turn.question for turn in history]
        last["standalone"] = record["standalone_question"]
        return record

    return ask, lambda: last["standalone"]
