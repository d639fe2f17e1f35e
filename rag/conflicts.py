"""Conflicting figures: two sources giving different numbers for the same thing."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.text import STOPWORDS

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


def _root(word: str) -> str:
    if word in _SAME:
        return _SAME[word]
    for suffix in ("ings", "ing", "ies", "es", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


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
            shared = {w for w in fa.context & fb.context
                      if any(w.startswith(t[:5]) or t.startswith(w[:5]) for t in topic)}
            if shared:
                return fa, fb
    return None


def topic_roots(question: str) -> set[str]:
    """The question's words, as roots, for matching what figures count.

    Example: "hostag" in topic_roots("How many hostages remain?")
    """
    return {_root(w.lower()) for w in _WORD.findall(question)
            if w.lower() not in STOPWORDS and len(w) > 2}
