"""The Chroma store: chunks (with embeddings) and articles (full clean text and metadata).

Embedded `PersistentClient` in `RAG_STORE_DIR` by default; a Chroma server when `CHROMA_HOST`
is set. Articles live in Chroma too (a second collection), so a server-mode store is whole
on the server. Shared by the write and read paths.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import EmptyStoreError, StoreError, StoreUnavailableError
from rag.settings import Settings
from rag.types import Article, Chunk

_PAGE = 2000


class Store:
    """Chunks and articles in two Chroma collections, with the embedding model recorded."""

    def __init__(self, settings: Settings, *, create: bool = False) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self.settings = settings
        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        self.client: Any = None
        try:
            if settings.chroma_host:
                self.client = chromadb.HttpClient(host=settings.chroma_host,
                                                  port=settings.chroma_port,
                                                  settings=chroma_settings)
                self.client.heartbeat()
                self.location = f"http://{settings.chroma_host}:{settings.chroma_port}"
            else:
                if not create and not (settings.store_dir / "chroma.sqlite3").exists():
                    raise EmptyStoreError(
                        f"no store at {settings.store_dir}: run `rag ingest PATH` first")
                settings.store_dir.mkdir(parents=True, exist_ok=True)
                self.client = chromadb.PersistentClient(path=str(settings.store_dir),
                                                        settings=chroma_settings)
                self.location = str(settings.store_dir.resolve())
        except StoreError:
            raise
        except Exception as exc:
            raise store_failure(settings, exc, opening=True) or StoreError(
                f"cannot open the store at {settings.store_dir}: {exc}") from None
        # Calls on the client (collection lookups, metadata reads) fail like the collections'.
        self.client = _Translated(self.client, self)
        self._create = create
        self._article_memo: dict[str, Article] = {}
        self._chunks: Any = None
        self._articles: Any = None

    # --- collections -------------------------------------------------------------------
    def _collection(self, name: str, meta: dict[str, Any] | None) -> Any:
        if self._create:
            return self.client.get_or_create_collection(
                name, metadata=meta, configuration={"hnsw": {"space": "cosine"}},
                embedding_function=None)
        try:
            return self.client.get_collection(name, embedding_function=None)
        except StoreUnavailableError:
            raise
        except Exception:
            raise EmptyStoreError(f"the store at {self.location} holds no collection "
                                  f"{name!r}: run `rag ingest PATH` first") from None

    def bind(self, embed_name: str, dim: int) -> None:
        """Open the collections for this embedding model; refuse a store built by another."""
        meta = {"embed_model": embed_name, "embed_dim": dim}
        self._chunks = _Translated(self._collection(self.settings.collection, meta), self)
        self._articles = _Translated(
            self._collection(self.settings.collection + "_articles", meta), self)
        have = self._chunks.metadata or {}
        if have.get("embed_model") and (have.get("embed_model"), have.get("embed_dim")) != (
                embed_name, dim):
            raise StoreError(
                f"the store at {self.location} was built with {have.get('embed_model')} "
                f"({have.get('embed_dim')} dims) but the configured model is {embed_name} "
                f"({dim} dims); set RAG_EMBED to match, or use another RAG_STORE_DIR")

    @property
    def chunks(self) -> Any:
        if self._chunks is None:
            raise RuntimeError("Store.bind() first")
        return self._chunks

    @property
    def articles(self) -> Any:
        if self._articles is None:
            raise RuntimeError("Store.bind() first")
        return self._articles

    def recorded_model(self) -> str | None:
        """The embedding model that built the store, without binding to it."""
        try:
            col = self.client.get_collection(self.settings.collection, embedding_function=None)
        except StoreUnavailableError:
            raise
        except Exception:
            return None
        return (col.metadata or {}).get("embed_model")

    # --- writes --------------------------------------------------------------------------
    def upsert_chunks(self, chunks: Sequence[Chunk], vectors: np.ndarray,
                      article: Article | None = None) -> None:
        """Chunks first, article records last: an article is only 'in' once all its chunks are,
        so a run killed in between is completed (by stable ids, without duplicates) next time.
        Chunks of many articles may go in one call (`article` is not needed)."""
        for i in range(0, len(chunks), _PAGE):
            part = chunks[i:i + _PAGE]
            self.chunks.upsert(
                ids=[c.id for c in part],
                embeddings=vectors[i:i + _PAGE],
                documents=[c.text for c in part],
                metadatas=[{"article_id": c.article_id, "index": c.index, "start": c.start,
                            "end": c.end} for c in part],
            )

    def put_article(self, article: Article, vector: np.ndarray, n_chunks: int) -> None:
        self.put_articles([article], vector[None, :], [n_chunks])

    def put_articles(self, articles: Sequence[Article], vectors: np.ndarray,
                     n_chunks: Sequence[int]) -> None:
        """Article records (clean text, metadata, mean chunk vector), many per Chroma call:
        each call is a transaction costing ~50 ms, whatever its size."""
        metas: list[dict[str, Any]] = []
        for article, n in zip(articles, n_chunks, strict=True):
            meta: dict[str, Any] = {"title": article.title, "source": article.source,
                                    "url": article.url, "origin": article.origin, "chunks": n}
            if article.date:
                meta["date"] = article.date
            metas.append(meta)
        for i in range(0, len(articles), _PAGE):
            part = articles[i:i + _PAGE]
            self.articles.upsert(ids=[a.id for a in part], embeddings=vectors[i:i + _PAGE],
                                 documents=[a.text for a in part], metadatas=metas[i:i + _PAGE])
        self._article_memo.clear()

    def delete_article(self, article_id: str) -> None:
        self.chunks.delete(where={"article_id": article_id})
        self.articles.delete(ids=[article_id])
        self._article_memo.clear()

    def delete_chunks(self, ids: Sequence[str]) -> None:
        for i in range(0, len(ids), _PAGE):
            self.chunks.delete(ids=list(ids[i:i + _PAGE]))

    # --- version stamp -------------------------------------------------------------------
    def version(self) -> str:
        """The stamp ingestion bumps on every change, read fresh from the chunk collection's
        metadata so every process (CLI, `rag serve`, replicas on other machines) sees it."""
        col = self.client.get_collection(self.settings.collection, embedding_function=None)
        return str((col.metadata or {}).get("version", ""))

    def bump_version(self) -> str:
        """Record that the store changed. Unique per call (not a counter): two writers
        bumping at once still leave a stamp no reader has seen."""
        col = self.client.get_collection(self.settings.collection, embedding_function=None)
        stamp = f"{time.time_ns()}-{os.getpid()}-{id(self) & 0xffff:x}"
        # Chroma's modify replaces the whole metadata: keep the embedding model record.
        col.modify(metadata={**(col.metadata or {}), "version": stamp})
        return stamp

    # --- reads ---------------------------------------------------------------------------
    def article_ids(self) -> list[str]:
        """Every article id (ids only, paged): the manifest of what is fully stored."""
        out: list[str] = []
        while True:
            got = self.articles.get(include=[], limit=_PAGE * 5, offset=len(out))
            if not got["ids"]:
                return out
            out.extend(got["ids"])

    def chunks_of_articles(self, ids: Sequence[str]) -> list[tuple[str, str, str]]:
        """(chunk_id, article_id, text) of every chunk of these articles."""
        if not ids:
            return []
        got = self.chunks.get(where={"article_id": {"$in": list(ids)}},
                              include=["metadatas", "documents"])
        return [(cid, str(meta["article_id"]), doc)
                for cid, meta, doc in zip(got["ids"], got["metadatas"], got["documents"],
                                          strict=True)]

    def article_ids_by_origin(self, origin: str) -> list[str]:
        return list(self.articles.get(where={"origin": origin}, include=[])["ids"])

    def article(self, article_id: str) -> Article | None:
        """The article with this id. Ids are hashes of the text, so a cached article never
        goes stale; a missing one is not cached (another process may be writing it)."""
        return self.articles_by_id([article_id]).get(article_id)

    def articles_by_id(self, ids: Sequence[str]) -> dict[str, Article]:
        """The articles with these ids that exist, memoised, the missing ones fetched in one
        Chroma call (one round trip to a server, not one per article)."""
        memo = self._article_memo
        found = {aid: memo[aid] for aid in ids if aid in memo}
        missing = list(dict.fromkeys(aid for aid in ids if aid not in found))
        if missing:
            got = self.articles.get(ids=missing, include=["documents", "metadatas"])
            for aid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"],
                                      strict=True):
                found[aid] = memo[aid] = _to_article(aid, doc, meta)
            while len(memo) > 4096:
                memo.pop(next(iter(memo)))
        return found

    def article_ids_spread(self, k: int) -> list[str]:
        """At most `k` article ids spread evenly over the store's ids in sorted order (ids
        are content hashes, so this is a fair, stable sample: whatever the user ingested
        last has its share). Reads ids only.

        Example: len(store.article_ids_spread(12)) == min(12, store.count_articles())
        """
        ids = sorted(self.article_ids())
        if not ids or k <= 0:
            return []
        step = len(ids) / min(k, len(ids))
        return [ids[int(i * step)] for i in range(min(k, len(ids)))]

    def iter_article_meta(self) -> Iterator[tuple[str, dict[str, Any]]]:
        offset = 0
        while True:
            got = self.articles.get(include=["metadatas"], limit=_PAGE, offset=offset)
            if not got["ids"]:
                return
            yield from zip(got["ids"], got["metadatas"], strict=True)
            offset += len(got["ids"])

    def iter_chunks(self, include_text: bool = True) -> Iterator[tuple[str, str, str]]:
        """(chunk_id, article_id, text) for every chunk, paged."""
        offset = 0
        include = ["metadatas", "documents"] if include_text else ["metadatas"]
        while True:
            got = self.chunks.get(include=include, limit=_PAGE, offset=offset)
            if not got["ids"]:
                return
            docs = got["documents"] if include_text else [""] * len(got["ids"])
            for cid, meta, doc in zip(got["ids"], got["metadatas"], docs, strict=True):
                yield cid, str(meta["article_id"]), doc
            offset += len(got["ids"])

    def get_chunks(self, ids: Sequence[str]) -> dict[str, tuple[Chunk, np.ndarray]]:
        """Chunks with their stored (normalised) embeddings, in one Chroma call."""
        if not ids:
            return {}
        got = self.chunks.get(ids=list(ids), include=["documents", "metadatas", "embeddings"])
        vectors = np.asarray(got["embeddings"], dtype=np.float32)
        return {cid: (_to_chunk(cid, doc, meta), vec)
                for cid, doc, meta, vec in zip(got["ids"], got["documents"], got["metadatas"],
                                               vectors, strict=True)}

    def get_chunks_scored(self, ids: Sequence[str], vector: np.ndarray
                          ) -> dict[str, tuple[Chunk, float]]:
        """Chunks with the cosine similarity of their stored embedding to `vector`."""
        return {cid: (chunk, float(vec @ vector))
                for cid, (chunk, vec) in self.get_chunks(ids).items()}

    def dense(self, vector: np.ndarray, k: int) -> list[tuple[Chunk, float]]:
        """Nearest chunks by cosine similarity (1 - cosine distance). Chroma returns fewer
        than k when the collection holds fewer, so no count is asked for first."""
        res = self.chunks.query(query_embeddings=vector[None, :], n_results=k,
                                include=["documents", "metadatas", "distances"])
        return [(_to_chunk(cid, doc, meta), 1.0 - float(dist))
                for cid, doc, meta, dist in zip(res["ids"][0], res["documents"][0],
                                                res["metadatas"][0], res["distances"][0],
                                                strict=True)]

    def similar_articles_many(self, vectors: np.ndarray, k: int
                              ) -> list[list[tuple[str, float]]]:
        """For each row of `vectors`, the k nearest articles as (id, cosine similarity)."""
        n = self.count_articles()
        if n == 0 or len(vectors) == 0:
            return [[] for _ in range(len(vectors))]
        res = self.articles.query(query_embeddings=vectors, n_results=min(k, n),
                                  include=["distances"])
        return [[(aid, 1.0 - float(d)) for aid, d in zip(ids, dists, strict=True)]
                for ids, dists in zip(res["ids"], res["distances"], strict=True)]

    def count_chunks(self) -> int:
        return int(self.chunks.count())

    def has_chunks(self) -> bool:
        """Does the store hold any chunk? One id read, whatever the store's size."""
        return bool(self.chunks.get(limit=1, include=[])["ids"])

    def count_articles(self) -> int:
        return int(self.articles.count())

    def size_bytes(self) -> int | None:
        """Bytes on disk (embedded store only; a server's size is the server's business)."""
        if self.settings.chroma_host:
            return None
        return sum(p.stat().st_size for p in Path(self.settings.store_dir).rglob("*")
                   if p.is_file())

    def aux_dir(self) -> Path:
        """Local folder for files kept beside the store (BM25 index), per store and collection."""
        if self.settings.chroma_host:
            tag = f"server-{self.settings.chroma_host}-{self.settings.chroma_port}"
        else:
            tag = "local"
        path = self.settings.store_dir / "aux" / tag / self.settings.collection
        path.mkdir(parents=True, exist_ok=True)
        return path


