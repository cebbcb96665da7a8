"""The app's own records in SQLite: conversations (so a reload loses nothing) and feedback."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import time
import uuid
from contextlib import closing
from pathlib import Path

from corpus.errors import PlanQAError

SCHEMA = """
CREATE TABLE IF NOT EXISTS turns (
    conversation TEXT NOT NULL,
    idx INTEGER NOT NULL,
    created REAL NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (conversation, idx)
);
CREATE TABLE IF NOT EXISTS feedback (
    conversation TEXT NOT NULL,
    idx INTEGER NOT NULL,
    rating INTEGER NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    citations TEXT NOT NULL,
    backend TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (conversation, idx)
);
"""

CSV_FIELDS = ("time", "rating", "comment", "question", "answer", "citations", "backend", "conversation", "turn")


def new_conversation_id() -> str:
    return uuid.uuid4().hex[:16]


def valid_conversation_id(value: object) -> bool:
    return isinstance(value, str) and len(value) == 16 and all(c in "0123456789abcdef" for c in value)


class AppStore:
    """One SQLite file in the app's data directory. A connection per call: safe across sessions
    and threads; WAL mode so a reader never waits for a writer."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(self._connect()) as db, db:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise PlanQAError(
                f"Cannot open the app's database at {self.path} ({exc}). "
                "Check that the data directory (PLANQA_DATA_DIR) is writable."
            ) from exc

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10)

    # -- conversations -------------------------------------------------------------------

    def add_turn(self, conversation: str, record: dict) -> int:
        """Append one answered turn (an `Answer.to_dict()` record); returns its index."""
        with closing(self._connect()) as db, db:
            row = db.execute(
                "SELECT COALESCE(MAX(idx) + 1, 0) FROM turns WHERE conversation = ?", (conversation,)
            ).fetchone()
            idx = int(row[0])
            db.execute(
                "INSERT INTO turns (conversation, idx, created, record) VALUES (?, ?, ?, ?)",
                (conversation, idx, time.time(), json.dumps(record, ensure_ascii=False)),
            )
        return idx

    def turns(self, conversation: str) -> list[dict]:
        with closing(self._connect()) as db:
            rows = db.execute(
                "SELECT record FROM turns WHERE conversation = ? ORDER BY idx", (conversation,)
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    # -- feedback ------------------------------------------------------------------------

    def set_feedback(
        self, conversation: str, idx: int, rating: int, record: dict, comment: str | None = None
    ) -> None:
        """Store 👍 (1) or 👎 (0) for a turn; a later call replaces it. `comment=None` keeps the
        comment already given."""
        if rating not in (0, 1):
            raise ValueError(f"rating must be 0 or 1, got {rating!r}")
        citations = "; ".join(
            f"[{c.get('n')}] 《{c.get('title', '')}》 {c.get('section', '')}：{c.get('quote', '')}"
            for c in record.get("citations", ())
        )
        with closing(self._connect()) as db, db:
            db.execute(
                """INSERT INTO feedback
                   (conversation, idx, rating, comment, question, answer, citations, backend, created)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (conversation, idx) DO UPDATE SET
                     rating = excluded.rating,
                     comment = CASE WHEN ? THEN excluded.comment ELSE feedback.comment END,
                     created = excluded.created""",
                (
                    conversation,
                    idx,
                    rating,
                    (comment or "").strip()[:2000],
                    record.get("question", ""),
                    record.get("answer", ""),
                    citations,
                    record.get("backend", ""),
                    time.time(),
                    comment is not None,
                ),
            )

    def feedback(self) -> list[dict]:
        with closing(self._connect()) as db:
            rows = db.execute(
                "SELECT created, rating, comment, question, answer, citations, backend, conversation, idx "
                "FROM feedback ORDER BY created"
            ).fetchall()
        return [
            dict(zip(CSV_FIELDS, (time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r[0])), *r[1:]), strict=True))
            for r in rows
        ]

    def feedback_csv(self) -> str:
        """All feedback as CSV text (UTF-8 with BOM when written, so Excel opens Chinese right)."""
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for row in self.feedback():
            row = dict(row, rating="👍" if row["rating"] == 1 else "👎")
            writer.writerow(row)
        return out.getvalue()

    def ratings(self, conversation: str) -> dict[int, int]:
        """{turn index: rating} of one conversation, to show given feedback after a reload."""
        with closing(self._connect()) as db:
            rows = db.execute(
                "SELECT idx, rating FROM feedback WHERE conversation = ?", (conversation,)
            ).fetchall()
        return {int(i): int(r) for i, r in rows}
