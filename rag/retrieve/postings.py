"""In-memory BM25 over segments: the query side of the lexical index (rag/retrieve/lexical.py).

A Snapshot is immutable: a few segments of postings (term -> doc positions, term counts)
plus a mask of deleted docs. New chunks become a new small segment, deletions flip the
mask, so an update costs the size of the change; rebuilding into one segment (a "merge")
happens in the background. Requests read whichever snapshot is current, never a half-made one.

Scores are bm25s's Lucene BM25 (k1=1.5, b=0.75) with idf and average length over live docs,
so the ranking equals a full rebuild's. Hand-written because bm25s stores scores
precomputed with the corpus-wide idf, which no append or delete can update in place.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

K1, B = 1.5, 0.75  # bm25s's defaults, which the previous index used


def lucene_idf(n_docs: int, df: int) -> float:
    """BM25's idf as bm25s computes it: rare terms weigh most, unseen ones most of all.

    Example: lucene_idf(100, 1) > lucene_idf(100, 50) > 0
    """
    return math.log(1 + (n_docs - df + 0.5) / (df + 0.5))


class Segment:
    """Postings of a batch of docs, in rowid order."""

    def __init__(self, rows: Sequence[tuple[int, str, list[str]]]) -> None:
        self.rowids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        self.chunk_ids = [r[1] for r in rows]
        self.lengths = np.fromiter((len(r[2]) for r in rows), dtype=np.float32,
                                   count=len(rows))
        docs: dict[str, list[int]] = defaultdict(list)
        tfs: dict[str, list[int]] = defaultdict(list)
        for pos, (_rowid, _cid, tokens) in enumerate(rows):
            for term, tf in Counter(tokens).items():
                docs[term].append(pos)
                tfs[term].append(tf)
        self.postings = {t: (np.asarray(docs[t], dtype=np.int32),
                             np.asarray(tfs[t], dtype=np.float32)) for t in docs}

    def __len__(self) -> int:
        return len(self.chunk_ids)


@dataclass(frozen=True)
class Snapshot:
    segments: tuple[Segment, ...] = ()
    alive: tuple[np.ndarray, ...] = ()
    max_rowid: int = 0  # the last docs row and deletion seen in the durable file
    max_seq: int = 0
    _df: dict[str, int] = field(default_factory=dict, compare=False, repr=False)
    # term -> per-segment tf parts, tf / (tf + k1 (1 - b + b dl / avgdl)): fixed for a snapshot
    _tfc: dict[str, list[np.ndarray | None]] = field(default_factory=dict, compare=False,
                                                     repr=False)
    n_docs: int = field(default=0, init=False)
    avgdl: float = field(default=1.0, init=False)

    def __post_init__(self) -> None:
        n = int(sum(int(a.sum()) for a in self.alive))
        total = sum(float(s.lengths[a].sum()) for s, a in zip(self.segments, self.alive,
                                                               strict=True))
        object.__setattr__(self, "n_docs", n)
        object.__setattr__(self, "avgdl", total / n if n else 1.0)

    def doc_freq(self, term: str) -> int:
        """Live docs containing the term (memoised: a snapshot never changes)."""
        got = self._df.get(term)
        if got is None:
            got = 0
            for seg, alive in zip(self.segments, self.alive, strict=True):
                post = seg.postings.get(term)
                if post is not None:
                    got += int(alive[post[0]].sum())
            self._df[term] = got
        return got

    def search(self, qtf: Counter[str], k: int) -> list[tuple[str, float]]:
        """Top k live docs by BM25 for a query's term counts (positive scores only).

        Example: Snapshot().search(Counter(["gaza"]), 5) == []
        """
        n = self.n_docs
        if n == 0 or not qtf:
            return []
        idf = {t: lucene_idf(n, df) for t in qtf if (df := self.doc_freq(t))}
        parts = {t: self._tf_parts(t) for t in idf}
        best: list[tuple[float, str]] = []
        for i, (seg, alive) in enumerate(zip(self.segments, self.alive, strict=True)):
            scores = np.zeros(len(seg), dtype=np.float32)
            for term, weight in idf.items():
                part = parts[term][i]
                if part is not None:
                    scores[seg.postings[term][0]] += np.float32(qtf[term] * weight) * part
            scores[~alive] = 0
            take = min(k, int(np.count_nonzero(scores)))
            if take == 0:
                continue
            top = np.argpartition(-scores, take - 1)[:take]
            # Every doc tied with the k-th too, so ties break by chunk id below, the same
            # however the docs are split into segments.
            top = np.flatnonzero(scores >= scores[top].min())
            best.extend((float(scores[i]), seg.chunk_ids[i]) for i in top)
        best.sort(key=lambda x: (-x[0], x[1]))
        return [(cid, s) for s, cid in best[:k]]

    def _tf_parts(self, term: str) -> list[np.ndarray | None]:
        got = self._tfc.get(term)
        if got is None:
            got = []
            for seg in self.segments:
                post = seg.postings.get(term)
                if post is None:
                    got.append(None)
                    continue
                pos, tf = post
                norm = K1 * (1 - B + B * seg.lengths[pos] / np.float32(self.avgdl))
                got.append(tf / (tf + norm))
            self._tfc[term] = got
        return got

    def with_changes(self, rows: Sequence[tuple[int, str, list[str]]],
                     deleted: Sequence[int], max_rowid: int, max_seq: int) -> Snapshot:
        """A new snapshot with `rows` added as one segment and `deleted` rowids masked."""
        segments = list(self.segments)
        alive = [a.copy() if deleted else a for a in self.alive]
        if rows:
            segments.append(Segment(rows))
            alive.append(np.ones(len(rows), dtype=bool))
        if deleted:
            gone = np.asarray(sorted(deleted), dtype=np.int64)
            for seg, mask in zip(segments, alive, strict=True):
                at = np.searchsorted(seg.rowids, gone)
                ok = at < len(seg)
                hit = at[ok][seg.rowids[at[ok]] == gone[ok]]
                mask[hit] = False
        return Snapshot(tuple(segments), tuple(alive), max(max_rowid, self.max_rowid),
                        max(max_seq, self.max_seq))

    def fragmented(self) -> bool:
        """Worth merging: many segments, or many deleted docs."""
        dead = sum(len(a) - int(a.sum()) for a in self.alive)
        return len(self.segments) > 8 or dead > 0.2 * max(self.n_docs, 1000)
