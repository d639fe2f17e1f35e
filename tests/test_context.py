"""The answerer's context (rag/retrieve/context.py): chunks grown to whole sentences and their
neighbours, merged per article, within the budget, a second article let in, in reading
order; and, on the sample store, the paragraph a retrieved sentence promises."""

from __future__ import annotations

from itertools import pairwise

import pytest

from rag.retrieve.context import article_sentences, assemble, covering
from rag.service import RagService
from rag.tokens import tiktoken_len
from rag.types import Article, Chunk, Hit

A_TEXT = ("Hamas set terms. It wants a truce if specific conditions are met.\n\n"
          "Israel must withdraw, free prisoners, allow aid and let people return. "
          "Talks resume Sunday. Qatar mediates. Egypt hosts the talks. The end.")
B_TEXT = "Officials count 97 hostages. Others count 129 hostages held. Nobody agrees."


def art(aid: str, text: str) -> Article:
    return Article(id=aid, text=text, title=aid, source="", url="")


A, B = art("a", A_TEXT), art("b", B_TEXT)


def hit(article: Article, piece: str, score: float = 1.0, cid: str | None = None) -> Hit:
    start = article.text.index(piece)
    chunk = Chunk(id=cid or f"{article.id}:{start}", article_id=article.id, index=0,
                  text=piece, start=start, end=start + len(piece))
    return Hit(chunk=chunk, article=article, score=score)


def test_every_piece_is_an_exact_slice_of_its_article() -> None:
    pieces = assemble([hit(A, "specific conditions"), hit(B, "Others count"),
                       hit(A, "Qatar mediates.")], 400)
    assert pieces
    for p in pieces:
        assert p.article.text[p.chunk.start:p.chunk.end] == p.chunk.text


def test_a_chunk_grows_to_whole_sentences_and_takes_the_paragraph_it_announces() -> None:
    [piece] = assemble([hit(A, "specific conditions")], 400, window=1)
    # the whole sentence, the one before it and the list after the paragraph break
    assert piece.chunk.text.startswith("Hamas set terms.")
    assert "Israel must withdraw, free prisoners" in piece.chunk.text
    assert "Talks resume" not in piece.chunk.text  # one neighbour each side, no more


def test_overlapping_and_adjacent_chunks_merge_so_no_text_is_sent_twice() -> None:
    hits = [hit(A, "Talks resume Sunday. Qatar"), hit(A, "Qatar mediates. Egypt"),
            hit(A, "Egypt hosts the talks.")]
    pieces = assemble(hits, 400, window=0)
    assert [p.chunk.text for p in pieces] == [
        "Talks resume Sunday. Qatar mediates. Egypt hosts the talks."]
    assert pieces[0].chunk.id == hits[0].chunk.id  # named after its best chunk


@pytest.mark.parametrize("budget", [12, 25, 40, 400])
def test_the_budget_holds(budget: int) -> None:
    hits = [hit(A, "Hamas set terms."), hit(A, "Israel must withdraw"), hit(B, "Nobody agrees."),
            hit(A, "Egypt hosts")]
    pieces = assemble(hits, budget, window=2)
    sentences = [s for p in pieces for s in article_sentences(p.article)
                 if p.chunk.start <= s.start and s.end <= p.chunk.end]
    assert sum(tiktoken_len(s.text) + 1 for s in sentences) <= budget


def test_a_second_article_gets_in_though_the_first_ranks_higher() -> None:
    # A's chunks rank first and could fill the budget alone; B's figure still gets in.
    hits = [hit(A, "Hamas set terms."), hit(A, "It wants a truce"), hit(A, "Israel must"),
            hit(A, "Talks resume"), hit(A, "Qatar mediates."), hit(A, "Egypt hosts"),
            hit(B, "Others count 129")]
    pieces = assemble(hits, 70, window=2, first=6)
    assert any("129" in p.chunk.text for p in pieces)


def test_pieces_come_by_article_best_first_then_in_the_articles_order() -> None:
    hits = [hit(B, "Others count 129"), hit(A, "The end."), hit(A, "Hamas set terms.")]
    pieces = assemble(hits, 400, window=0)
    assert [(p.article.id, p.chunk.text) for p in pieces] == [
        ("b", "Others count 129 hostages held."), ("a", "Hamas set terms."), ("a", "The end.")]


def test_a_first_chunk_bigger_than_the_budget_is_still_handed_over() -> None:
    first = hit(A, "Israel must withdraw, free prisoners, allow aid and let people return.")
    assert assemble([first], 5) == [first]


@pytest.mark.parametrize(("start", "end", "expected"), [
    (0, 3, range(0, 1)), (12, 15, range(1, 2)), (5, 15, range(0, 2)), (32, 32, range(2, 3))])
def test_covering_finds_the_sentences_a_span_touches(start: int, end: int,
                                                     expected: range) -> None:
    sentences = article_sentences(art("c", "Rain fell. Wind blew. Sun shone."))
    assert covering(sentences, start, end) == expected


def test_the_conditions_question_is_handed_the_paragraph_that_lists_them(
        service: RagService) -> None:
    _, pieces, _ = service.context("What conditions did Hamas set for a ceasefire?")
    text = " ".join(p.chunk.text for p in pieces)
    assert "if specific conditions are met" in text
    assert "withdraw from the Gaza Strip, allow the return of displaced people" in text


def test_a_bigger_budget_hands_over_more_and_never_repeats_text(service: RagService) -> None:
    q = "How many hostages are still held in Gaza?"
    small = service.context(q, 600)[1]
    big = service.context(q, 3000)[1]
    size = [sum(tiktoken_len(p.chunk.text) for p in ps) for ps in (small, big)]
    assert size[0] <= 660 and size[0] < size[1] <= 3300
    for pieces in (small, big):
        spans = sorted((p.article.id, p.chunk.start, p.chunk.end) for p in pieces)
        for (a1, _, e1), (a2, s2, _) in pairwise(spans):
            assert a1 != a2 or e1 < s2  # no overlap, no two touching pieces left apart
