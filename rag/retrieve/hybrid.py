"""Hybrid retrieval: dense (Chroma) plus BM25 (rag/retrieve/lexical.py), fused by reciprocal rank
fusion."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from rag.retrieve.embeddings import Embedder, QueryCache
from rag.retrieve.lexical import LexicalIndex
from rag.retrieve.store import Store
from rag.settings import Settings
from rag.types import Chunk, Hit


def rrf(rankings: dict[str, list[str]], k: int = 60) -> list[tuple[str, float, dict[str, int]]]:
    """Reciprocal rank fusion: score(d) = Σ 1 / (k + rank_r(d)), ranks from 1.

    Hand-written (ten lines) because llama-index's QueryFusionRetriever needs retriever
    objects and an event loop around the same arithmetic, and we want the per-retriever
    ranks kept for display and evals.

    Example: [d for d, _, _ in rrf({"a": ["x", "y"], "b": ["y"]})] == ["y", "x"]
    """
    scores: dict[str, float] = {}
    ranks: dict[str, dict[str, int]] = {}
    for name, ids in rankings.items():
        for rank, doc in enumerate(ids, 1):
            scores[doc] = scores.get(doc, 0.0) + 1.0 / (k + rank)
            ranks.setdefault(doc, {})[name] = rank
    order = sorted(scores, key=lambda d: (-scores[d], min(ranks[d].values()), d))
    return [(d, scores[d], ranks[d]) for d in order]


class Retriever:
    """Chunks for a query, best first, each with its article."""

    def __init__(self, store: Store, embedder: Embedder, settings: Settings,
                 lexical: LexicalIndex) -> None:
        self.store = store
        self.lexical = lexical
        self.settings = settings
        self.embed_query = QueryCache(embedder)
        # The lexical search runs here while the calling thread embeds the query and asks
        # Chroma: both halves spend most of their time outside the GIL (numpy, onnxruntime,
        # Chroma's Rust core or a socket), so hybrid costs the slower half, not the sum.
        self._lexical_pool = ThreadPoolExecutor(max_workers=4,
                                                thread_name_prefix="rag-lexical")

    def _lexical(self, query: str, k: int, fetch: int
                 ) -> tuple[list[tuple[str, float]], dict[str, tuple[Chunk, np.ndarray]]]:
        """BM25's ranking, and its leading `fetch` chunks with their stored vectors, read
        while the other thread embeds the query and searches Chroma: the chunks only BM25
        found are then at hand when the rankings are fused."""
        ranked = self.lexical.search(query, k)
        return ranked, self.store.get_chunks([cid for cid, _ in ranked[:fetch]])

    def retrieve(self, query: str, k: int | None = None, mode: str | None = None) -> list[Hit]:
        s = self.settings
        k = k or s.top_k
        mode = mode or s.retrieval_mode
        rankings: dict[str, list[str]] = {}
        dense_scores: dict[str, float] = {}
        bm25_scores: dict[str, float] = {}
        chunks: dict[str, Chunk] = {}
        lexical: Future[tuple[list[tuple[str, float]],
                              dict[str, tuple[Chunk, np.ndarray]]]] | None = None
        fetched: dict[str, tuple[Chunk, np.ndarray]] = {}
        if mode in ("hybrid", "bm25"):
            lexical = self._lexical_pool.submit(self._lexical, query, s.candidate_k, k * 2)
        if mode in ("hybrid", "dense"):
            for chunk, sim in self.store.dense(self.embed_query(query), s.candidate_k):
                chunks[chunk.id] = chunk
                dense_scores[chunk.id] = sim
            rankings["dense"] = list(dense_scores)
        if lexical is not None:
            ranked, fetched = lexical.result()
            bm25_scores = dict(ranked)
            rankings["bm25"] = list(bm25_scores)
        fused = rrf(rankings, s.rrf_k)
        # Chunks BM25 alone found, with their dense similarity (evidence scoring uses it):
        # most were read beside the BM25 search; the rest come in one call. Then the
        # articles of the leading candidates, in one call.
        missing = [cid for cid, _, _ in fused[: k * 2] if cid not in chunks]
        if missing and fetched:
            qvec = self.embed_query(query)
            for cid in [c for c in missing if c in fetched]:
                chunk, vec = fetched[cid]
                chunks[cid] = chunk
                dense_scores.setdefault(cid, float(vec @ qvec))
            missing = [cid for cid in missing if cid not in chunks]
        if missing:
            for cid, (chunk, sim) in self.store.get_chunks_scored(
                    missing, self.embed_query(query)).items():
                chunks[cid] = chunk
                dense_scores.setdefault(cid, sim)
        order = [(cid, score, ranks) for cid, score, ranks in fused if cid in chunks]
        hits: list[Hit] = []
        start = 0
        while len(hits) < k and start < len(order):
            batch = order[start:start + k - len(hits) + 2]
            start += len(batch)
            articles = self.store.articles_by_id([chunks[cid].article_id for cid, _, _ in batch])
            for cid, score, ranks in batch:
                chunk = chunks[cid]
                article = articles.get(chunk.article_id)
                if article is None:
                    continue  # a chunk whose article record is gone (an interrupted update)
                hits.append(Hit(chunk=chunk, article=article, score=score,
                                dense=dense_scores.get(cid), bm25=bm25_scores.get(cid),
                                ranks=ranks))
                if len(hits) >= k:
                    break
        return hits
