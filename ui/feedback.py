"""Thumbs up/down from the chat and the widget, kept in a local SQLite file
(`RAG_FEEDBACK_DB`, by default inside the store) with the question, the answer and its
citations, so a vote can be replayed against the evidence it judged."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from rag.errors import InputError

Vote = Literal["up", "down"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    time      TEXT NOT NULL,
    question  TEXT NOT NULL,
    answer    TEXT NOT NULL,
    citations TEXT NOT NULL,
    vote      TEXT NOT NULL CHECK (vote IN ('up', 'down')),
    surface   TEXT NOT NULL DEFAULT '',
    history   TEXT NOT NULL DEFAULT '[]'
)
"""


def parse_vote(value: object) -> Vote:
    """A vote from what a surface sends: "up"/"down", a Like/Dislike label or a bool.

    Example: parse_vote("Dislike") == "down"
    """
    if value is True or str(value).lower() in ("up", "like", "liked", "true", "1", "+1"):
        return "up"
    if value is False or str(value).lower() in ("down", "dislike", "disliked", "false", "0",
                                                 "-1"):
        return "down"
    raise InputError(f"a vote is 'up' or 'down', not {value!r}")


class FeedbackStore:
    """Append-only votes. One short connection per call: SQLite serialises writers, and
    the chat's queue workers and the API's threads never share a connection."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._ready = False

    def _connect(self) -> sqlite3.Connection:
        if not self._ready:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with sqlite3.connect(self.path, timeout=10) as db:
                    db.execute(_SCHEMA)
                    columns = {r[1] for r in db.execute("PRAGMA table_info(feedback)")}
                    if "history" not in columns:  # a database from before follow-ups were kept
                        db.execute("ALTER TABLE feedback ADD COLUMN history TEXT NOT NULL "
                                   "DEFAULT '[]'")
                self._ready = True
        return sqlite3.connect(self.path, timeout=10)

    def add(self, *, question: str, answer: str, citations: Sequence[dict[str, Any]],
            vote: Vote, surface: str = "", history: Sequence[dict[str, Any]] = ()) -> int:
        """Store one vote, with the conversation (`history`, oldest first) the question
        followed: a follow-up ("and him?") means nothing without it. Returns the row id."""
        if vote not in ("up", "down"):
            raise InputError(f"a vote is 'up' or 'down', not {vote!r}")
        row = (datetime.now(UTC).isoformat(timespec="seconds"), question, answer,
               json.dumps(list(citations), ensure_ascii=False), vote, surface,
               json.dumps(list(history), ensure_ascii=False))
        db = self._connect()
        try:
            with db:
                cur = db.execute("INSERT INTO feedback (time, question, answer, citations, "
                                 "vote, surface, history) VALUES (?, ?, ?, ?, ?, ?, ?)", row)
            return int(cur.lastrowid or 0)
        finally:
            db.close()

    def rows(self) -> list[dict[str, Any]]:
        """Every vote, oldest first, citations decoded."""
        if not self.path.exists():
            return []
        db = self._connect()
        try:
            db.row_factory = sqlite3.Row
            out = [dict(r) for r in db.execute("SELECT * FROM feedback ORDER BY id")]
        finally:
            db.close()
        for r in out:
            r["citations"] = json.loads(r["citations"])
            r["history"] = json.loads(r["history"])
        return out
