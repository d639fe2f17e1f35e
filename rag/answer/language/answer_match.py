"""Does a sentence hold an answer of the type a question asks for (rag/answer/language/question.py)?

`match` scores a sentence for the asked type: a number attached to the counted noun for a
quantity ("97 hostages", and for "still held" not "250 hostages taken"), a name the question
lacks for a person or organisation, places for a place question (countries from pycountry,
demonyms from countryinfo: "Egyptian" -> Egypt), a date, quoted speech with attribution, an
enumeration. `announces_list` tells a list question to read on to the next sentences
("if specific conditions are met", "the following:"). Pure and deterministic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from rag.answer.language.agency import action, agents, holders, role
from rag.answer.language.entities import MONTHS, WEEKDAYS, Name, fold, lower_words, names, wordset
from rag.answer.language.question import PERSISTENT, Ask
from rag.text import STOPWORDS

# At or above this `match` score a sentence holds an answer of the asked type; below it the
# sentence is at best partial evidence (a number not attached to the counted noun, a list
# only announced) and nothing at 0.
HOLDS = 0.75


@dataclass(frozen=True)
class Match:
    """How well a sentence holds an answer of the asked type (0..1; `HOLDS` and above is an
    answer of that type), and the spans that show it ("97 hostages", "Israel")."""

    score: float
    found: tuple[str, ...] = ()
    # `found` are the doers of the action asked about (rag/answer/language/agency.py)
    agent: bool = False


# Events a count can be of: "taken" hostages are not "freed" ones, nor those "still held".
_TAKEN = wordset("take took taken taking abduct abducted kidnap kidnapped seize seized "
                 "capture captured initially originally")
_FREED = wordset("release released releasing freed free freeing rescue rescued returned "
                 "return")
_EVENT = _TAKEN | _FREED


_NUMWORD = sorted(wordset(
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety "
    "hundred hundreds thousand thousands million millions billion dozen dozens first second "
    "third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth"), key=len, reverse=True)
_NUM = re.compile(r"^(?:\d[\d,.]*(?:st|nd|rd|th|%)?|(?:" + "|".join(_NUMWORD) + r")(?:-\w+)?)$")
# Words for one measure: a question about deaths is answered by "killed 17 people".
_SAME = {"death": "death", "kill": "death", "dead": "death", "die": "death", "casualti": "death",
         "fatal": "death", "toll": "death", "live": "death",
         "hostag": "hostag", "captiv": "hostag", "abduct": "hostag", "kidnap": "hostag",
         "visit": "trip", "trip": "trip", "journey": "trip", "mission": "trip",
         "peopl": "peopl", "civilian": "peopl", "person": "peopl"}


@lru_cache(maxsize=8192)
def _root(word: str) -> str:
    """A word's stem (PyStemmer, as the BM25 index stems), with one measure's words as one
    root ("killed", "deaths" -> "death")."""
    stem = str(_stemmer().stemWord(word.lower()))
    for prefix, root in _SAME.items():
        if stem.startswith(prefix):
            return root
    return stem


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def _tokens(text: str) -> list[str]:
    return re.findall(r"\d[\d,.]*\d(?:st|nd|rd|th|%)?|\d(?:st|nd|rd|th|%)?|[^\W\d_][\w'’-]*",
                      fold(text))


def _not_a_count(low: list[str], i: int) -> bool:
    """Years and days of the month are not counts ('Oct. 7 attack', 'in 2023')."""
    t = low[i]
    if re.fullmatch(r"(?:19|20)\d\d", t):
        return True
    return i > 0 and low[i - 1].rstrip(".") in MONTHS and t.isdigit()


def _quantity(ask: Ask, text: str) -> Match:
    toks = _tokens(text)
    low = [t.lower().rstrip(".,") for t in toks]
    qualifier = set(lower_words(ask.qualifier))
    focus = {_root(w) for w in lower_words(ask.focus)} | (
        {"death"} if {"kill", "killed", "die", "died", "dead"} & qualifier else set())
    wants_now = bool(PERSISTENT & qualifier) or "still" in ask.terms
    events = [e for e in (_TAKEN, _FREED) if e & ask.terms]
    best, found, any_number = 0.0, [], False
    for i, t in enumerate(low):
        parts = t.split("-")
        if not _NUM.match(parts[0]) or _not_a_count(low, i):
            continue
        any_number = True
        # The counted noun within three words after the number ("97 Israeli hostages",
        # "three-member"), or just before it ("killed 17", "toll of 770").
        near = parts[1:] + low[i + 1:i + 4]
        near = near[:next((k for k, w in enumerate(near) if _NUM.match(w)), len(near))]
        before = low[max(0, i - 2):i]
        if not ({_root(w) for w in near + before} & focus):
            continue
        window = set(low[max(0, i - 5):i + 6])
        score = 1.0
        if wants_now and not (window & PERSISTENT):
            # "250 hostages taken" does not say how many are still held.
            score = 0.25 if window & _EVENT else 0.6
        elif events and not any(window & e for e in events) and \
                (window & (_EVENT | PERSISTENT)):
            score = 0.5  # asked how many were taken, told how many were freed or remain
        span = next((k for k, w in enumerate(low[i + 1:i + 4]) if _root(w) in focus), -1)
        if {_root(w) for w in parts[1:]} & focus:  # "three-member"
            text_span = toks[i]
        elif span >= 0:
            text_span = " ".join(toks[i:i + 2 + span])
        else:
            text_span = " ".join(toks[max(0, i - 2):i + 1])
        if score > best:
            best, found = score, [text_span]
        elif score == best:
            found.append(text_span)
    if best:
        return Match(best, tuple(found))
    return Match(0.3 if any_number else 0.0)


# Quoted speech, also cut by the sentence splitter: an opening quote that runs to the end,
# or a closing quote with no opening one.
_QUOTE = re.compile(r"[“\"«]([^”\"»]{12,})(?:[”\"»]|$)|^([^“\"«]{12,})[”\"»]")
_ATTRIB = re.compile(r"\b(?:said|says|say|told|tells|stated|stating|added|adding|warned|noted|"
                     r"wrote|declared|announced|urged|stressed|insisted|posted|tweeted|saying|"
                     r"echoing|according to|in a statement|called for|pleaded|argued)\b", re.I)
_CAUSE = re.compile(r"\b(?:because|due to|as a result|owing to|in order to|so that|since|amid|"
                    r"in response to|in retaliation|following|after|seeking|aimed at|to "
                    r"(?:secure|ensure|avoid|prevent|stop|protect|press|push|allow|help)|"
                    r"blamed|caused|led to|prompted|triggered|reason)\b", re.I)
_MONTH_RE = "|".join(m.capitalize() for m in sorted(MONTHS, key=len, reverse=True))
_DAY_RE = "|".join(w.capitalize() for w in WEEKDAYS)
_DATE = re.compile(rf"\b(?:{_MONTH_RE})\b\.?(?:\s+\d{{1,2}}\b)?|\b(?:{_DAY_RE})\b"
                   r"|\b(?:1[89]|20)\d\d\b|\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b|\b\d{1,2}(?::\d\d)?\s?"
                   r"(?:a\.m\.|p\.m\.|am|pm)\b")
_RELATIVE = re.compile(r"\b(?:yesterday|today|tonight|this (?:week|month|year|morning)|last "
                       r"(?:week|month|year|night)|next (?:week|month|year)|\w+ (?:days?|weeks?|"
                       r"months?|years?) ago|earlier this \w+|recently|for (?:\w+ )?(?:days|"
                       r"weeks|months|years|hours)|over the past \w+ \w+)\b", re.I)


def enumeration(text: str, longest: int = 10) -> list[str]:
    """The items of a list the sentence gives: three or more short parts separated by
    commas or semicolons, the last opened by 'and' or 'or' (an item has at most `longest`
    words; the words before the list are not an item).

    Example: enumeration("They demand a ceasefire, a withdrawal, and aid.")
             == ["They demand a ceasefire", "a withdrawal", "aid"]
    """
    parts = [p.strip() for p in re.split(r"[,;:][\"']?\s+", fold(text).rstrip(" .!?\"'"))]
    best: list[str] = []
    for end, part in enumerate(parts):
        m = re.match(r"(?:and|or)\s+(.+)", part)
        if not m or len(m.group(1).split()) > longest:
            continue
        items = [m.group(1)]
        k = end - 1
        while k >= 0 and len(parts[k].split()) <= longest:
            items.insert(0, parts[k])
            k -= 1
        if k >= 0 and len(items) >= 2:  # the first item ends the words before the list
            items.insert(0, " ".join(parts[k].split()[-longest:]))
        if len(items) > len(best):
            best = items
    # "A, B and C": the last two joined by "and" in one part
    if not best and len(parts) >= 2:
        m = re.match(r"(.+?)\s+(?:and|or)\s+(.+)", parts[-1])
        if m and all(len(p.split()) <= longest for p in parts[-2:]) and \
                len(m.group(2).split()) <= longest:
            best = [" ".join(parts[-2].split()[-longest:]), m.group(1), m.group(2)]
    return best if len(best) >= 3 else []


def announces_list(text: str) -> bool:
    """Does the sentence promise a list that the next sentences give (so a list question
    should read on)? A colon at the end, "the following", "as follows", or conditions,
    demands or terms said to be met or set without being named.

    Example: announces_list("Hamas is ready to stop if specific conditions are met.")
             and not announces_list("Hamas demanded a ceasefire, a withdrawal and aid.")
    """
    t = fold(text).strip()
    if t.endswith(":") or re.search(r"\b(?:the following|as follows|these (?:are|include|"
                                    r"were))\b", t, re.I):
        return True
    return bool(re.search(r"\b(?:if|when|once|provided|unless|until)\b[^.]{0,40}\b(?:conditions|"
                          r"demands|terms|requirements|criteria)\s+(?:are|were|is|have been)\s+"
                          r"(?:met|fulfilled|satisfied|accepted|agreed)|\b(?:set|laid|spelled) "
                          r"out (?:its|his|her|their|the|several|a series of) (?:conditions|"
                          r"demands|terms)\s*[.:]?$", t, re.I))


def _new(ask: Ask, found: list[Name]) -> list[Name]:
    """Names the question does not already contain."""
    return [n for n in found
            if not set(lower_words(n.text)) <= ask.terms and
            lower_words(n.text)[-1] not in ask.terms]


def _names_score(new: list[Name], kinds: dict[str, float], plural: bool) -> Match:
    scored = sorted(((kinds.get(n.kind, 0.0), n.text) for n in new), reverse=True)
    scored = [s for s in scored if s[0] > 0]
    if not scored:
        return Match(0.0)
    top = scored[0][0]
    if plural and len({t.lower() for _s, t in scored}) < 2:  # "Israel ... Israel" is one
        top = min(top, 0.7)
    return Match(top, tuple(t for _s, t in scored))


def match(ask: Ask, text: str) -> Match:
    """How well `text` (one sentence, or a sentence and its follower) holds an answer of the
    asked type: 1 for a clear answer, `HOLDS` and above for an answer, less for partial
    evidence, 0 for none. Open and yes/no questions take any sentence (1).

    Example: match(analyse("how many hostages are still held"),
                   "the remaining 97 hostages held in Gaza").found == ("97 hostages",)
    """
    kind = ask.type
    if kind == "quantity":
        return _quantity(ask, text)
    if kind in ("person", "organisation", "place"):
        new = _new(ask, names(text))
        act = action(ask.question) if kind != "place" else None
        doers = agents(act, text, new) if act else []
        if doers:
            return Match(1.0, tuple(doers), agent=True)
        title = role(ask.question) if kind == "person" and not act else None
        if title:  # "who is israel's defense minister": the name that holds the title
            held = holders(title, text, new)
            return Match(1.0, tuple(held), agent=True) if held else Match(0.3)
        if kind == "person":
            # Any name the question lacks answers a who-question; a person named outright
            # best, then a group or a lone name, then a country ("Who killed Sinwar?" -
            # "Israel's killing of Yahya Sinwar").
            return _names_score(new, {"person": 1.0, "organisation": 0.8, "name": 0.8,
                                      "place": 0.5}, ask.plural)
        if kind == "organisation":
            # A lone unknown name ("Hezbollah") is most often the group asked about.
            return _names_score(new, {"organisation": 1.0, "name": 0.75}, ask.plural)
        countries = ask.focus in ("country", "countries", "nation", "nations")
        out = _names_score([n for n in new if n.kind == "place"],
                           {"place": 1.0}, ask.plural)
        if countries and out.score:
            named = [n for n in new if n.kind == "place" and n.place]
            out = _names_score(named, {"place": 1.0}, ask.plural) if named else \
                Match(0.5, out.found)
        if not out.score:
            prep = re.findall(r"\b(?:in|to|from|at|near|into)\s+((?:[A-Z][\w’'-]+\s?)+)", text)
            prep = [p.strip() for p in prep if not set(lower_words(p)) <= ask.terms
                    and p.split()[0].lower() not in MONTHS | WEEKDAYS]
            return Match(0.6, tuple(prep)) if prep else Match(0.0)
        return out
    if kind == "date":
        found = [m.group(0) for m in _DATE.finditer(text)]
        if found:
            return Match(1.0, tuple(found))
        rel = [m.group(0) for m in _RELATIVE.finditer(text)]
        return Match(0.7 if "how long" not in ask.question.lower() else 1.0, tuple(rel)) \
            if rel else Match(0.0)
    if kind == "said":
        quote = _QUOTE.search(text.strip())
        attrib = _ATTRIB.search(text)
        if quote and attrib:
            return Match(1.0, (quote.group(0),))
        speaker = [w for w in lower_words(ask.focus) if w not in STOPWORDS and len(w) > 2]
        if attrib:
            by_speaker = any(w in lower_words(text) for w in speaker)
            return Match(0.8 if by_speaker else 0.6, (attrib.group(0),))
        return Match(0.5, (quote.group(0),)) if quote else Match(0.0)
    if kind == "list":
        items = enumeration(text)
        if len(items) >= 3:
            return Match(1.0, tuple(items))
        if announces_list(text):
            return Match(0.5, ())
        pair = re.search(r"\b\w+[^,.;]{0,60}\s(?:and|or)\s[^,.;]{3,}", text)
        return Match(0.4, (pair.group(0),)) if pair else Match(0.0)
    if kind == "reason":
        cause = _CAUSE.search(text)
        return Match(1.0, (cause.group(0),)) if cause else Match(0.5)
    return Match(1.0)
