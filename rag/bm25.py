"""The BM25 index (bm25s, the engine behind llama-index's BM25Retriever), persisted beside the
store. The write path rebuilds it after each ingest that changed something; the read path
loads it once per process and only rebuilds it when it is out of step with the store (a run
that was killed before it could write the index)."""

from __future__ import annotations

import json
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from rag.store import Store

_TOKEN = r"(?u)\b\w+\b"  # keep one-character tokens: "4 hostages", "3 members"
_lock = threading.Lock()
_loaded: dict[str, BM25Index] = {}


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(texts: list[str]) -> list[list[str]]:
    import bm25s

    out = bm25s.tokenize(texts, lower=True, token_pattern=_TOKEN, stopwords="en",
                         stemmer=_stemmer(), return_ids=False, show_progress=False)
    return [list(t) for t in out]


class BM25Index:
    """Chunk ids plus a bm25s model over their texts."""

    def __init__(self, ids: list[str], model: Any, version: int = 0) -> None:
        self.ids = ids
        self.model = model
        self.version = version  # mtime of ids.json when loaded: another process may rebuild

    @classmethod
    def build(cls, store: Store) -> BM25Index:
        import bm25s

        ids: list[str] = []
        texts: list[str] = []
        for cid, _aid, text in store.iter_chunks():
            ids.append(cid)
            texts.append(text)
        model = bm25s.BM25()
        if texts:
            model.index(tokenize(texts), show_progress=False)
        return cls(ids, model)

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        if self.ids:
            self.model.save(str(tmp))
        (tmp / "ids.json").write_text(json.dumps(self.ids))
        # Swap in whole: a reader never sees half an index.
        old = path.with_name(path.name + ".old")
        if path.exists():
            path.rename(old)
        tmp.rename(path)
        if old.exists():
            import shutil

            shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, path: Path) -> BM25Index | None:
        import bm25s

        ids_file = path / "ids.json"
        if not ids_file.exists():
            return None
        ids = json.loads(ids_file.read_text())
        model = bm25s.BM25.load(str(path), mmap=False) if ids else bm25s.BM25()
        return cls(ids, model, _version(path))

    def doc_freq(self, term: str) -> int:
        """Chunks containing a (stemmed) term; 0 when the corpus never uses it."""
        vocab = getattr(self.model, "vocab_dict", None) or {}
        t = vocab.get(term)
        if t is None:
            return 0
        indptr = self.model.scores["indptr"]
        return int(indptr[t + 1] - indptr[t]) if t + 1 < len(indptr) else 1

    def idf(self, term: str) -> float:
        """BM25's idf of a stemmed term: rare terms weigh most, unseen ones most of all.

        Example: idx.idf("zzz") >= idx.idf("gaza")
        """
        import math

        n = max(len(self.ids), 1)
        df = self.doc_freq(term)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """Best chunk ids for the query with their BM25 scores (positive scores only)."""
        if not self.ids:
            return []
        tokens = tokenize([query])[0]
        vocab = getattr(self.model, "vocab_dict", None) or {}
        tokens = [t for t in tokens if t in vocab]
        if not tokens:
            return []
        docs, scores = self.model.retrieve([tokens], k=min(k, len(self.ids)),
                                           show_progress=False, n_threads=1)
        return [(self.ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0], strict=True)
                if s > 0]


def _version(path: Path) -> int:
    try:
        return (path / "ids.json").stat().st_mtime_ns
    except FileNotFoundError:
        return -1


def index_path(store: Store) -> Path:
    return store.aux_dir() / "bm25"


def rebuild(store: Store) -> BM25Index:
    """Rebuild from every chunk in the store and persist (called by the write path)."""
    with _lock:
        idx = BM25Index.build(store)
        path = index_path(store)
        idx.save(path)
        idx.version = _version(path)
        _loaded[str(path)] = idx
        return idx


def get_index(store: Store) -> BM25Index:
    """The persisted index, loaded once; rebuilt if it does not match the store's chunks."""
    path = index_path(store)
    key = str(path)
    with _lock:
        idx = _loaded.get(key)
        if idx is None or idx.version != _version(path):
            idx = BM25Index.load(path)
    if idx is None or len(idx.ids) != store.count_chunks():
        return rebuild(store)
    _loaded[key] = idx
    return idx
