"""The systems under test, behind one shape: ingest a folder, rank articles for a question,
(for the product) answer it.

- `Product`: this repository's write path (`index.pipeline.Ingestor`) and read path
  (`rag.service.RagService`), in hybrid, dense-only and BM25-only modes.
- `Starter`: the llama-index starter pipeline a user would write in an afternoon:
  SimpleDirectoryReader → default SentenceSplitter (1,024 tokens, 200 overlap) →
  VectorStoreIndex on Chroma (ChromaVectorStore) → as_retriever (top-k 2 by default; top-k 5
  for hit@5). Its embedding model is the same all-MiniLM-L6-v2, run the way
  HuggingFaceEmbedding runs it (sentence-transformers, batches of 10), wrapped as a
  llama-index BaseEmbedding (HuggingFaceEmbedding itself is not installed: it pulls
  hub-dependent packages).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.common import Metered, dir_bytes
from rag.retrieve.embeddings import Embedder
from rag.settings import Settings, load_settings


def article_key(origin: str) -> str:
    """What a question's `sources` name: the file name (or the URL of a JSONL record).

    Example: article_key("/x/data/articles/001_a.txt") == "001_a.txt"
    """
    return origin if "://" in origin else Path(origin.split("#", 1)[0]).name


class Product:
    def __init__(self, store_dir: Path, embedder: Embedder, **overrides: Any) -> None:
        self.settings: Settings = load_settings(store_dir=store_dir, llm="extractive",
                                                **overrides)
        self.embedder = embedder
        self._services: dict[str, Any] = {}
        self._store: Any = None

    def store(self) -> Any:
        """The store, opened for writing (created if need be)."""
        if self._store is None:
            from rag.retrieve.store import open_store

            self._store = open_store(self.settings, self.embedder.name, self.embedder.dim,
                                     create=True)
        return self._store

    def ingest(self, paths: list[str], embedder: Embedder | None = None) -> dict[str, Any]:
        from index.pipeline import Ingestor

        summary = Ingestor(self.settings, embedder=embedder or self.embedder).run(paths)
        return {"articles": summary.articles, "chunks": summary.chunks,
                "chunks_embedded": summary.chunks_embedded, "skipped": len(summary.skipped)}

    def service(self, mode: str = "hybrid") -> Any:
        """A warm RagService for `mode` (the store, model and BM25 index loaded once)."""
        if mode not in self._services:
            from rag.retrieve.embeddings import QueryCache
            from rag.service import RagService

            s = self.settings.model_copy(update={"retrieval_mode": mode})
            svc = RagService(s, embedder=self.embedder)
            svc.retriever.embed_query = QueryCache(self.embedder)
            self._services[mode] = svc
        return self._services[mode]

    def forget_queries(self) -> None:
        """Empty the query-embedding caches: latency passes must pay for every question."""
        from rag.retrieve.embeddings import QueryCache

        for svc in self._services.values():
            svc.retriever.embed_query = QueryCache(self.embedder)

    def rank(self, question: str, mode: str, chunks: int = 20) -> list[str]:
        hits = self.service(mode).retriever.retrieve(question, k=chunks)
        return [article_key(h.article.origin) for h in hits]

    def rank_served(self, question: str, mode: str) -> list[str]:
        """Articles of the passages `ask` answers from: the fused pool reranked by its best
        evidence sentence, top_k of them (what a user is shown)."""
        _, hits, _ = self.service(mode).passages(question)
        return [article_key(h.article.origin) for h in hits]

    def retrieve(self, question: str, mode: str) -> Any:
        return self.service(mode).retriever.retrieve(question)

    def ask(self, question: str, mode: str = "hybrid") -> Any:
        return self.service(mode).ask(question)

    def disk_bytes(self) -> int | None:
        return None if self.settings.chroma_host else dir_bytes(self.settings.store_dir)


def llama_embedding(inner: Embedder, batch: int = 10) -> Any:
    """Any Embedder as a llama-index BaseEmbedding (batch 10: llama-index's default)."""
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from pydantic import PrivateAttr

    class Wrapped(BaseEmbedding):
        _inner: Any = PrivateAttr()

        def __init__(self, model: Embedder) -> None:
            super().__init__(model_name=model.name, embed_batch_size=batch)
            self._inner = model

        def _get_query_embedding(self, query: str) -> list[float]:
            return [float(x) for x in self._inner.embed([query])[0]]

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._get_query_embedding(text)

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return [[float(x) for x in v] for v in self._inner.embed(texts)]

    return Wrapped(inner)


class Starter:
    def __init__(self, persist_dir: Path, embedder: Metered) -> None:
        self.persist_dir = persist_dir
        self.embedder = embedder
        self.index: Any = None
        self._retrievers: dict[int, Any] = {}

    def ingest(self, folder: Path) -> dict[str, Any]:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
        from llama_index.vector_stores.chroma import ChromaVectorStore

        client = chromadb.PersistentClient(path=str(self.persist_dir),
                                           settings=ChromaSettings(anonymized_telemetry=False))
        collection = client.get_or_create_collection("starter")
        documents = SimpleDirectoryReader(str(folder)).load_data()
        storage = StorageContext.from_defaults(
            vector_store=ChromaVectorStore(chroma_collection=collection))
        self.index = VectorStoreIndex.from_documents(
            documents, storage_context=storage, embed_model=llama_embedding(self.embedder))
        return {"articles": len(documents), "chunks": int(collection.count())}

    def retriever(self, k: int | None = None) -> Any:
        key = k or 0
        if key not in self._retrievers:
            self._retrievers[key] = (self.index.as_retriever(similarity_top_k=k) if k
                                     else self.index.as_retriever())
        return self._retrievers[key]

    def rank(self, question: str, chunks: int = 5) -> list[str]:
        return [str(n.node.metadata.get("file_name", "")) for n in
                self.retriever(chunks).retrieve(question)]

    def retrieve(self, question: str) -> Any:
        return self.retriever().retrieve(question)

    def disk_bytes(self) -> int:
        return dir_bytes(self.persist_dir)


def timed(fn: Any, *args: Any) -> tuple[float, Any]:
    """(milliseconds, result) of one call."""
    t0 = time.perf_counter()
    out = fn(*args)
    return (time.perf_counter() - t0) * 1000, out
