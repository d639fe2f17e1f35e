"""The answerer's context, assembled within a token budget from the reranked chunks:
each chunk grows to whole article sentences and takes its neighbours (small-to-big), pieces
of one article that touch or overlap are merged (no text is sent twice), one article may
fill at most a share of the budget while other articles wait (a second source with another
figure gets in), and the pieces come out grouped by article in reading order.

Written over the article text rather than with llama-index's SentenceWindowNodeParser or
PrevNextNodePostprocessor: those copy windows into node metadata or walk a docstore of
nodes, while here the whole article is at hand and every piece must stay an exact slice,
`article.text[start:end]`, for the citations drawn from it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from threading import Lock

from rag.text import paragraphs, split_sentences
from rag.tokens import tiktoken_len
from rag.types import Article, Chunk, Hit, Sentence

PER_ARTICLE_SHARE = 0.6  # of the budget, while other articles' chunks wait


@dataclass
class _Sentences:
    """An article's sentences, with token counts filled in as they are needed."""

    items: list[Sentence]
    text: str
    tokens: dict[int, int] = field(default_factory=dict)
    _paragraphs: list[tuple[int, int]] | None = None

    @property
    def paragraphs(self) -> list[tuple[int, int]]:
        if self._paragraphs is None:
            self._paragraphs = list(paragraphs(self.text))
        return self._paragraphs

    def cost(self, i: int, count: Callable[[str], int]) -> int:
        if i not in self.tokens:
            self.tokens[i] = count(self.items[i].text) + 1  # and the space that joins it
        return self.tokens[i]


class _Cache:
    """The last few hundred articles' sentences: an article's split is reused by every
    question that retrieves it (splitting a long page costs milliseconds)."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self.items: OrderedDict[tuple[str, int], _Sentences] = OrderedDict()
        self.lock = Lock()
        self.last: tuple[Article | None, _Sentences] = (None, _Sentences([], ""))

    def get(self, article: Article) -> _Sentences:
        last = self.last  # one article's sentences are asked for many times in a row
        if last[0] is article:
            return last[1]
        found = self._get(article)
        self.last = (article, found)
        return found

    def _get(self, article: Article) -> _Sentences:
        key = (article.id, len(article.text))
        with self.lock:
            hit = self.items.get(key)
            if hit is not None:
                self.items.move_to_end(key)
                return hit
        found = _Sentences(split_sentences(article.text), article.text)
        with self.lock:
            self.items[key] = found
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return found


_CACHE = _Cache()


def article_sentences(article: Article) -> list[Sentence]:
    """The article's sentences with exact offsets (memoised per article).

    Example: [s.text for s in article_sentences(art("Rain fell. Wind blew."))]
             == ["Rain fell.", "Wind blew."]
    """
    return _CACHE.get(article).items


def article_paragraphs(article: Article) -> list[tuple[int, int]]:
    """The article's paragraphs as (start, end), in order (memoised per article).

    Example: article_paragraphs(art("Title\n\nBody.")) == [(0, 5), (7, 12)]
    """
    return _CACHE.get(article).paragraphs


def next_sentence(article: Article, end: int) -> Sentence | None:
    """The article's first sentence that starts at or after `end`.

    Example: next_sentence(art("Rain fell. Wind blew."), 10).text == "Wind blew."
    """
    sents = article_sentences(article)
    i = bisect_left(sents, end, key=lambda s: s.start)
    return sents[i] if i < len(sents) else None


def covering(sentences: list[Sentence], start: int, end: int) -> range:
    """Indices of the sentences that overlap [start, end): a chunk grown to whole sentences.
    An empty span, or one between sentences, gives the nearest sentence.

    Example: covering(article_sentences(art("Rain fell. Wind blew.")), 12, 15) == range(1, 2)
    """
    if not sentences:
        return range(0)
    lo = min(bisect_right(sentences, start, key=lambda s: s.end), len(sentences) - 1)
    hi = max(bisect_left(sentences, end, key=lambda s: s.start), lo + 1)
    return range(lo, hi)


@dataclass
class _Plan:
    budget: int
    count: Callable[[str], int]
    chosen: dict[str, set[int]] = field(default_factory=dict)  # article id -> sentence indices
    used: dict[str, int] = field(default_factory=dict)  # article id -> tokens
    total: int = 0

    def cost(self, article: Article, idx: range | list[int]) -> int:
        have = self.chosen.get(article.id, set())
        sents = _CACHE.get(article)
        return sum(sents.cost(i, self.count) for i in idx if i not in have)

    def add(self, article: Article, idx: range | list[int], cap: int) -> bool:
        """Take the sentences if the budget and the article's cap allow; all or none."""
        cost = self.cost(article, idx)
        if self.total + cost > self.budget or self.used.get(article.id, 0) + cost > cap:
            return False
        self.chosen.setdefault(article.id, set()).update(idx)
        self.used[article.id] = self.used.get(article.id, 0) + cost
        self.total += cost
        return True


