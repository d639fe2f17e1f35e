"""Example questions for a new user: questions an article answers, made from its sentences
(a figure and what it counts; a person and the role beside their name), never written by
hand. The service keeps only those its answerer answers with a citation, and caches them.

Pure functions, no model: candidates are cheap, the check by asking is what makes them true.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from rag.text import split_sentences

VERSION = 3  # of the way questions are made and checked: a new one remakes cached examples

_NUMBER = (r"(?:\d[\d,.]*(?:\s(?:million|billion|thousand))?|two|three|four|five|six|seven|"
           r"eight|nine|ten|eleven|twelve|dozens|hundreds|thousands)")
_WORD = r"[A-Za-z][\w’'-]*"
# "18 people were killed", "97 hostages held in Gaza", "2.3 million Palestinians displaced",
# "129 remaining captives in Gaza": a count, the plural thing it counts, then what happened
# to them (a passive verb) and/or where (a place).
_FIGURE = re.compile(
    rf"\b{_NUMBER}\s(?!of\s)(?P<np>(?:[a-z][\w-]*\s|[A-Z][a-z]+\s)?"
    rf"(?:[a-z][\w-]*s|people|children))\b"
    rf"(?P<verb>\s(?:were|was|are|had been|have been|remain|remained)\s[a-z]+(?:ed|en)\b"
    rf"|\s(?:held|killed|wounded|injured|displaced|taken|freed|released|arrested|detained)\b)?"
    rf"(?P<place>\s(?:in|by|from|near|at)\s(?:the\s)?[A-Z][\w’'-]*(?:\s[A-Z][\w’'-]*)*)?")
# "Yahya Sinwar, a top Hamas leader," / "John Kirby, spokesman for ...": a full name with
# a description after the comma.
_PERSON = re.compile(
    r"(?<![\w.])(?P<name>[A-Z][a-z]+(?:\s[A-Z][a-z'-]+){1,2}),\s(?:a|an|the|[a-z]+(?:man|"
    r"woman|er|or|ist|ent|ant|ary|chief|head))\s")
_NOT_NAMES = frozenset(
    ["of", "on", "in", "at", "after", "before", "since", "during", "amid", "under", "the", "a",
     "an", "and", "but", "while", "when", "monday", "tuesday", "wednesday", "thursday", "friday",
     "saturday", "sunday", "january", "february", "march", "april", "may", "june", "july",
     "august", "september", "october", "november", "december", "last", "this", "next"])


def figure_question(sentence: str) -> str | None:
    """A "how many" question about the first figure in the sentence that counts something
    and says what happened to it or where.

    Example: figure_question("18 people were killed in Rafah.")
             == "How many people were killed in Rafah?"
    """
    for m in _FIGURE.finditer(sentence):
        verb, place = m.group("verb") or "", m.group("place") or ""
        if not verb and not place:
            continue  # "1,140 casualties" alone is no question a person would ask
        if not place and m.group("np").islower():
            # "How many people were killed?" names nothing: every article could answer it
            continue
        verb = verb.strip()
        if verb and verb.split()[0] not in ("were", "was", "are", "had", "have", "remain",
                                            "remained"):
            verb = "were " + verb  # "hostages held" -> "hostages were held"
        elif not verb:
            verb = "are"
        return " ".join(f"How many {m.group('np')} {verb}{place}?".split())
    return None


def person_question(sentence: str) -> str | None:
    """A "who is" question about a person the sentence describes beside their name.

    Example: person_question("After Yahya Sinwar, a Hamas leader, died") == "Who is Yahya Sinwar?"
    """
    for m in _PERSON.finditer(sentence):
        name = m.group("name").split()
        while name and name[0].lower() in _NOT_NAMES:  # "On Thursday", "After Yahya Sinwar"
            name.pop(0)
        if len(name) >= 2:
            return f"Who is {' '.join(name)}?"
    return None


def candidates(text: str, per_article: int = 4) -> list[str]:
    """Up to `per_article` different questions from an article's sentences, alternating a
    figure and a person, in the order the article gives them.

    Example: candidates("Rangers counted 412 crocodiles waiting at the crossing in Kenya.") == []
    """
    sentences = [s.text for s in split_sentences(text[:20000])]
    made = [[q for s in sentences if (q := make(s))] for make in (figure_question,
                                                                  person_question)]
    found: list[str] = []
    for q in interleave(made):
        if q not in found:
            found.append(q)
    return found[:per_article]


def interleave(groups: Iterable[list[str]]) -> Iterator[str]:
    """The first of every group, then the second of every group, ...: examples that cover
    several articles before a second one from any.

    Example: list(interleave([["a1", "a2"], ["b1"]])) == ["a1", "b1", "a2"]
    """
    lists = [list(g) for g in groups]
    for i in range(max((len(g) for g in lists), default=0)):
        yield from (g[i] for g in lists if i < len(g))


def _content(question: str) -> frozenset[str]:
    return frozenset(w for w in re.findall(r"[a-z0-9]+", question.lower())
                     if w not in _NOT_NAMES and w not in ("how", "many", "who", "is", "were",
                                                          "was", "are", "held", "remain"))


def distinct(questions: Iterable[str], overlap: float = 0.5) -> Iterator[str]:
    """The questions without near-repeats: one that shares `overlap` or more of its content
    words with an earlier one is left out.

    Example: list(distinct(["How many hostages are in Gaza?", "How many hostages were held in
             Gaza?", "Who is Ada Lovelace?"])) == ["How many hostages are in Gaza?",
             "Who is Ada Lovelace?"]
    """
    seen: list[frozenset[str]] = []
    for q in questions:
        words = _content(q)
        if any(len(words & w) >= overlap * min(len(words), len(w)) for w in seen if w):
            continue
        seen.append(words)
        yield q


def pick(questions: Iterable[str], answered: Callable[[str], bool], n: int,
         max_tries: int) -> list[str]:
    """The first `n` questions `answered` accepts, asking at most `max_tries` of them.

    Example: pick(["a?", "b?", "c?"], lambda q: q != "a?", 1, 3) == ["b?"]
    """
    out: list[str] = []
    for tries, q in enumerate(questions):
        if len(out) >= n or tries >= max_tries:
            break
        if answered(q):
            out.append(q)
    return out


def cache_key(*parts: object) -> str:
    """What the cached examples depend on: the store's version stamp and anything that
    changes answers.

    Example: cache_key("v1", 4) != cache_key("v2", 4)
    """
    return hashlib.sha256(json.dumps([str(p) for p in parts]).encode()).hexdigest()[:24]


def peek(path: Path, key: str) -> list[str] | None:
    """The questions kept in `path` under `key`, or None when there are none for that key
    (or the cache cannot be read)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("key") == key and isinstance(data.get("questions"), list):
            return [str(q) for q in data["questions"]]
    except (OSError, ValueError, AttributeError):
        pass
    return None


def cached(path: Path, key: str, make: Callable[[], list[str]]) -> list[str]:
    """`make()`'s questions, kept in `path` under `key` so a restart does not ask them
    again; a cache that cannot be read or written is simply not used."""
    kept = peek(path, key)
    if kept is not None:
        return kept
    questions = make()
    with contextlib.suppress(OSError):
        path.write_text(json.dumps({"key": key, "questions": questions}), encoding="utf-8")
    return questions
