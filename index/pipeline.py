"""The ingestion pipeline: load → clean → metadata → chunk (offsets kept) → embed → Chroma.

Idempotent and incremental. An article's id is a hash of its clean text and its chunk ids
derive from it, so unchanged text is never embedded again and a re-run after a kill upserts
the same ids (no duplicates). Each article is recorded only after all its chunks are in.

Why not llama-index's IngestionPipeline with a docstore: its docstore keys documents by
doc_id, so it can either store the same text twice under two names or (with
UPSERTS_AND_DELETE) delete every article not in the current run, and its JSON docstore is
rewritten whole and is lost on `kill -9`. The article collection in Chroma is the manifest
here: written in one transaction per batch, after all that batch's chunks, in embedded and
server mode alike.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from index.chunking import chunk_article
from index.dedup import containment, shingles
from index.loaders import Skip, load_paths
from rag.retrieve import lexical, sentences
from rag.retrieve.context import article_sentences
from rag.retrieve.embeddings import Embedder, get_embedder
from rag.retrieve.sentences import open_vectors
from rag.retrieve.store import Store, file_exists, open_store, store_failure
from rag.settings import Settings
from rag.types import Article, Chunk

_BATCH_CHUNKS = 256  # chunks embedded per flush: memory is bounded by this, not the corpus


@dataclass
class IngestSummary:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    chunks_embedded: int = 0
    duplicates: int = 0  # inputs whose text was already stored under another name
    seconds: float = 0.0
    near_duplicates: list[dict[str, Any]] = field(default_factory=list)
    articles: int = 0
    chunks: int = 0
    interrupted: bool = False
    # files over RAG_MAX_CHUNKS_PER_FILE: stored, searchable only as far as their chunks reach
    truncated: list[dict[str, str]] = field(default_factory=list)

    @property
    def ingested(self) -> int:
        """Articles whose text is in the store after this run (copies stored once count)."""
        return self.added + self.updated + self.unchanged + self.duplicates

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Pending:
    article: Article
    chunks: list[Chunk]


class Ingestor:
    """Holds the store and embedder for one run (or many, in a server process)."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.embedder = embedder or get_embedder(settings)
        self.store: Store = open_store(settings, self.embedder.name, self.embedder.dim,
                                       create=True)
        self.lexical = lexical.LexicalIndex(lexical.index_path(self.store.aux_dir()))
        self.sentences = open_vectors(self.store.aux_dir(), self.embedder)

    def close(self) -> None:
        """The last connection out folds each file's WAL into it."""
        self.lexical.close()
        self.sentences.close()

    def _fits(self, text: str) -> bool:
        return self.embedder.count_tokens(text) <= self.embedder.max_tokens

    def run(self, paths: list[str], *, prune: bool = False,
            progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
            on_wait: Callable[[str], None] | None = None,
            on_embedded: Callable[[int], None] | None = None,
            follow_links: bool = False) -> IngestSummary:
        """One run at a time per store: a second run of the same folder waits for the first,
        then finds its articles unchanged instead of adding them again. A store that fails
        mid-run (damaged files, a server gone) is a StoreError naming it and the remedy."""
        with ingest_lock(self.settings, on_wait):
            try:
                with _sigterm_as_interrupt():
                    summary = self._run(paths, prune=prune, progress=progress,
                                        on_embedded=on_embedded, follow_links=follow_links,
                                        on_wait=on_wait)
                return as_named(summary, paths)
            except Exception as exc:
                failure = store_failure(self.settings, exc)
                if failure is None:
                    raise
                raise failure from None

    def _run(self, paths: list[str], *, prune: bool,
             progress: Callable[[Iterable[Any]], Iterable[Any]] | None,
             on_embedded: Callable[[int], None] | None, follow_links: bool,
             on_wait: Callable[[str], None] | None = None) -> IngestSummary:
        s = self.settings
        summary = IngestSummary()
        t0 = time.perf_counter()
        seen: dict[str, str] = {}  # article id -> origin, this run
        origins: set[str] = set()
        pending: list[_Pending] = []
        items = load_paths(paths, int(s.max_file_mb * 1e6), s.fetch_timeout, follow_links)
        try:
            for item in (progress(items) if progress else items):
                if isinstance(item, Skip):
                    summary.skipped.append({"path": item.where, "reason": item.reason})
                    continue
                if item.id in seen:
                    summary.duplicates += 1
                    summary.skipped.append({"path": item.origin,
                                            "reason": f"same text as {seen[item.id]} "
                                                      "(stored once)"})
                    continue
                if item.origin in origins:
                    # Two texts claiming one url (JSON records): each would replace the other
                    # as its "old version", on every run.
                    summary.skipped.append({"path": item.origin,
                                            "reason": "another article in this run has the "
                                                      "same url or path (kept the first)"})
                    continue
                seen[item.id] = item.origin
                origins.add(item.origin)
                if self._known(item, summary):
                    continue
                chunks = self._chunks(item, summary)
                if not chunks:
                    continue
                pending.append(_Pending(item, chunks))
                if sum(len(p.chunks) for p in pending) >= _BATCH_CHUNKS:
                    self._flush(pending, summary)
                    pending = []
                    if on_embedded:
                        on_embedded(summary.chunks_embedded)
            self._flush(pending, summary)
            if prune:
                summary.removed += self.prune()
            self._sync_sentences(on_wait)
        except KeyboardInterrupt:
            summary.interrupted = True
        if summary.added or summary.updated or summary.removed:
            self.store.bump_version()  # every reader of the store catches up
        # Finishes what a killed run left (the stamp it bumped before writing is not the
        # one the index recorded); a no-op when nothing changed.
        self.lexical.ensure_current(self.store)
        try:  # a big change ends with a merged keyword index on disk: servers map it at start
            self.lexical.merge_if_behind(on_merge=lambda n: on_wait and on_wait(
                f"merging the keyword index ({n:,} new rows) so servers start at once"))
        except KeyboardInterrupt:
            summary.interrupted = True  # the next server start (or run) merges instead
        summary.articles = self.store.count_articles()
        summary.chunks = self.store.count_chunks()
        summary.seconds = round(time.perf_counter() - t0, 3)
        return summary

    def _chunks(self, article: Article, summary: IngestSummary) -> list[Chunk]:
        """The article's chunks, at most RAG_MAX_CHUNKS_PER_FILE (a cut file is reported);
        none, with a skip naming the file, when chunking it fails."""
        s = self.settings
        try:
            chunks = chunk_article(article, s.chunk_tokens, s.chunk_overlap, self._fits,
                                   limit=s.max_chunks_per_file)
        except Exception as exc:  # one file's failure is that file's skip, not the run's
            summary.skipped.append({"path": article.origin,
                                    "reason": f"could not cut it into chunks: "
                                              f"{type(exc).__name__}: {exc}"})
            return []
        if chunks and article.text[chunks[-1].end:].strip():
            end = chunks[-1].end
            summary.truncated.append({
                "path": article.origin,
                "reason": f"cut at {len(chunks):,} chunks (RAG_MAX_CHUNKS_PER_FILE): its first "
                          f"{end:,} of {len(article.text):,} characters are searchable"})
        return chunks

    def _known(self, article: Article, summary: IngestSummary) -> bool:
        """True when the article's text is already stored (unchanged, or the same text
        under another name); tidies what an interrupted update left behind."""
        got = self.store.articles.get(ids=[article.id], include=["metadatas"])
        if not got["ids"]:
            return False
        stored_origin = str(got["metadatas"][0].get("origin", ""))
        if stored_origin == article.origin:
            self._drop_stale(article)
            summary.unchanged += 1
        elif not file_exists(stored_origin) or same_file(stored_origin, article.origin):
            # Renamed, moved, or a record that moved to another line of its JSON file:
            # re-point the record instead of embedding again. Left pointing at its old line,
            # it would be deleted as the "old version" of whatever record now sits there.
            self.store.articles.update(ids=[article.id],
                                       metadatas=[{"origin": article.origin}])
            summary.unchanged += 1
        else:
            # This origin's own older text, if any, is no longer what the file says.
            self._drop_stale(article)
            summary.duplicates += 1
            summary.skipped.append({"path": article.origin,
                                    "reason": f"same text as {stored_origin} (stored once)"})
        return True

    def _stale_ids(self, article: Article) -> list[str]:
        """Older versions of this article in the store (same origin, other text)."""
        return [a for a in self.store.article_ids_by_origin(article.origin) if a != article.id]

    def _drop_stale(self, article: Article) -> int:
        """Remove older versions of this article."""
        stale = self._stale_ids(article)
        for aid in stale:
            self.store.delete_article(aid)
        self._removed_from_lexical(stale)
        return len(stale)

    def _removed_from_lexical(self, article_ids: list[str]) -> None:
        if article_ids:
            self.lexical.remove_articles(article_ids)
            self.sentences.remove_articles(article_ids)
            self.store.bump_version()

    def _sentence_rows(self, articles: Sequence[Article]) -> sentences.Rows:
        return sentences.embed_articles(articles, article_sentences, self.embedder.embed)

    def _sync_sentences(self, on_wait: Callable[[str], None] | None) -> None:
        """Sentence vectors for articles stored without them (a store from before they
        existed, a killed run, another embedding model), a batch at a time: Ctrl-C keeps
        what is done, and the next run goes on from there. Every path that deletes an
        article deletes its vectors, so equal counts mean nothing to do: adding one
        article to a large store does not read every id."""
        if self.sentences.count() == self.store.count_articles():
            return
        ids = self.store.article_ids()
        lacking = len(set(ids) - self.sentences.article_ids())
        if lacking > 64 and on_wait:
            on_wait(f"embedding the sentences of {lacking:,} stored articles that lack them "
                    "(once; answers need only the question embedded after this)")

        def fetch(batch: list[str]) -> list[Article]:
            found = self.store.articles_by_id(batch)
            return [found[a] for a in batch if a in found]

        self.sentences.sync(ids, fetch, self._sentence_rows)

    def _flush(self, pending: list[_Pending], summary: IngestSummary) -> None:
        """Embed a batch and write it in two calls, every chunk and then every article record
        (one call per article cost ~50 ms each: most of a large ingest's time)."""
        if not pending:
            return
        chunks = [c for p in pending for c in p.chunks]
        articles = [p.article for p in pending]
        vectors = self.embedder.embed([c.text for c in chunks])
        sentence_rows = self._sentence_rows(articles)
        summary.chunks_embedded += len(chunks)
        ends = np.cumsum([len(p.chunks) for p in pending])
        means = np.stack([vectors[end - len(p.chunks):end].mean(axis=0)
                          for p, end in zip(pending, ends, strict=True)])
        means /= np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
        self._near_duplicates(articles, means, summary)
        stale = [self._stale_ids(a) for a in articles]  # older versions of the same files
        with _ctrl_c_deferred():
            # Stamp before writing too: a kill mid-batch leaves a stamp no index recorded.
            self.store.bump_version()
            self.store.upsert_chunks(chunks, vectors)
            self.store.put_articles(articles, means, [len(p.chunks) for p in pending])
            updated = sum(1 for ids in stale if ids)
            summary.updated += updated
            summary.added += len(articles) - updated
            for ids in stale:
                for aid in ids:
                    self.store.delete_article(aid)
            # The lexical index by the change alone (its cost is this batch, not the store).
            self.lexical.add((c.id, c.article_id, c.text) for c in chunks)
            self.lexical.remove_articles(aid for ids in stale for aid in ids)
            self.sentences.remove_articles(aid for ids in stale for aid in ids)
            self.sentences.add(sentence_rows)
            self.store.bump_version()

    def _near_duplicates(self, articles: list[Article], means: np.ndarray,
                         summary: IngestSummary) -> None:
        """Report each new article that mostly repeats a stored one or one earlier in its
        batch: candidates by embedding (cosine >= 0.85), verdict by shingle containment."""
        stored = self.store.similar_articles_many(means, 3)
        cosines = means @ means.T
        for i, article in enumerate(articles):
            others = [self.store.article(aid) for aid, cosine in stored[i]
                      if cosine >= 0.85 and aid != article.id]
            others += [articles[j] for j in range(i) if cosines[i, j] >= 0.85]
            mine: set[int] | None = None
            for other in others:
                if other is None or other.origin == article.origin:
                    continue
                mine = mine if mine is not None else shingles(article.text)
                score = containment(mine, shingles(other.text))
                if score >= self.settings.near_dup_threshold:
                    summary.near_duplicates.append({"path": article.origin, "of": other.origin,
                                                    "similarity": round(score, 3)})

    def prune(self) -> int:
        """Delete articles whose files are gone, and chunks no article owns."""
        gone = [aid for aid, meta in self.store.iter_article_meta()
                if not file_exists(str(meta.get("origin", "")))]
        for aid in gone:
            self.store.delete_article(aid)
        self._removed_from_lexical(gone)
        owners = {aid for aid, _ in self.store.iter_article_meta()}
        orphans = [cid for cid, aid, _ in self.store.iter_chunks(include_text=False)
                   if aid not in owners]
        self.store.delete_chunks(orphans)
        return len(gone)