def assemble(hits: list[Hit], budget: int, window: int = 2, first: int = 6,
             count: Callable[[str], int] = tiktoken_len) -> list[Hit]:
    """The context handed to the answerer, from `hits` (reranked chunks, best first):

    1. the first `first` chunks, each grown to whole sentences;
    2. then each chosen chunk's `window` sentences after and before it, nearest first;
    3. then the further chunks, each with its neighbours;

    all within `budget` tokens (cl100k, counted per sentence), no article above
    PER_ARTICLE_SHARE of the budget while another article's chunk waits. Chunks that touch
    or overlap merge into one piece. Each piece comes back as a Hit whose chunk is the
    exact slice it covers, named after its best chunk and scored with its score; pieces are
    grouped by article (best article first) and in the article's order.

    Example: [h.chunk.text for h in assemble([hit_of("Wind")], 100)]
             == ["Rain fell. Wind blew. Sun shone."]  # the article's whole text
    """
    if not hits:
        return []
    plan = _Plan(budget, count)
    several = len({h.article.id for h in hits}) > 1
    cap = int(budget * PER_ARTICLE_SHARE) if several else budget
    taken: list[Hit] = []
    waiting: list[Hit] = []

    def core(h: Hit) -> range:
        return covering(article_sentences(h.article), h.chunk.start, h.chunk.end)

    def neighbours(h: Hit, limit: int) -> None:
        sents = article_sentences(h.article)
        idx = core(h)
        after = range(idx.stop, min(len(sents), idx.stop + window))
        before = range(idx.start - 1, max(-1, idx.start - 1 - window), -1)
        for i in [*after, *before]:
            plan.add(h.article, [i], limit)

    for h in hits[:first]:
        (taken if plan.add(h.article, core(h), cap) else waiting).append(h)
    for h in list(taken):
        neighbours(h, cap)
    for h in hits[first:]:
        if plan.add(h.article, core(h), cap):
            taken.append(h)
            neighbours(h, cap)
        else:
            waiting.append(h)
    for h in waiting:  # over the article's share: only if the others left room
        if plan.add(h.article, core(h), budget):
            taken.append(h)
            neighbours(h, budget)
    if not taken:  # a first chunk above the whole budget: it alone, as the chunk was cut
        return [hits[0]]
    return _pieces(hits, plan.chosen)


def _pieces(hits: list[Hit], chosen: dict[str, set[int]]) -> list[Hit]:
    rank = {h.chunk.id: i for i, h in enumerate(hits)}
    by_article: dict[str, list[Hit]] = {}
    for h in hits:
        by_article.setdefault(h.article.id, []).append(h)
    out: list[tuple[int, int, Hit]] = []
    for aid, idx in chosen.items():
        article = by_article[aid][0].article
        sents = article_sentences(article)
        order = sorted(idx)
        runs: list[list[int]] = []
        for i in order:
            if runs and i == runs[-1][-1] + 1:
                runs[-1].append(i)
            else:
                runs.append([i])
        best_of_article = min(rank[h.chunk.id] for h in by_article[aid])
        for run in runs:
            start, end = sents[run[0]].start, sents[run[-1]].end
            inside = [h for h in by_article[aid] if h.chunk.start < end and start < h.chunk.end]
            best = min(inside, key=lambda h: rank[h.chunk.id]) if inside else by_article[aid][0]
            chunk = Chunk(id=best.chunk.id, article_id=aid, index=best.chunk.index,
                          text=article.text[start:end], start=start, end=end)
            out.append((best_of_article, start, Hit(chunk=chunk, article=article,
                                                    score=best.score, dense=best.dense,
                                                    bm25=best.bm25, ranks=best.ranks)))
    out.sort(key=lambda t: (t[0], t[1]))
    return [h for _, _, h in out]
