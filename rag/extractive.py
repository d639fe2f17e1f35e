"""The extractive answerer's composition: the best-supported sentences, quoted verbatim and
cited. No model beyond the embedder. The refusal gate and conflicts are shared with the LLM
answerer (rag/answering.py, rag/conflicts.py)."""

from __future__ import annotations

from rag.answer_match import announces_list, enumeration
from rag.citations import Span, make_citation
from rag.conflicts import find_conflicts
from rag.evidence import Evidence
from rag.question import analyse
from rag.text import split_sentences, words
from rag.types import Article, Draft


def _redundant(e: Evidence, chosen: list[Evidence]) -> bool:
    mine = set(words(e.text))
    for c in chosen:
        theirs = set(words(c.text))
        if len(mine & theirs) / max(1, min(len(mine), len(theirs))) > 0.7:
            return True
    return False


def list_end(article: Article, end: int) -> int:
    """Where the list a sentence announces ends: "... if specific conditions are met." is
    followed, within the next paragraph, by the sentence that lists them. `end` when the
    next sentences list nothing.

    Example: list_end(art("Terms apply: \\n\\nA, B, C and D."), 12) == 29
    """
    for s in split_sentences(article.text[end:end + 800], base=end)[:2]:
        if len(enumeration(s.text)) >= 3:
            return s.end
    return end


def compose(question: str, ranked: list[Evidence], floor: float, max_evidence: int) -> Draft:
    """Stitch the answer from the best sentences (`ranked` is non-empty and its best passed
    the refusal gate): both sides first when sources give different figures, else the best
    sentence and those close to it that add something."""
    best = ranked[0]
    conflicts = find_conflicts(question, ranked)
    if conflicts:
        chosen = [conflicts[0].a, conflicts[0].b]
    else:
        chosen = [best]
        for e in ranked[1:]:
            if len(chosen) >= max_evidence:
                break
            if e.score < max(floor, best.score - 0.1) or _redundant(e, chosen):
                continue
            chosen.append(e)
    ends = [max(e.end, e.ext_end) for e in chosen]
    if analyse(question).type == "list" and announces_list(chosen[0].quote):
        ends[0] = list_end(chosen[0].article, ends[0])  # the list itself, not its promise
    citations = [make_citation(n, e.article, e.chunk_id, Span(e.start, end))
                 for n, (e, end) in enumerate(zip(chosen, ends, strict=True), 1)]
    return Draft(" ".join(f"{c.quote} [{c.n}]" for c in citations), citations, False)