@contextmanager
def ingest_lock(settings: Settings, on_wait: Callable[[str], None] | None) -> Iterator[None]:
    """An advisory lock file in the store folder, held for a whole run. The OS releases it
    however the holder ends (kill -9 included), so it never needs cleaning up. Server mode
    locks the same local folder: it guards runs from this machine."""
    from filelock import FileLock, Timeout

    settings.store_dir.mkdir(parents=True, exist_ok=True)
    path = settings.store_dir / "ingest.lock"
    lock = FileLock(path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if on_wait:
            on_wait(f"another ingest into {settings.store_dir} is running; waiting for it "
                    "to finish")
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


@contextmanager
def _ctrl_c_deferred() -> Iterator[None]:
    """Hold a Ctrl-C or SIGTERM until the block is done: a batch's writes and its counts in
    the summary go together (an interrupt that landed after Chroma stored the articles but
    before they were counted reported them as never added). Only the main thread can take
    signals."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: caught.append(signum))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else
                          signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL)
    if caught:
        raise KeyboardInterrupt


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """A SIGTERM (`timeout`, `kill`, a service manager) ends the run as Ctrl-C does: what is
    stored stays consistent and the summary is printed. Only the main thread can take
    signals; elsewhere (a server's ingest) the host process decides."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def as_named(summary: IngestSummary, paths: list[str]) -> IngestSummary:
    """The summary with every file path in one form, as the user named the inputs: a file
    under an input is named through that input (a symlinked folder keeps the link's name),
    relative to the working folder when every path given was relative, else absolute. URLs
    and origins that are no file path (a JSON record's own url) are left as they are.

    Example: as_named(IngestSummary(skipped=[{"path": "/w/d/a.txt", "reason": "r"}]),
             ["d"]).skipped[0]["path"] == "d/a.txt"  # (run from /w)
    """
    files = [p for p in paths if "://" not in p]
    relative = len(files) == len(paths) and not any(Path(p).is_absolute() for p in files)
    roots = sorted(((Path(p).expanduser().resolve(), p) for p in files),
                   key=lambda r: -len(str(r[0])))

    def named(path: str) -> str:
        where, hash_, record = path.partition("#")
        if "://" in path or not (os.path.isabs(where) or os.path.exists(where)):
            return path
        full = Path(os.path.abspath(where))
        for root, given in roots:  # through the input the user named, links and all
            if full == root or root in full.parents:
                rel = full.relative_to(root)
                shown = Path(given) / rel if str(rel) != "." else Path(given)
                full = Path(os.path.abspath(shown))
                break
        out = str(full)
        if relative:
            rel_out = os.path.relpath(full)
            out = out if rel_out.startswith("..") else rel_out
        return out + hash_ + record

    for entries in (summary.skipped, summary.truncated):
        for entry in entries:
            entry["path"] = named(entry["path"])
    for dup in summary.near_duplicates:
        dup["path"], dup["of"] = named(dup["path"]), named(dup["of"])
    return summary


def same_file(a: str, b: str) -> bool:
    """Whether two origins are records of one JSON file (`path#line` or `path#index`).

    Example: same_file("/a.jsonl#1", "/a.jsonl#3") and not same_file("/a.txt", "/b.txt")
    """
    return "#" in a and "#" in b and "://" not in a + b and a.split("#")[0] == b.split("#")[0]


def ingest(paths: list[str], settings: Settings, *, prune: bool = False,
           progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
           on_wait: Callable[[str], None] | None = None,
           on_embedded: Callable[[int], None] | None = None,
           follow_links: bool = False) -> IngestSummary:
    """Ingest files, folders and URLs into the configured store."""
    # Opening a new store creates Chroma's tables: two first runs at once would both try, so
    # the store is opened under the run's lock too (then `run` takes it for the run).
    with ingest_lock(settings, on_wait):
        ingestor = Ingestor(settings)
    try:
        return ingestor.run(paths, prune=prune, progress=progress, on_wait=on_wait,
                            on_embedded=on_embedded, follow_links=follow_links)
    finally:
        ingestor.close()
