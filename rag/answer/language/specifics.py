"""What a question pins down, which its answer must share.

Beyond its answer type (rag/answer/language/question.py), a question names things a quoted answer
has to be
about. An on-topic sentence that differs in one of them answers another question:
- its figures: a sentence about Python 3.11 does not answer "how much faster is 3.12", nor
  one about 2023 a question about 2024;
- its compass words: a strike "in central Gaza" is not the strike "in northern Gaza";
- for a said-question, the speaker ("what did Jordan's king tell Blinken");
- the thing a who-question asks about ("who funds the PyPy project"): when the retrieved
  context never mentions it, the articles do not hold the answer. (A counted noun is not
  pinned: "spectators" are counted as "a crowd of 40,378".)

Pure and deterministic; the compass words are a closed class of English, not data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rag.answer.language.entities import fold, lower_words, wordset
from rag.answer.language.question import Ask
from rag.text import STOPWORDS

_FIGURE = re.compile(r"(?<![\w.,])(\d+(?:[.,]\d+)*)(?:st|nd|rd|th|s|%)?(?![\w])")
_ORDINALS = ("zeroth first second third fourth fifth sixth seventh eighth ninth tenth "
             "eleventh twelfth")
_ORDINAL_WORDS = {w: str(i) for i, w in enumerate(_ORDINALS.split(" "))}
_COMPASS = {"north": "north", "northern": "north", "south": "south", "southern": "south",
            "east": "east", "eastern": "east", "west": "west", "western": "west",
            "central": "central", "northeast": "northeast", "northeastern": "northeast",
            "northwest": "northwest", "northwestern": "northwest", "southeast": "southeast",
            "southeastern": "southeast", "southwest": "southwest", "southwestern": "southwest"}
# Nouns that say what kind of answer is wanted rather than what it is about ("which
# countries", "how many people"): the context need not repeat them.
KIND_NOUNS = wordset("country countries nation nations place places city cities person "
                      "people man men woman women group groups organisation organisations "
                      "organization organizations name names number numbers amount total "
                      "one ones thing things kind type")


def figures(text: str, words: bool = False) -> list[str]:
    """The figures a text gives in digits, without thousands separators, ordinal or percent
    marks; with `words`, ordinal words too ("eighth" -> "8"). Days of the month count.

    Example: figures("Python 3.12 is 20% faster on its 11th try, the eighth since 2,024",
                     words=True) == ["3.12", "20", "11", "2024", "8"]
    """
    out = [m.group(1).replace(",", "") if re.fullmatch(r"\d{1,3}(?:,\d{3})+", m.group(1))
           else m.group(1) for m in _FIGURE.finditer(fold(text))]
    if words:
        out += [_ORDINAL_WORDS[w] for w in lower_words(text) if w in _ORDINAL_WORDS]
    return out


def _has_figure(figure: str, given: Iterable[str]) -> bool:
    """'3' is given by '3.11' (a version of it); '3.12' is not given by '3.11'."""
    return any(g == figure or g.startswith(figure + ".") for g in given)


def missing_figures(question: str, text: str) -> list[str]:
    """The question's figures that the text never gives.

    Example: missing_figures("how much faster is python 3.12 than 3.11",
                             "CPython 3.11 is 25% faster than 3.10") == ["3.12"]
    """
    given = figures(text, words=True)
    return [f for f in figures(question) if not _has_figure(f, given)]


def compass_clash(question: str, text: str) -> bool:
    """Does the text put the question's place in another part of it ("central Gaza" for
    "northern gaza") and never in the asked part?

    Example: compass_clash("the school strike in northern gaza",
                           "a strike on a school in central Gaza killed 17")
             and not compass_clash("strike in northern gaza", "north Gaza was hit")
    """
    q = lower_words(question)
    t = lower_words(text)
    for i, word in enumerate(q[:-1]):
        side = _COMPASS.get(word)
        if side is None:
            continue
        place = q[i + 1]
        sides = {_COMPASS[t[k - 1]] for k in range(1, len(t))
                 if t[k] == place and t[k - 1] in _COMPASS}
        if sides and side not in sides:
            return True
    return False


def pinned_terms(ask: Ask) -> list[str]:
    """The words of what a who- or which-organisation question asks about, which the
    context must mention: its subject, without a relative clause (words of three letters or
    more, not stopwords, not the kind of answer).

    Example: pinned_terms(analyse("who funds the pypy project")) == ["pypy", "project"]
    """
    if ask.type not in ("person", "organisation"):
        return []
    phrase = ask.subject
    # "the us envoy who went to beirut": the relative clause is how it is described
    phrase = re.split(r"\b(?:who|that|which|whom|whose)\b", phrase)[0]
    return [w for w in (re.sub(r"['’]s?$", "", w) for w in lower_words(phrase))
            if len(w) > 2 and w not in STOPWORDS and w not in KIND_NOUNS
            and not w.isdigit()]
