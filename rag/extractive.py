"""The extractive answerer: the best-supported sentences, quoted verbatim and cited, and
both sides when sources give different figures. No model beyond the embedder."""

from __future__ import annotations

from dataclasses import dataclass, field

from rag.citations import REFUSAL, Span, make_citation
from rag.conflicts import disagree, topic_roots
from rag.evidence import Evidence, relevance_floor
from rag.settings import Settings
from rag.text import words
from rag.types import Citation


@dataclass
class Draft:
    """An answer before rendering: text with [n] markers, its citations, and notes."""

    text: str
    citations: list[Citation]
    refused: bool
    conflicts: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)  # sentences removed: no valid citation


def label(title: str, words: int = 8) -> str:
    """A short name for an article without a publisher: its title's first words, quoted.

    Example: label("A b c d e f g h i") == "“A b c d e f g h…”"
    """
    parts = title.split()
    short = " ".join(parts[:words]).rstrip(",;:…") + ("…" if len(parts) > words else "")
    return f"“{short}”"


CONFLICT_COVERAGE = 0.45


def refusal() -> Draft:
    return Draft(REFUSAL, [], True, [])


def _redundant(e: Evidence, chosen: list[Evidence]) -> bool:
    mine = set(words(e.text))
    for c in chosen:
        theirs = set(words(c.text))
        if len(mine & theirs) / max(1, min(len(mine), len(theirs))) > 0.7:
            return True
    return False


def find_conflicts(question: str, ranked: list[Evidence], window: float
                   ) -> list[tuple[Evidence, Evidence]]:
    """Pairs of relevant sentences from different articles giving different figures for
    what the question asks about, best pair first. Each sentence must itself be about the
    question (hold at least CONFLICT_COVERAGE of its weighted terms): two strikes' tolls
    found while looking for a war's toll are not a disagreement."""
    if not ranked:
        return []
    topic = topic_roots(question)
    pool = [e for e in ranked
            if e.score >= ranked[0].score - window and e.lexical >= CONFLICT_COVERAGE][:12]
    pairs = []
    for i, a in enumerate(pool):
        for b in pool[i + 1:]:
            if a.article.id != b.article.id and disagree(a.quote, b.quote, topic):
                pairs.append((a, b))
    return pairs


def compose(question: str, ranked: list[Evidence], settings: Settings) -> Draft:
    """Stitch the answer from the best sentences; refuse when none is relevant enough."""
    floor = relevance_floor(question, settings)
    if not ranked or ranked[0].score < floor:
        return refusal()
    best = ranked[0]
    chosen = [best]
    conflicts = find_conflicts(question, ranked, window=0.3)
    notes: list[str] = []
    if conflicts:
        a, b = conflicts[0]
        chosen = [a, b]
    else:
        for e in ranked[1:]:
            if len(chosen) >= settings.max_evidence:
                break
            if e.score < max(floor, best.score - 0.1) or _redundant(e, chosen):
                continue
            chosen.append(e)
    citations = [make_citation(n, e.article, e.chunk_id, Span(e.start, max(e.end, e.ext_end)))
                 for n, e in enumerate(chosen, 1)]
    if conflicts:
        parts: list[str] = []
        for c in citations:
            who = c.source or ("One report" if not parts else "Another report")
            when = f" ({c.date})" if c.date else ""
            parts.append(f"{who}{when}: {c.quote} [{c.n}]")
        text = "The sources give different figures. " + " ".join(parts)
        notes.append(" vs ".join(f"[{c.n}] {c.source or label(c.title)}" for c in citations))
    else:
        text = " ".join(f"{c.quote} [{c.n}]" for c in citations)
    return Draft(text, citations, False, notes)
