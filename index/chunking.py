"""Sentence-aware, token-budgeted chunking that keeps exact character offsets.

Written by hand because llama-index's SentenceSplitter rejoins and strips its splits, so a
chunk is not always a verbatim slice of the article, and it budgets in tiktoken tokens only:
all-MiniLM-L6-v2 reads 256 word pieces and silently drops the rest of a longer chunk.
Here every chunk is `text[start:end]`, and each is checked against the embedder's own limit.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

from rag.text import split_sentences
from rag.tokens import tiktoken_len
from rag.types import Article, Chunk

Counter = Callable[[str], int]


def article_id(text: str) -> str:
    """Stable id of an article: a hash of its clean text.

    Example: article_id("x") == article_id("x") != article_id("y")
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _pieces(text: str, start: int, end: int, budget: int, count: Counter) -> list[tuple[int, int]]:
    """Cut one over-long sentence at word boundaries into spans of at most `budget` tokens.
    Each span's end is found by galloping then bisecting over its words, so a 1 MB line with
    no sentence break costs a few token counts per span, not one per word (linear overall).

    Example: _pieces("a b c d e", 0, 9, 2, lambda t: len(t.split())) == [(0, 3), (4, 7), (8, 9)]
    """
    spans: list[tuple[int, int]] = []
    words = [m.span() for m in re.finditer(r"\S+", text[start:end])]

    def fits(i: int, j: int) -> bool:  # words i..j-1 within the budget
        return count(text[start + words[i][0]:start + words[j - 1][1]]) <= budget

    i = 0
    while i < len(words):
        good, step = i + 1, 1  # one word always goes in, however long
        while good + step <= len(words) and fits(i, good + step):
            good += step
            step *= 2
        bad = min(good + step, len(words) + 1)  # the first end known not to fit
        while bad - good > 1:
            mid = (good + bad) // 2
            if fits(i, mid):
                good = mid
            else:
                bad = mid
        spans.append((start + words[i][0], start + words[good - 1][1]))
        i = good
    return spans


def chunk_spans(text: str, budget: int, overlap: int, count: Counter = tiktoken_len,
                ) -> list[tuple[int, int]]:
    """Greedy sentence packing: each chunk holds whole sentences up to `budget` tokens and
    starts with the last sentences (up to `overlap` tokens) of the chunk before it. When even
    the last sentence is longer than `overlap`, it is carried over anyway if it takes at most
    half the budget: news sentences often run past 40 tokens, and without this 4 of the
    sample corpus's 18 chunk boundaries had no overlap at all.

    Example: chunk_spans("Dogs bark. Birds sing. Cats purr.", budget=9, overlap=4)
             == [(0, 22), (11, 33)]
    """
    units: list[tuple[int, int]] = []
    for s in split_sentences(text):
        if count(s.text) > budget:
            units.extend(_pieces(text, s.start, s.end, budget, count))
        else:
            units.append((s.start, s.end))
    sizes = [count(text[s:e]) for s, e in units]
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(units):
        j, used = i, 0
        while j < len(units) and (j == i or used + sizes[j] <= budget):
            used += sizes[j]
            j += 1
        spans.append((units[i][0], units[j - 1][1]))
        if j >= len(units):
            break
        # Step back over whole sentences for the overlap, always moving forward.
        k, back = j, 0
        while k - 1 > i and back + sizes[k - 1] <= overlap:
            back += sizes[k - 1]
            k -= 1
        if overlap and k == j and j - 1 > i and sizes[j - 1] <= budget // 2:
            k = j - 1
        i = k
    return spans


# Characters per token beyond which text is not prose (a token rarely spans 10 characters):
# bounds how much of a capped article is read before its spans are counted.
_CHARS_PER_TOKEN = 12


def _spans(full: str, budget: int, overlap: int, fits: Callable[[str], bool] | None,
           limit: int | None) -> list[tuple[int, int]]:
    """The chunk spans, cut from a prefix that grows (fourfold) until it holds `limit`
    chunks or is the whole text: a capped 20 MB file costs its first chunks, not its all."""
    size = len(full) if limit is None else limit * budget * _CHARS_PER_TOKEN
    while True:
        text = full[:size]
        spans: list[tuple[int, int]] = []
        for s, e in chunk_spans(text, budget, overlap):
            if limit is not None and len(spans) >= limit:
                break
            if fits is None or fits(text[s:e]):
                spans.append((s, e))
                continue
            sub_budget = budget
            while True:
                sub_budget = max(8, int(sub_budget * 0.75))
                sub = [(s + a, s + b) for a, b in chunk_spans(text[s:e], sub_budget, overlap=0)]
                if sub_budget == 8 or all(fits(text[a:b]) for a, b in sub):
                    spans.extend(sub)
                    break
        if limit is not None:
            spans = spans[:limit]
        if size >= len(full) or (limit is not None and len(spans) >= limit):
            return spans
        size *= 4


def chunk_article(article: Article, budget: int, overlap: int,
                  fits: Callable[[str], bool] | None = None,
                  limit: int | None = None) -> list[Chunk]:
    """Chunks of an article with stable ids (`{article_id}-{n}`); a chunk that `fits` rejects
    (too long for the embedder) is re-cut with a smaller budget. With `limit`, at most that
    many chunks, from the start (what a capped file keeps), cut from a bounded prefix.

    Example: all(a.text[c.start:c.end] == c.text for c in chunk_article(a, 200, 40))
    """
    spans = _spans(article.text, budget, overlap, fits, limit)
    return [Chunk(id=f"{article.id}-{n:04d}", article_id=article.id, index=n,
                  text=article.text[s:e], start=s, end=e)
            for n, (s, e) in enumerate(spans)]
