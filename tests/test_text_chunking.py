"""Sentences and chunks keep exact offsets: every chunk of every article is a verbatim slice
of its clean text, fits the embedder's 256 word pieces, overlaps its neighbour, and keeps its
id from one run to the next. Pure functions: no model, no store."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from index.chunking import chunk_article, chunk_spans
from index.loaders import load_paths
from index.metadata import make_article
from rag.retrieve.embeddings import BUNDLED_WEIGHTS, MINILM_NAME
from rag.retrieve.store import open_store
from rag.settings import load_settings
from rag.text import normalize, normalize_with_map, split_sentences
from rag.types import Article, Chunk
from tests.conftest import SAMPLE

MAX_WORD_PIECES = 256  # all-MiniLM-L6-v2 drops whatever comes after this


def _sample_articles() -> list[Article]:
    found = [a for a in load_paths([str(SAMPLE)], 20_000_000, 5.0) if isinstance(a, Article)]
    assert len(found) == 5
    return found


SAMPLES = _sample_articles()
SAMPLE_IDS = [Path(a.origin).name for a in SAMPLES]


@pytest.fixture(scope="module")
def word_pieces() -> Callable[[str], int]:
    """Length in all-MiniLM-L6-v2's own word pieces (with [CLS]/[SEP]), read from the
    tokenizer file bundled with the model, independently of the embedder's code."""
    path = BUNDLED_WEIGHTS / "tokenizer.json"
    tok = Tokenizer.from_file(str(path))
    tok.no_truncation()
    tok.no_padding()
    return lambda text: len(tok.encode(text, add_special_tokens=True).ids)


def _chunks(article: Article, count: Callable[[str], int]) -> list[Chunk]:
    s = load_settings()
    return chunk_article(article, s.chunk_tokens, s.chunk_overlap,
                         lambda t: count(t) <= MAX_WORD_PIECES)


def _first_sentence(name: str) -> str:
    article = next(a for a in SAMPLES if Path(a.origin).name == name)
    return split_sentences(article.text)[0].text


# --- sentences ----------------------------------------------------------------------------------
@pytest.mark.parametrize("article", SAMPLES, ids=SAMPLE_IDS)
def test_sentences_are_exact_slices_covering_the_whole_article(article: Article) -> None:
    sentences = split_sentences(article.text)
    assert len(sentences) > 5
    covered: set[int] = set()
    last_end = 0
    for s in sentences:
        assert article.text[s.start:s.end] == s.text
        assert s.text == s.text.strip() and s.text
        assert s.start >= last_end, "sentences overlap or go backwards"
        last_end = s.end
        covered.update(range(s.start, s.end))
    missing = [i for i, ch in enumerate(article.text) if not ch.isspace() and i not in covered]
    assert missing == [], "some text belongs to no sentence"


def test_us_and_oct_abbreviations_do_not_end_a_sentence() -> None:
    # The Reuters sample's first sentence holds both "U.S." and "Oct. 7".
    assert _first_sentence("001_0c6b4b250ced8e37.txt") == (
        "U.S. Secretary of State Antony Blinken pressed Israeli Prime Minister Benjamin "
        "Netanyahu in talks on Tuesday to capitalise on the killing of Hamas’ leader by "
        "securing the release of the Oct. 7 attack hostages and ending the war in Gaza.")


@pytest.mark.parametrize(("text", "expected"), [
    ("Mr. Smith met Dr. Jones at 10 a.m. on Monday. They talked.",
     ["Mr. Smith met Dr. Jones at 10 a.m. on Monday.", "They talked."]),
    ("J. R. Smith spoke. Prices rose 3.5 percent. He said \"No.\" Then he left.",
     ["J. R. Smith spoke.", "Prices rose 3.5 percent.", "He said \"No.\"", "Then he left."]),
    ("The talks in the U.S. The mediators in the U.N. It said.",
     ["The talks in the U.S.", "The mediators in the U.N.", "It said."]),
    ("The attack on Oct. 7 and the U.S. Secretary of State.",
     ["The attack on Oct. 7 and the U.S. Secretary of State."]),
    ("Wait... what? Yes! Done.", ["Wait... what?", "Yes!", "Done."]),
])
def test_sentence_boundaries(text: str, expected: list[str]) -> None:
    assert [s.text for s in split_sentences(text)] == expected


def test_headline_line_is_a_sentence_of_its_own() -> None:
    assert _first_sentence("002_87a8e70946c86064.txt") == (
        "Blinken pushes for Israel-Hamas ceasefire as hostage rescue complicates talks")


def test_a_wrapped_line_does_not_end_a_sentence_but_a_short_line_does() -> None:
    wrapped = ("Negotiators from Egypt and Qatar met the delegation in Cairo on\n"
               "Thursday to discuss the terms. Talks went on.")
    assert split_sentences(wrapped)[0].text == wrapped.split(" Talks")[0]
    assert [s.text for s in split_sentences("Gaza talks\nNegotiators met.")] == [
        "Gaza talks", "Negotiators met."]


def test_offsets_shift_by_base() -> None:
    text = "Intro here. Second one."
    sentences = split_sentences(text[12:], base=12)
    assert [(s.start, s.end) for s in sentences] == [(12, 23)]
    assert text[sentences[0].start:sentences[0].end] == "Second one."


