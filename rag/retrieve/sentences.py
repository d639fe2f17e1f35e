"""Sentence vectors: every quotable sentence of every article embedded once, at ingest, and
kept beside the store, so that an ask embeds only its question.

One SQLite file (WAL) in the store's aux folder, the lexical index's lifecycle:
- written by the ingest in the batch that stores the article's chunks (one transaction
  per batch: a `kill -9` leaves the last committed batch, never half an article);
- deleted with the article (update, prune);
- `sync` fills what the store has and the file lacks (an older store, an interrupted run)
  and drops what the store no longer has;
- tagged with the embedding model: a file written by another model is emptied on open and
  refilled by the next ingest, never mixed.
A reader fetches only the rows of the articles it retrieved (one row per article: the
sentence starts and their vectors as two blobs), so memory grows with what it reads, and a
sentence the file lacks is embedded at ask time as before. Vectors are kept as float16:
half the disk, and a cosine off by about 1e-5, far below any margin the scorer uses.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.text import is_heading
from rag.types import Article, Sentence

FORMAT = "sentence-vectors-1"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS vecs(article_id TEXT PRIMARY KEY, starts BLOB NOT NULL,
                                vectors BLOB NOT NULL);
"""
# A heading of at most this many words is a label for what follows; a longer one is a
# headline, a claim of its own ("World's last gaslit cinema will reopen in Leeds").
LABEL_WORDS = 5
MIN_CHARS = 12  # shorter sentences are never quoted ("Yes.", "Photo: AP")


def scored_form(text: str, sents: Sequence[Sentence], i: int) -> str | None:
    """What sentence i is scored (and embedded) as: its heading, when the line above is
    one, and itself; None for what is never quoted (a label, a fragment).

    Example: scored_form("History\\n\\nIt was built in 1889.", sents, 1)
             == "History\\nIt was built in 1889."
    """
    s = sents[i]
    if len(s.text) < MIN_CHARS or (is_heading(text, s.start, s.end)
                                   and len(s.text.split()) <= LABEL_WORDS):
        return None
    above = sents[i - 1] if i else None
    if above is not None and is_heading(text, above.start, above.end):
        return f"{above.text}\n{s.text}"
    return s.text


def scored_sentences(article: Article, sents: Sequence[Sentence]) -> list[tuple[int, str]]:
    """(start, scored text) of each quotable sentence of the article, in order."""
    out = []
    for i, s in enumerate(sents):
        form = scored_form(article.text, sents, i)
        if form is not None:
            out.append((s.start, form))
    return out


class _Embed(Protocol):
    def __call__(self, texts: Sequence[str]) -> np.ndarray: ...


Rows = list[tuple[str, np.ndarray, np.ndarray]]  # (article id, starts, vectors)


def embed_articles(articles: Sequence[Article], split: Callable[[Article], Sequence[Sentence]],
                   embed: _Embed) -> Rows:
    """Each article's quotable sentences embedded, in one call."""
    forms = [scored_sentences(a, split(a)) for a in articles]
    vectors = embed([t for f in forms for _, t in f])
    rows: Rows = []
    at = 0
    for article, f in zip(articles, forms, strict=True):
        rows.append((article.id, np.asarray([s for s, _ in f], dtype=np.int32),
                     np.asarray(vectors[at:at + len(f)], dtype=np.float32)))
        at += len(f)
    return rows


class SentenceVectors:
    """The sentence-vector file of one store, for one embedding model. Thread-safe; many
    processes may share it."""

    def __init__(self, path: Path, model: str) -> None:
        self.path = path
        self.model = model
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._open()
        except sqlite3.DatabaseError as exc:
            if "locked" in str(exc):
                raise
            self._replace_damaged()

    def _open(self) -> None:
        db = self._db()
        db.executescript(_SCHEMA)
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        if meta == {"format": FORMAT, "model": self.model}:
            return  # a reader opening the file writes nothing
        if meta:  # another model's vectors (or another format) score nothing here
            self._write(lambda d: d.execute("DELETE FROM vecs"))
        self._write(lambda d: d.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                                            [("format", FORMAT), ("model", self.model)]))

    def _replace_damaged(self) -> None:
        self.close()
        for suffix in ("", "-wal", "-shm"):
            Path(str(self.path) + suffix).unlink(missing_ok=True)
        self._open()

    def _db(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=60, check_same_thread=False,
                                   isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            conn.close()
        self._local = threading.local()

    def _write(self, work: Callable[[sqlite3.Connection], object]) -> None:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            work(db)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # --- writes ------------------------------------------------------------------------
    def add(self, rows: Rows) -> None:
        """Store articles' sentence vectors, in one transaction."""
        if rows:
            self._write(lambda d: d.executemany(
                "INSERT OR REPLACE INTO vecs VALUES (?, ?, ?)",
                [(aid, starts.astype("<i4").tobytes(), vecs.astype("<f2").tobytes())
                 for aid, starts, vecs in rows]))

    def remove_articles(self, article_ids: Iterable[str]) -> None:
        ids = [(a,) for a in article_ids]
        if ids:
            self._write(lambda d: d.executemany("DELETE FROM vecs WHERE article_id = ?", ids))

    def count(self) -> int:
        return int(self._db().execute("SELECT count(*) FROM vecs").fetchone()[0])

    def article_ids(self) -> set[str]:
        return {r[0] for r in self._db().execute("SELECT article_id FROM vecs")}

    def sync(self, article_ids: Iterable[str],
             articles: Callable[[list[str]], Sequence[Article]],
             embed_rows: Callable[[Sequence[Article]], Rows], batch: int = 64,
             on_batch: Callable[[int], None] | None = None) -> tuple[int, int]:
        """Catch up with the store's articles: embed those the file lacks, drop those the
        store no longer has. Idempotent: an interrupted sync is finished by the next.
        Returns (added, removed)."""
        want = set(article_ids)
        have = self.article_ids()
        gone, new = sorted(have - want), sorted(want - have)
        self.remove_articles(gone)
        for i in range(0, len(new), batch):
            self.add(embed_rows(articles(new[i:i + batch])))
            if on_batch:
                on_batch(min(i + batch, len(new)))
        return len(new), len(gone)

    # --- reads -------------------------------------------------------------------------
    def lookup(self, article_ids: Iterable[str]) -> dict[tuple[str, int], np.ndarray]:
        """(article id, sentence start) -> vector, for the articles' stored sentences."""
        ids = sorted(set(article_ids))
        out: dict[tuple[str, int], np.ndarray] = {}
        if not ids:
            return out
        try:
            rows = self._db().execute(
                f"SELECT article_id, starts, vectors FROM vecs WHERE article_id IN "
                f"({','.join('?' * len(ids))})", ids).fetchall()
        except sqlite3.Error:
            return out  # busy or damaged: the caller embeds what it needs
        for aid, starts_b, vecs_b in rows:
            starts = np.frombuffer(starts_b, dtype="<i4")
            if not len(starts):
                continue
            vecs = np.frombuffer(vecs_b, dtype="<f2").reshape(len(starts), -1)
            vecs = vecs.astype(np.float32)
            for start, vec in zip(starts.tolist(), vecs, strict=True):
                out[(aid, start)] = vec
        return out


def vectors_path(aux_dir: Path) -> Path:
    return aux_dir / "sentences.sqlite3"


class _Model(Protocol):
    name: str
    dim: int


def open_vectors(aux_dir: Path, embedder: _Model) -> SentenceVectors:
    """The store's sentence vectors for this embedding model."""
    return SentenceVectors(vectors_path(aux_dir), f"{embedder.name}/{embedder.dim}")
