"""Citations that hold: locate quotes in their articles, repair near-verbatim ones, drop the
rest, and renumber. Pure functions over article texts; nothing here calls a model."""

from __future__ import annotations

import re
from array import array
from dataclasses import dataclass
from functools import lru_cache

from rag.text import normalize, normalize_with_map, split_sentences, words
from rag.types import Article, Citation, Draft

REFUSAL = "The articles do not contain an answer to this question."


@dataclass(frozen=True)
class Span:
    start: int
    end: int


def locate(quote: str, text: str, near: tuple[int, int] | None = None) -> Span | None:
    """Where `quote` sits in `text`, exactly, after folding whitespace, quote marks and
    dashes; the occurrence inside `near` (a passage's range) wins when there are several.

    Example: locate("said  “yes”", 'He said "yes".') == Span(3, 13)
    """
    q = normalize(quote).strip(" \"'")
    if len(q) < 3:
        return None
    norm, where = _normalized(text)
    spans = []
    for m in re.finditer(re.escape(q), norm):
        start = where[m.start()]
        end = where[m.end() - 1] + 1
        spans.append(Span(start, end))
    if not spans:
        return None
    if near:
        inside = [s for s in spans if near[0] <= s.start and s.end <= near[1]]
        if inside:
            return inside[0]
    return spans[0]


@lru_cache(maxsize=256)
def _normalized(text: str) -> tuple[str, array[int]]:
    """normalize_with_map of an article, memoised: an answer tries several quotes against the
    same few articles, and folding a 33 KB article costs ~60 ms. Keyed by the text itself,
    which the article id is a hash of, so an entry never goes stale; the offsets are kept
    as a 4-byte array (a list of ints costs ~9x more), 256 articles at most."""
    norm, where = normalize_with_map(text)
    return norm, array("I", where)


def repair(quote: str, text: str, near: tuple[int, int]) -> Span | None:
    """A quote that is not verbatim becomes the sentence of the passage that carries it,
    when exactly one sentence clearly does (most of the quote's words, well ahead of the
    runner-up); otherwise None and the quote is dropped.

    Example: repair("Blinken met Sisi in Cairo", art, (0, len(art))) -> that sentence's span
    """
    qwords = set(words(quote))
    if len(qwords) < 3:
        return None
    scored = []
    for s in split_sentences(text[near[0]:near[1]], base=near[0]):
        swords = set(words(s.text))
        scored.append((len(qwords & swords) / len(qwords), s))
    scored.sort(key=lambda x: -x[0])
    if not scored or scored[0][0] < 0.7:
        return None
    if len(scored) > 1 and scored[1][0] >= scored[0][0] - 0.15:
        return None  # ambiguous: two sentences carry it about equally
    best = scored[0][1]
    return Span(best.start, best.end)


def make_citation(n: int, article: Article, chunk_id: str, span: Span) -> Citation:
    return Citation(n=n, article_id=article.id, chunk_id=chunk_id, title=article.title,
                    source=article.source, url=article.url, date=article.date,
                    quote=article.text[span.start:span.end], start=span.start, end=span.end)


def verified(citations: list[Citation], articles: dict[str, Article]) -> list[Citation]:
    """Only citations whose quote is exactly `article_text[start:end]`: the last check
    before anything is shown.

    Example: verified([c_with_wrong_offsets], arts) == []
    """
    out = []
    for c in citations:
        art = articles.get(c.article_id)
        if art is not None and c.quote and art.text[c.start:c.end] == c.quote:
            out.append(c)
    return out


_MARK = re.compile(r"\s*\[(\d+)\]")


def renumber(answer: str, citations: list[Citation]) -> tuple[str, list[Citation]]:
    """Number citations 1..k in order of first appearance in the answer; markers that point
    at no citation are removed, and citations the answer never marks are dropped.

    Example: renumber("A [3]. B [9].", [c3]) == ("A [1]. B.", [c3 with n=1])
    """
    by_n = {c.n: c for c in citations}
    new_n: dict[int, int] = {}
    for m in _MARK.finditer(answer):
        old = int(m.group(1))
        if old in by_n and old not in new_n:
            new_n[old] = len(new_n) + 1

    def sub(m: re.Match[str]) -> str:
        old = int(m.group(1))
        return f" [{new_n[old]}]" if old in new_n else ""

    text = _MARK.sub(sub, answer)
    text = re.sub(r"(\[\d+\])(?:\s*\1)+", r"\1", text)  # "[1] [1]" -> "[1]"
    cites = [by_n[old].model_copy(update={"n": n}) for old, n in new_n.items()]
    return text.strip(), sorted(cites, key=lambda c: c.n)


def _renumbered(text: str, number: dict[int, int]) -> str:
    return re.sub(r"\[(\d+)\]", lambda m: f"[{number.get(int(m.group(1)), 0)}]", text)


def join_parts(parts: list[str], drafts: list[Draft]) -> Draft:
    """One answer to a question asked in parts (rag/answer/language/question.py split_question):
    each part's
    answer in turn, citations numbered on, a quote both parts cite cited and shown once; a part the
    articles do not answer is said to be unanswered; a refusal only when none is answered.

    Example: join_parts(["who wrote A", "who wrote B"], [Draft("X [1]", [c], False),
             refusal]).text == 'X [1] The articles do not answer "who wrote B".'
    """
    if all(d.refused for d in drafts):
        return Draft(REFUSAL, [], True)
    texts: list[str] = []
    citations: list[Citation] = []
    conflicts = []
    unsupported: list[str] = []
    for part, draft in zip(parts, drafts, strict=True):
        if draft.refused:
            texts.append(f'The articles do not answer "{part}".')
            continue
        if texts and all(any((d.article_id, d.start, d.end) == (c.article_id, c.start, c.end)
                             for d in citations) for c in draft.citations):
            continue  # the quotes that answer this part are already there
        number: dict[int, int] = {}
        for c in draft.citations:
            same = next((d.n for d in citations if (d.article_id, d.start, d.end) ==
                         (c.article_id, c.start, c.end)), None)
            if same is None:
                same = len(citations) + 1
                citations.append(c.model_copy(update={"n": same}))
            number[c.n] = same
        texts.append(_renumbered(draft.text, number))
        conflicts += [k.model_copy(update={"figures": [
            f.model_copy(update={"n": number.get(f.n, f.n)}) for f in k.figures]})
            for k in draft.conflicts]
        unsupported += draft.unsupported
    return Draft(" ".join(texts), citations, False, conflicts, unsupported)
