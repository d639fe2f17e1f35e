"""Shared measuring tools for the benchmarks: RSS sampling, percentiles, machine load, disk
size, an embedder wrapper that counts what the model reads, and retrieval metrics."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.retrieve.embeddings import Embedder

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
RESULTS = ROOT / "bench" / "results"


def load() -> float:
    """The machine's 1-minute load average, recorded next to every figure (2 cores here:
    above ~2 the timings are inflated by other work)."""
    return round(os.getloadavg()[0], 2)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Percentile of `values` (linear interpolation), rounded; None when empty.

    Example: percentile([1.0, 2.0, 3.0], 50) == 2.0
    """
    return round(float(np.percentile(values, q)), 2) if values else None


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


@contextmanager
def bm25_rebuild_watched(sampler: RssSampler) -> Iterator[dict[str, Any]]:
    """While open, the pipeline's BM25 rebuild is timed and its RSS sampled on its own; the
    dict also gets the peak RSS reached before the rebuild began (the streaming part)."""
    out: dict[str, Any] = {}
    try:
        from rag import bm25  # type: ignore[attr-defined,unused-ignore]
    except ImportError:  # rag.retrieve.lexical, updated by the change, has no full rebuild to watch
        yield out
        return
    real = getattr(bm25, "rebuild", None)
    if real is None:  # an index updated by the change has no full rebuild to watch
        yield out
        return

    def watched(store: Any) -> Any:
        out["stream_peak_rss_mb"] = sampler.peak_mb()
        with sampler.phase() as ph:
            idx = real(store)
        out.update(ph)
        return idx

    bm25.rebuild = watched
    try:
        yield out
    finally:
        bm25.rebuild = real


class RssSampler:
    """Samples this process's RSS every `interval` seconds in a thread, so a phase's peak is
    seen (ru_maxrss only ever grows, which hides the peak of a later phase)."""

    def __init__(self, interval: float = 0.02) -> None:
        import psutil

        self._proc = psutil.Process()
        self._interval = interval
        self._peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, self._proc.memory_info().rss)
            time.sleep(self._interval)

    def rss(self) -> int:
        return int(self._proc.memory_info().rss)

    @contextmanager
    def phase(self) -> Iterator[dict[str, Any]]:
        """Yields a dict filled on exit: seconds, rss_start_mb, peak_rss_mb, load (start, end)."""
        out: dict[str, Any] = {"load": [load()]}
        start = self.rss()
        outer, self._peak = self._peak, start  # phases nest: the outer one keeps its peak
        t0 = time.perf_counter()
        try:
            yield out
        finally:
            out["seconds"] = round(time.perf_counter() - t0, 3)
            out["rss_start_mb"] = round(start / 2**20, 1)
            out["peak_rss_mb"] = round(max(self._peak, self.rss()) / 2**20, 1)
            out["load"].append(load())
            self._peak = max(outer, self._peak)

    def peak_mb(self) -> float:
        """The peak of the current phase so far."""
        return round(max(self._peak, self.rss()) / 2**20, 1)

    def close(self) -> None:
        self._stop.set()


@dataclass
class Metered:
    """An Embedder that times the model and counts the word pieces it reads (after its
    truncation), optionally keeping every vector by text (to reuse in server mode)."""

    inner: Embedder
    keep: bool = False
    seconds: float = 0.0
    tokens: int = 0
    texts: int = 0
    kept: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.name, self.dim = self.inner.name, self.inner.dim
        self.max_tokens = self.inner.max_tokens

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        t0 = time.perf_counter()
        vecs = self.inner.embed(texts)
        self.seconds += time.perf_counter() - t0
        self.texts += len(texts)
        self.tokens += sum(min(self.inner.count_tokens(t), self.inner.max_tokens)
                           for t in texts)
        if self.keep:
            self.kept.update(zip(texts, vecs, strict=True))
        return vecs

    def reset(self) -> None:
        self.seconds, self.tokens, self.texts = 0.0, 0, 0

    def figures(self) -> dict[str, Any]:
        return {"embedded_texts": self.texts, "embedded_tokens": self.tokens,
                "embed_seconds": round(self.seconds, 3),
                "tokens_per_s": round(self.tokens / self.seconds, 1) if self.seconds else None}


class Replay:
    """An Embedder that answers from vectors already computed for the same texts (never
    re-embed unchanged text) and asks the model only for new ones."""

    def __init__(self, inner: Embedder, vectors: dict[str, np.ndarray]) -> None:
        self.inner, self.vectors = inner, vectors
        self.name, self.dim, self.max_tokens = inner.name, inner.dim, inner.max_tokens
        self.misses = 0

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        new = [t for t in texts if t not in self.vectors]
        if new:
            self.misses += len(new)
            self.vectors.update(zip(new, self.inner.embed(new), strict=True))
        return np.stack([self.vectors[t] for t in texts]) if texts else self.inner.embed([])


class Synthetic:
    """For stores too large to embed here (300k chunks ≈ 1.5 h of model time on 2 cores):
    each text gets a real chunk vector from `pool` (chosen by the text's hash) plus seeded
    noise, re-normalised. Latency, memory and disk behave as with real vectors; retrieval
    quality does not, and is not reported for these stores."""

    def __init__(self, inner: Embedder, pool: np.ndarray, noise: float = 0.6) -> None:
        self.inner, self.pool = inner, pool
        self.name, self.dim, self.max_tokens = inner.name, inner.dim, inner.max_tokens
        self._scale = noise / np.sqrt(pool.shape[1])

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            h = int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little")
            rng = np.random.default_rng(h)
            v = self.pool[h % len(self.pool)] + rng.normal(0, self._scale, self.dim)
            out[i] = v / np.linalg.norm(v)
        return out


def rank_metrics(ranked: list[list[str]], gold: list[set[str]], k: int = 5) -> dict[str, float]:
    """hit@k and MRR@k over each question's first k *distinct* articles.

    Example: rank_metrics([["a", "a", "b"]], [{"b"}]) == {"hit@5": 1.0, "mrr@5": 0.5, "n": 1}
    """
    hits, rr = 0, 0.0
    for articles, want in zip(ranked, gold, strict=True):
        distinct = list(dict.fromkeys(articles))[:k]
        for rank, art in enumerate(distinct, 1):
            if art in want:
                hits += 1
                rr += 1.0 / rank
                break
    n = len(ranked)
    return {f"hit@{k}": round(hits / n, 4) if n else 0.0,
            f"mrr@{k}": round(rr / n, 4) if n else 0.0, "n": n}
