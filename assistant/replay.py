"""A record of the local model's replies, replayed for the same prompt: a tool for evals.

On 2 cores without AMX one local eval of 80 questions takes 15–20 minutes, nearly all of it the
model. Most changes to the answer chain change what is done with a reply (the checks, the
quotes), not the prompt, so a second run of the same questions needs few new replies. With
`PLANQA_REPLAY_FILE` set, each reply of the local model is looked up by everything that decides
it (the model file, the messages, the limits, the ruled-out first token) and, when found, given
back at once; otherwise the model is asked and its reply appended.

Replayed replies make latency meaningless, so `planqa eval` names the file and its hits in its
results; figures meant to be reported are measured without it. The file is plain JSON lines,
one reply per line, appended and flushed one at a time: a crash loses at most the line being
written, and a torn last line is skipped when read.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

from corpus.errors import PlanQAError


def replay_key(model_id: str, messages: list[dict], **params) -> str:
    """A stable key for one generation: the model, the messages and the sampling limits."""
    blob = json.dumps(
        {"model": model_id, "messages": messages, "params": params},
        ensure_ascii=False,
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ReplayFile:
    """Replies by key, read from and appended to one JSON-lines file."""

    def __init__(self, path: Path | str):
        self.path = Path(path).expanduser()
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._replies: dict[str, tuple[str, str | None]] = {}
        self._torn = False  # the file ends in a torn line: the next reply starts a new one
        if self.path.is_dir():
            raise PlanQAError(f"PLANQA_REPLAY_FILE must name a file, not a folder: {self.path}")
        if self.path.exists():
            with self.path.open(encoding="utf-8") as f:
                for line in f:
                    self._torn = not line.endswith("\n")
                    try:
                        row = json.loads(line)
                        self._replies[row["key"]] = (row["text"], row.get("finish"))
                    except (ValueError, KeyError, TypeError):
                        continue  # a torn or foreign line: the reply is asked for again

    def __len__(self) -> int:
        return len(self._replies)

    def get(self, key: str) -> tuple[str, str | None] | None:
        with self._lock:
            found = self._replies.get(key)
            if found is None:
                self.misses += 1
            else:
                self.hits += 1
            return found

    def put(self, key: str, text: str, finish: str | None) -> None:
        """Remember a finished reply. A timed-out one is not kept: it depends on the clock."""
        if finish == "timeout":
            return
        with self._lock:
            self._replies[key] = (text, finish)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                row = {"key": key, "text": text, "finish": finish}
                f.write(("\n" if self._torn else "") + json.dumps(row, ensure_ascii=False) + "\n")
                self._torn = False
                f.flush()

    def summary(self, since: dict | None = None) -> dict:
        """The file and its replies replayed (hits) and generated (misses); with `since`, an
        earlier summary, only those after it."""
        hits, misses = self.hits, self.misses
        if since is not None:
            hits, misses = hits - since["hits"], misses - since["misses"]
        return {"file": str(self.path), "hits": hits, "misses": misses}