class _Translated:
    """A Chroma client or collection whose failures arrive as StoreUnavailableError, one line
    from store_failure naming the store: the store's edge, so no surface sees a Chroma or
    HTTP exception (a server stopped mid-query is a 503, not a 500). Every call goes
    through, nothing else changes: the same client reconnects when the server is back."""

    def __init__(self, inner: Any, store: Store) -> None:
        self._inner = inner
        self._settings = store.settings

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        @functools.wraps(attr)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return attr(*args, **kwargs)
            except Exception as exc:
                failure = None if _not_found(exc) else store_failure(self._settings, exc)
                if failure is None:
                    raise  # not the store's failure: a bug stays loud, "no such id" is data
                raise StoreUnavailableError(" ".join(str(failure).split())) from exc
        return call


def _not_found(exc: Exception) -> bool:
    from chromadb.errors import NotFoundError

    return isinstance(exc, NotFoundError)


def _to_article(aid: str, text: str, meta: dict[str, Any]) -> Article:
    return Article(id=aid, text=text, title=str(meta.get("title", "")),
                   source=str(meta.get("source", "")), url=str(meta.get("url", "")),
                   date=meta.get("date"), origin=str(meta.get("origin", "")))


def _to_chunk(cid: str, text: str, meta: dict[str, Any]) -> Chunk:
    return Chunk(id=cid, article_id=str(meta["article_id"]), index=int(meta["index"]),
                 text=text, start=int(meta["start"]), end=int(meta["end"]))


