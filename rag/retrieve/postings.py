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
from pathlib import Path

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


# --- a segment on disk, memory-mapped ---------------------------------------------------------
# One folder of flat arrays, written once (at a merge) and never changed: the terms (sorted,
# as one UTF-8 blob with offsets) and each term's postings laid end to end, the docs' rowids,
# lengths and chunk ids. Opening it maps the files: the start-up cost is the term dictionary,
# not the postings, and memory holds only the postings a query touched.
_ARRAYS = ("term_bytes", "term_offsets", "post_offsets", "post_docs", "post_tfs", "rowids",
           "lengths", "id_bytes", "id_offsets")


def _blob(strings: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    encoded = [x.encode("utf-8") for x in strings]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


def write_segment(seg: Segment, folder: Path) -> None:
    """Write a segment's arrays into `folder` (which must not exist yet)."""
    terms = sorted(seg.postings)
    lens = [len(seg.postings[t][0]) for t in terms]
    post_offsets = np.zeros(len(terms) + 1, dtype=np.int64)
    np.cumsum(lens, out=post_offsets[1:])
    docs = np.concatenate([seg.postings[t][0] for t in terms]) if terms else np.zeros(0, np.int32)
    tfs = np.concatenate([seg.postings[t][1] for t in terms]) if terms else np.zeros(0, np.float32)
    term_bytes, term_offsets = _blob(terms)
    id_bytes, id_offsets = _blob(seg.chunk_ids)
    arrays = {"term_bytes": term_bytes, "term_offsets": term_offsets,
              "post_offsets": post_offsets, "post_docs": docs.astype(np.int32),
              "post_tfs": np.minimum(tfs, 65535).astype(np.uint16), "rowids": seg.rowids,
              "lengths": seg.lengths, "id_bytes": id_bytes, "id_offsets": id_offsets}
    folder.mkdir(parents=True)
    for name in _ARRAYS:
        np.save(folder / f"{name}.npy", arrays[name], allow_pickle=False)


class _ChunkIds:
    """Chunk ids decoded one at a time from the mapped blob (only the top hits ever are)."""

    def __init__(self, blob: np.ndarray, offsets: np.ndarray) -> None:
        self.blob, self.offsets = blob, offsets

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> str:
        return bytes(self.blob[self.offsets[i]:self.offsets[i + 1]]).decode("utf-8")


class _MappedPostings:
    """term -> (doc positions, term counts), read from the mapped arrays on demand."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        blob, offsets = bytes(arrays["term_bytes"]), arrays["term_offsets"].tolist()
        self._index = {blob[offsets[i]:offsets[i + 1]].decode("utf-8"): i
                       for i in range(len(offsets) - 1)}
        self._offsets, self._docs, self._tfs = (arrays["post_offsets"], arrays["post_docs"],
                                                arrays["post_tfs"])

    def get(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        i = self._index.get(term)
        if i is None:
            return None
        a, b = int(self._offsets[i]), int(self._offsets[i + 1])
        return self._docs[a:b], self._tfs[a:b].astype(np.float32)

    def __getitem__(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        got = self.get(term)
        if got is None:
            raise KeyError(term)
        return got

    def __len__(self) -> int:
        return len(self._index)


class MappedSegment:
    """A segment written by `write_segment`, memory-mapped read-only."""

    def __init__(self, folder: Path) -> None:
        arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False)
                  for name in _ARRAYS}
        self.rowids = arrays["rowids"]
        self.lengths = np.asarray(arrays["lengths"], dtype=np.float32)
        self.chunk_ids = _ChunkIds(arrays["id_bytes"], arrays["id_offsets"])
        self.postings = _MappedPostings(arrays)
        if not (len(self.rowids) == len(self.lengths) == len(self.chunk_ids)):
            raise ValueError(f"{folder}: its arrays disagree in length")

    def __len__(self) -> int:
        return len(self.rowids)


AnySegment = Segment | MappedSegment


@dataclass(frozen=True)
class Snapshot:
    segments: tuple[AnySegment, ...] = ()
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
            best.extend((float(scores[i]), seg.chunk_ids[int(i)]) for i in top)
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
        segments: list[AnySegment] = list(self.segments)
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
