"""Hybrid retrieval: dense (Chroma) plus BM25 (bm25s), fused by reciprocal rank fusion."""

from __future__ import annotations

from rag import bm25
from rag.embeddings import Embedder, QueryCache
from rag.settings import Settings
from rag.store import Store
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

    def __init__(self, store: Store, embedder: Embedder, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.embed_query = QueryCache(embedder)

    def retrieve(self, query: str, k: int | None = None, mode: str | None = None) -> list[Hit]:
        s = self.settings
        k = k or s.top_k
        mode = mode or s.retrieval_mode
        rankings: dict[str, list[str]] = {}
        dense_scores: dict[str, float] = {}
        bm25_scores: dict[str, float] = {}
        chunks: dict[str, Chunk] = {}
        if mode in ("hybrid", "dense"):
            for chunk, sim in self.store.dense(self.embed_query(query), s.candidate_k):
                chunks[chunk.id] = chunk
                dense_scores[chunk.id] = sim
            rankings["dense"] = list(dense_scores)
        if mode in ("hybrid", "bm25"):
            for cid, score in bm25.get_index(self.store).search(query, s.candidate_k):
                bm25_scores[cid] = score
            rankings["bm25"] = list(bm25_scores)
        fused = rrf(rankings, s.rrf_k)
        missing = [cid for cid, _, _ in fused[: k * 2] if cid not in chunks]
        chunks.update(self.store.get_chunks(missing))
        hits: list[Hit] = []
        for cid, score, ranks in fused:
            found = chunks.get(cid)
            article = self.store.article(found.article_id) if found else None
            if found is None or article is None:
                continue  # a chunk whose article record is gone (an interrupted update)
            hits.append(Hit(chunk=found, article=article, score=score,
                            dense=dense_scores.get(cid), bm25=bm25_scores.get(cid), ranks=ranks))
            if len(hits) >= k:
                break
        # Hits BM25 alone found get their dense similarity too: evidence scoring uses it.
        need = [h.chunk.id for h in hits if h.dense is None]
        if need:
            sims = self.store.similarity(self.embed_query(query), need)
            for h in hits:
                if h.dense is None:
                    h.dense = sims.get(h.chunk.id)
        return hits