def open_store(settings: Settings, embed_name: str, dim: int, *, create: bool = False) -> Store:
    store = Store(settings, create=create)
    store.bind(embed_name, dim)
    return store



def store_failure(settings: Settings, exc: Exception, *,
                  opening: bool = False) -> StoreError | None:
    """What to tell a user when Chroma fails: which store, and what to do about it. None for
    an error that is not the store's (a bug elsewhere keeps its own type and traceback).

    Example: "re-ingest into a new RAG_STORE_DIR" in str(
                 store_failure(load_settings(store_dir="s"), InternalError("hnsw")))
    """
    import httpx
    from chromadb.errors import ChromaError

    detail = f"{type(exc).__name__}: {exc}"
    if settings.chroma_host:
        where = f"{settings.chroma_host}:{settings.chroma_port} (CHROMA_HOST/CHROMA_PORT)"
        if isinstance(exc, ChromaError):
            return StoreError(f"the Chroma server at {where} failed ({detail})")
        if opening or isinstance(exc, httpx.TransportError):  # chromadb's client is httpx
            return StoreError(f"cannot reach the Chroma server at {where}: start it "
                              f"(`chroma run`) or point the settings at a running one ({detail})")
        return None
    if isinstance(exc, ChromaError):
        return StoreError(f"the store at {settings.store_dir} is damaged ({detail}): restore "
                          "it from a backup, or re-ingest into a new RAG_STORE_DIR")
    return None


def file_exists(origin: str) -> bool:
    """Whether a file origin still exists (URLs always 'exist': prune never drops them)."""
    if "://" in origin:
        return True
    return os.path.exists(origin.split("#", 1)[0])
