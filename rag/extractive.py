"""The extractive answerer's composition: the best-supported sentences, quoted verbatim and
cited. No model beyond the embedder. The refusal gate and conflicts are shared with the LLM
answerer (rag/answering.py, rag/conflicts.py)."""

from __future__ import annotations

from rag.citations import Span, make_citation
from rag.conflicts import find_conflicts
from rag.evidence import Evidence
from rag.text import words
from rag.types import Draft


def _redundant(e: Evidence, chosen: list[Evidence]) -> bool:
    mine = set(words(e.text))
    for c in chosen:
        theirs = set(words(c.text))
        if len(mine & theirs) / max(1, min(len(mine), len(theirs))) > 0.7:
            return True
    return False


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
    citations = [make_citation(n, e.article, e.chunk_id, Span(e.start, max(e.end, e.ext_end)))
                 for n, e in enumerate(chosen, 1)]
    return Draft(" ".join(f"{c.quote} [{c.n}]" for c in citations), citations, False)