# --- chunks -------------------------------------------------------------------------------------
def test_chunk_spans_docstring_example() -> None:
    assert chunk_spans("Dogs bark. Birds sing. Cats purr.", budget=9, overlap=4) == [
        (0, 22), (11, 33)]


@pytest.mark.parametrize("article", SAMPLES, ids=SAMPLE_IDS)
def test_every_chunk_is_the_article_text_at_its_offsets(
        article: Article, word_pieces: Callable[[str], int]) -> None:
    chunks = _chunks(article, word_pieces)
    assert len(chunks) >= 2
    for n, c in enumerate(chunks):
        assert article.text[c.start:c.end] == c.text
        assert c.id == f"{article.id}-{n:04d}" and c.index == n and c.article_id == article.id
    assert chunks[0].start == 0 and chunks[-1].end == len(article.text)
    # No sentence is lost between chunks.
    for s in split_sentences(article.text):
        assert any(c.start <= s.start and s.end <= c.end for c in chunks), s.text


@pytest.mark.parametrize("article", SAMPLES, ids=SAMPLE_IDS)
def test_consecutive_chunks_overlap_on_whole_sentences(
        article: Article, word_pieces: Callable[[str], int]) -> None:
    chunks = _chunks(article, word_pieces)
    starts = {s.start for s in split_sentences(article.text)}
    for before, after in pairwise(chunks):
        assert after.start < before.end, f"no overlap between {before.id} and {after.id}"
        assert after.start > before.start, "chunks must move forward"
        assert after.start in starts, "a chunk should start on a sentence"


def test_chunk_ids_are_stable_across_runs_and_follow_the_text(
        word_pieces: Callable[[str], int]) -> None:
    first = [(c.id, c.start, c.end) for a in _sample_articles() for c in _chunks(a, word_pieces)]
    second = [(c.id, c.start, c.end) for a in _sample_articles() for c in _chunks(a, word_pieces)]
    assert first == second
    assert len({cid for cid, _, _ in first}) == len(first)
    edited = make_article(SAMPLES[0].text + " One more sentence.", origin=SAMPLES[0].origin)
    assert _chunks(edited, word_pieces)[0].id != first[0][0]


def _russian_article() -> Article:
    # Cyrillic costs ~1.8 word pieces per tiktoken token: a 180-token chunk is ~330 pieces.
    two = ("Переговоры в Каире продолжатся на следующей неделе. "
           "Посредники из Египта и Катара встретились с делегацией. ")
    return make_article(two * 20, origin="ru.txt")


@pytest.mark.parametrize("article", [*SAMPLES, _russian_article()],
                         ids=[*SAMPLE_IDS, "cyrillic"])
def test_every_chunk_fits_the_embedders_256_word_pieces(
        article: Article, word_pieces: Callable[[str], int]) -> None:
    chunks = _chunks(article, word_pieces)
    assert max(word_pieces(c.text) for c in chunks) <= MAX_WORD_PIECES
    assert all(article.text[c.start:c.end] == c.text for c in chunks)


def test_the_token_budget_alone_would_overflow_the_embedder(
        word_pieces: Callable[[str], int]) -> None:
    """The control for the test above: without the word-piece check, the Cyrillic article's
    chunks would be silently half-embedded."""
    s = load_settings()
    unchecked = chunk_article(_russian_article(), s.chunk_tokens, s.chunk_overlap)
    assert max(word_pieces(c.text) for c in unchecked) > MAX_WORD_PIECES


def test_stored_sample_chunks_fit_the_embedder(sample_store: Path,
                                                word_pieces: Callable[[str], int]) -> None:
    store = open_store(load_settings(store_dir=sample_store), MINILM_NAME, 384)
    texts = [text for _, _, text in store.iter_chunks()]
    assert len(texts) == store.count_chunks() > 5
    assert max(word_pieces(t) for t in texts) <= MAX_WORD_PIECES


def test_an_over_long_sentence_is_cut_at_word_boundaries() -> None:
    text = "word " * 400 + "end."
    spans = chunk_spans(text.strip(), budget=50, overlap=10)
    assert len(spans) > 5
    t = text.strip()
    for s, e in spans:
        assert (s == 0 or t[s - 1] == " ") and (e == len(t) or t[e] == " ")


@pytest.mark.parametrize("text", [
    "“Hi”  —\nthere", "café and cafe\u0301", " a\u00a0b ", "x\u00a8y", "ﬁne ½ \u2028 z", "",
    "   ", "«non» – \u200b ok", "\u0301a", "Ｆｕｌｌ\u3000width", "plain ascii,\tline\r\n",
])
def test_normalize_folds_exactly_as_the_offset_map_does(text: str) -> None:
    """A quote (normalize) and its article (normalize_with_map) must fold alike, or a
    verbatim quote is not found: the fast path gives the same text, accents, quote marks,
    dashes, odd spaces and all."""
    assert normalize(text) == normalize_with_map(text)[0]
    for source in SAMPLE.glob("*.txt"):
        article = source.read_text(encoding="utf-8")
        assert normalize(article) == normalize_with_map(article)[0]
