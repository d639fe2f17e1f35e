"""Conflicting figures: two sources giving different numbers for the same thing, found in
the evidence whichever answerer wrote the answer, cited on both sides, and described as
structured data (`rag.types.Conflict`) that every surface renders the same way."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rag.text import STOPWORDS
from rag.types import Conflict, ConflictFigure, Draft

if TYPE_CHECKING:
    from rag.answer.evidence import Evidence

_NUM = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?:\s*(million|billion|"
                  r"thousand))?(?![\w])", re.I)
_WORD_NUM = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
             "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "dozen": 12}
_SCALE = {"thousand": 1e3, "million": 1e6, "billion": 1e9}
_NOT_A_COUNT = re.compile(r"^(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)|^(?:19|20)\d\d$",
                          re.I)
_WORD = re.compile(r"[A-Za-z]+")


@dataclass(frozen=True)
class Figure:
    """A number in a sentence with the words around it (what it counts)."""

    value: float
    raw: str
    context: frozenset[str]


def figures(sentence: str) -> list[Figure]:
    """Counts and amounts in a sentence; years, dates and ordinals are not figures.

    Example: [f.value for f in figures("Over 1,200 people were killed on Oct. 7, 2023")]
             == [1200.0]
    """
    out: list[Figure] = []
    for m in _NUM.finditer(sentence):
        raw = m.group(1)
        before = sentence[max(0, m.start() - 12):m.start()]
        if _NOT_A_COUNT.match(raw) or re.search(r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|"
                                                r"Nov|Dec)[a-z]*\.?\s*$", before):
            continue
        value = float(raw.replace(",", "")) * _SCALE.get((m.group(2) or "").lower(), 1)
        out.append(Figure(value, m.group(0), _context(sentence, m.start(), m.end())))
    return out


def _context(sentence: str, start: int, end: int, width: int = 4) -> frozenset[str]:
    before = [w.lower() for w in _WORD.findall(sentence[:start])][-width:]
    after = [w.lower() for w in _WORD.findall(sentence[end:])][:width]
    return frozenset(_root(w) for w in before + after if w not in STOPWORDS and len(w) > 2)


# Words for the same measure, so "killing 1,200" and "1,140 casualties" are compared.
_SAME = {w: "casualty" for w in ("kill", "killed", "killing", "dead", "death", "deaths", "died",
                                 "die", "casualties", "casualty", "fatalities", "lives", "toll")}
_SAME.update({w: "hostage" for w in ("hostage", "hostages", "captive", "captives", "abducted")})
_SAME.update({w: "remain" for w in ("still", "remain", "remains", "remaining", "remained")})


def _root(word: str) -> str:
    if word in _SAME:
        return _SAME[word]
    for suffix in ("ings", "ing", "ies", "es", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def _shared(fa: Figure, fb: Figure, topic: set[str]) -> set[str]:
    """The roots both figures count that the question asks about."""
    return {w for w in fa.context & fb.context
            if any(w.startswith(t[:5]) or t.startswith(w[:5]) for t in topic)}


def measure(sentence: str, roots: set[str]) -> str:
    """What a figure counts, in the sentence's own words: the stretch from its first to its
    last word whose root is in `roots`, figures left out, when that is short; else those
    words alone, in order, each once.

    Example: measure("the remaining 97 hostages held in Gaza", {"remain", "hostage", "gaza"})
             == "remaining hostages held in Gaza"
    """
    words = list(_WORD.finditer(sentence))
    hits = [i for i, m in enumerate(words) if _root(m.group().lower()) in roots]
    if not hits:
        return ""
    stretch = [m.group() for m in words[hits[0]:hits[-1] + 1]]
    if len(stretch) <= 7:
        return " ".join(stretch)
    seen: set[str] = set()
    out = []
    for i in hits:
        w = words[i].group()
        if _root(w.lower()) not in seen:
            seen.add(_root(w.lower()))
            out.append(w)
    return " ".join(out)


def disagree(a: str, b: str, topic: set[str]) -> tuple[Figure, Figure] | None:
    """The first pair of different figures for the same thing in two sentences: their
    surrounding words overlap on a term of the question (`topic`, roots) and the values
    are within a factor of two of each other.

    Example: disagree("97 hostages remain", "129 hostages remain", {"hostag"}) is not None
    """
    for fa in figures(a):
        for fb in figures(b):
            low, high = sorted((fa.value, fb.value))
            # Rival reports of one quantity differ by a margin (97 vs 129, 1,200 vs 1,140);
            # numbers far apart (274 vs 770) count different things.
            if low == high or low <= 0 or high / low > 2.0:
                continue
            if _shared(fa, fb, topic):
                return fa, fb
    return None


def topic_roots(question: str) -> set[str]:
    """The question's words, as roots, for matching what figures count.

    Example: "hostag" in topic_roots("How many hostages remain?")
    """
    return {_root(w.lower()) for w in _WORD.findall(question)
            if w.lower() not in STOPWORDS and len(w) > 2}


CONFLICT_COVERAGE = 0.6


def topic_coverage(topic: set[str], text: str) -> float:
    """Share of the question's roots the text holds, words for one measure counting alike
    ("death toll" ~ "casualties", "still held" ~ "remaining"), so any wording of a question
    finds the same figures.

    Example: topic_coverage(topic_roots("october 7 death toll"),
                            "It started on October 7. It resulted in 1,140 casualties.") == 1.0
    """
    if not topic:
        return 0.0
    have = topic_roots(text)
    found = [t for t in topic if any(h.startswith(t[:5]) or t.startswith(h[:5]) for h in have)]
    return len(found) / len(topic)


@dataclass(frozen=True)
class Disagreement:
    """Two evidence sentences from different articles with different figures for one measure."""

    a: Evidence
    b: Evidence
    fa: Figure
    fb: Figure
    measure: str


def find_conflicts(question: str, ranked: list[Evidence], window: float = 0.3
                   ) -> list[Disagreement]:
    """Pairs of relevant sentences from different articles giving different figures for
    what the question asks about, best pair first. Each quote must itself be about the
    question (hold at least CONFLICT_COVERAGE of its terms, synonyms of one measure
    counting alike): two strikes' tolls found while looking for a war's toll are not a
    disagreement."""
    if not ranked:
        return []
    topic = topic_roots(question)
    pool = [e for e in ranked if e.score >= ranked[0].score - window
            and topic_coverage(topic, e.quote) >= CONFLICT_COVERAGE][:12]
    out = []
    for i, a in enumerate(pool):
        for b in pool[i + 1:]:
            if a.article.id != b.article.id and (pair := disagree(a.quote, b.quote, topic)):
                what = measure(a.quote, _shared(*pair, topic))
                out.append(Disagreement(a, b, pair[0], pair[1], what))
    return out


def reconcile(question: str, draft: Draft, ranked: list[Evidence]) -> Draft:
    """The draft with both sides of the best disagreement in the evidence cited (a side the
    answer left out is added, quoted), and the disagreement as a structured Conflict. The
    same for every answerer, so `Answer.conflicts` has one shape."""
    if draft.refused:
        return draft
    found = find_conflicts(question, ranked)
    if not found:
        return draft
    from rag.answer.citations import Span, make_citation

    d = found[0]
    cites = list(draft.citations)
    notes: list[str] = []
    figures_: list[ConflictFigure] = []
    for e, fig in ((d.a, d.fa), (d.b, d.fb)):
        n = next((c.n for c in cites
                  if c.article_id == e.article.id and c.start <= e.start < c.end), None)
        if n is None:
            n = max((c.n for c in cites), default=0) + 1
            cites.append(make_citation(n, e.article, e.chunk_id,
                                       Span(e.start, max(e.end, e.ext_end))))
            when = f" ({e.article.date})" if e.article.date else ""
            # The attribution the support judge reads as naming a cited source.
            notes.append(f"{e.article.source or 'Another report'}{when}: “{e.quote}” [{n}]")
        figures_.append(ConflictFigure(value=fig.raw, n=n, source=e.article.source,
                                       title=e.article.title, date=e.article.date))
    text = draft.text
    if notes:
        text += " Other reports give different figures. " + " ".join(notes)
    conflict = Conflict(measure=d.measure, figures=figures_)
    return Draft(text, cites, False, [*draft.conflicts, conflict], draft.unsupported)
