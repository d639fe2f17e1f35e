"""Sentence vectors written at ingest (rag/retrieve/sentences.py): an ask embeds only its
question, the file follows the store (updates, prune and kill -9 are in test_ingest.py's
assert_consistent), and a store without them still answers the same."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from index.pipeline import ingest
from rag.retrieve.context import article_sentences
from rag.retrieve.embeddings import Embedder, get_embedder
from rag.retrieve.sentences import SentenceVectors, open_vectors, scored_sentences, vectors_path
from rag.retrieve.store import Store, open_store
from rag.service import RagService
from rag.settings import Settings
from tests.conftest import SAMPLE

QUESTION = "How many hostages remain held in Gaza?"


class Counting:
    """The real embedder, recording every text it is asked to embed."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name, self.dim, self.max_tokens = inner.name, inner.dim, inner.max_tokens
        self.texts: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.texts.extend(texts)
        return self.inner.embed(texts)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


def test_every_quotable_sentence_is_stored_as_an_ask_would_embed_it(sample_settings) -> None:  # type: ignore[no-untyped-def]
    settings: Settings = sample_settings()
    embedder = get_embedder(settings)
    store = open_store(settings, embedder.name, embedder.dim)
    vectors = open_vectors(store.aux_dir(), embedder)
    ids = store.article_ids()
    stored = vectors.lookup(ids)
    for article in store.articles_by_id(ids).values():
        forms = scored_sentences(article, article_sentences(article))
        assert forms and all((article.id, start) in stored for start, _ in forms)
        fresh = embedder.embed([text for _, text in forms[:8]])
        kept = np.stack([stored[(article.id, start)] for start, _ in forms[:8]])
        assert np.allclose(kept, fresh, atol=1e-4)
    vectors.close()


def test_an_ask_embeds_only_its_question(sample_settings) -> None:  # type: ignore[no-untyped-def]
    settings: Settings = sample_settings(llm="extractive")
    counting = Counting(get_embedder(settings))
    answer = RagService(settings, embedder=counting).ask(QUESTION)
    assert answer.citations and not answer.refused
    assert counting.texts == [QUESTION]


def test_a_store_without_sentence_vectors_answers_the_same_and_the_next_ingest_fills_them(
        make_settings) -> None:  # type: ignore[no-untyped-def]
    settings: Settings = make_settings(llm="extractive")
    ingest([str(SAMPLE)], settings)
    with_vectors = RagService(settings).ask(QUESTION)
    path = vectors_path(Store(settings).aux_dir())
    with sqlite3.connect(path) as db:  # as a store written before sentence vectors existed
        db.execute("DELETE FROM vecs")
    db.close()

    counting = Counting(get_embedder(settings))
    without = RagService(settings, embedder=counting).ask(QUESTION)
    assert without.answer == with_vectors.answer
    assert [c.quote for c in without.citations] == [c.quote for c in with_vectors.citations]
    assert len(counting.texts) > 1  # the sentences it lacked were embedded at ask time

    again = ingest([str(SAMPLE)], settings)
    assert again.unchanged == 5 and again.chunks_embedded == 0
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM vecs").fetchone()[0] == 5
    db.close()


def test_vectors_of_another_embedding_model_are_never_used(tmp_path: Path) -> None:
    path = tmp_path / "sentences.sqlite3"
    first = SentenceVectors(path, "model-a/3")
    first.add([("art", np.array([0, 10], dtype=np.int32), np.eye(2, 3, dtype=np.float32))])
    assert set(first.lookup(["art"])) == {("art", 0), ("art", 10)}
    first.close()

    other = SentenceVectors(path, "model-b/3")
    assert other.lookup(["art"]) == {} and other.article_ids() == set()
    other.close()
    assert SentenceVectors(path, "model-a/3").article_ids() == set()  # not mixed back in


def test_a_damaged_vector_file_is_replaced_and_asks_still_answer(sample_settings) -> None:  # type: ignore[no-untyped-def]
    settings: Settings = sample_settings(llm="extractive")
    path = vectors_path(Store(settings).aux_dir())
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    path.write_bytes(b"this is not a database" * 100)
    answer = RagService(settings).ask(QUESTION)
    assert answer.citations and not answer.refused
