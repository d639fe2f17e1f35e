"""Who did it: the agent of the action a who-question asks about.

"who killed Yahya Sinwar" is answered by the name that did the killing, not by any name near
it: "Israel's killing of Yahya Sinwar", "was killed by Israeli troops", "the main team is
funded by Microsoft", "Author: Andrew Dalke". `action` reads the verb a who-question asks
about; `agents` finds the names a sentence puts in the doer's place: before the verb or its
-ing noun, after "by" following it, or right after the doer's noun ("Author:", "leader").
`role` and `holders` do the same for "who is X's <title>": the name the text gives that
title, with its words and its owner ("Israeli Defense Minister Yoav Gallant").

The irregular verbs and doer nouns below are a small documented grammar of English, not
data. Pure and deterministic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from rag.answer.language.entities import Name, country_of, fold, is_title

# past forms that do not share the verb's stem, and the nouns for the one who does it
_IRREGULAR = {"wrote": "write", "written": "write", "led": "lead", "paid": "pay",
              "won": "win", "took": "take", "taken": "take", "made": "make", "built": "build",
              "sent": "send", "began": "begin", "begun": "begin", "chose": "choose",
              "chosen": "choose", "gave": "give", "given": "give", "held": "hold",
              "bought": "buy", "brought": "bring", "sold": "sell", "shot": "shoot",
              "struck": "strike", "drew": "draw", "drawn": "draw", "ran": "run",
              "founded": "found", "met": "meet", "told": "tell", "did": "do"}
_FORMS = {"write": ("wrote", "written", "author", "authored"),
          "lead": ("led", "head", "heads", "headed", "chief"),
          "pay": ("paid", "fund", "funds", "funded", "funding", "sponsor", "sponsored", "donor",
                  "donors", "financed"),
          "fund": ("paid", "sponsor", "sponsored", "financed", "donor", "donors"),
          "kill": ("assassinated", "assassination"),
          "found": ("founder", "established", "created"),
          "create": ("creator", "created", "invented", "inventor", "author", "written",
                     "wrote", "designed", "designer", "developed"),
          "invent": ("inventor", "invented", "creator", "created", "author", "written", "wrote",
                     "designed", "designer", "developed"),
          "replace": ("succeed", "succeeded", "succeeds", "successor", "replacement"),
          "win": ("won", "winner", "victory")}
# the doer's nouns that ask for the doer of an act: "who is the author of X" = "who wrote X"
_DOER_OF = {"author": "write", "authors": "write", "writer": "write", "creator": "create",
            "inventor": "invent", "founder": "found", "founders": "found", "sponsor": "pay",
            "funder": "fund", "killer": "kill", "successor": "replace", "winner": "win"}
_WH_WORDS = frozenset(("what", "which", "when", "where", "why", "how", "whose"))
_AUX = frozenset(("is", "are", "was", "were", "has", "have", "had", "will", "would", "be",
                  "been"))
_PREPOSITIONS = frozenset(("in", "at", "on", "from", "near", "of", "to", "into", "across",
                           "inside", "outside", "over", "with"))
_DO = frozenset(("did", "does", "do"))
_BE = frozenset(("is", "are", "was", "were"))
# the doer's nouns, and titles, are followed by the doer's name ("Author: X", "leader X")
_DOER_NOUN = re.compile(r"(?:er|or|ers|ors|ief|ead)$")


@dataclass(frozen=True)
class Action:
    """The verb a who-question asks about: its stem and the words that express it."""

    verb: str
    words: tuple[str, ...]


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=512)  # read once per question, not once per candidate sentence
def action(question: str) -> Action | None:
    """The action a who-question asks about; None for "who is X" (a role, not an act).

    Example: action("who wrote the sorting howto").verb == "write"
             and action("Who was behind the killing of Sinwar?").verb == "kill"
             and action("python inventor").verb == "invent"
             and action("who is israel's defense minister") is None
    """
    low = re.sub(r"^(who)'s\b", r"\1 is", fold(question).lower().strip())
    toks = re.findall(r"[a-z][\w'-]*", low)
    keyword = doer_noun(toks)
    if keyword:  # "python inventor"
        verb = str(_stemmer().stemWord(_DOER_OF[keyword]))
        return Action(verb, (verb, *_forms().get(verb, ())))
    if not toks or toks[0] not in ("who", "whom"):
        return None
    asked = re.match(r"who (?:is|was|are|were) (?:the |an? )?(\w+) of\b", low)
    if asked and asked.group(1) in _DOER_OF:  # "who is the author of the howto"
        verb = str(_stemmer().stemWord(_DOER_OF[asked.group(1)]))
        return Action(verb, (verb, *_forms().get(verb, ())))
    rest = toks[1:]
    if rest[:1] and rest[0] in _DO:
        return None  # "whom did Blinken meet": the doer is named, the one met is asked
    while rest and rest[0] in _AUX:
        rest = rest[1:]
    if rest[:1] == ["behind"]:
        rest = [t for t in rest[1:] if t not in ("the", "a", "an")]
    if not rest or rest[0] in ("the", "a", "an") or rest[0].endswith(("'s", "’s")):
        return None
    if toks[1] in _BE and not (toks[2:3] == ["behind"] or rest[0].endswith("ing")):
        return None  # "who was killed" asks for the one it was done to; "who was X", a role
    verb = _IRREGULAR.get(rest[0]) or str(_stemmer().stemWord(rest[0]))
    return Action(verb, (verb, *_forms().get(verb, ())))


def doer_noun(toks: list[str]) -> str:
    """The doer's noun a keyword query ends on, or '' ("python inventor", "hamas founders"):
    a query of a few words, no wh-word, no verb first ("do authors need to register"), the
    noun last or before "of" ("killer drones gaza" and "sponsor a child" name no doer).

    Example: doer_noun(["python", "inventor"]) == "inventor" and not doer_noun(["killer",
             "drones", "gaza"])
    """
    if not toks or len(toks) > 5 or _WH_WORDS & set(toks) or toks[0] in _AUX | _DO:
        return ""
    for i, t in enumerate(toks):
        noun = t if t in _DOER_OF else t[:-1] if t.endswith("s") and t[:-1] in _DOER_OF else ""
        if noun and ((i > 0 and i == len(toks) - 1) or toks[i + 1:i + 2] == ["of"]):
            return noun
    return ""


@lru_cache(maxsize=1)
def _forms() -> dict[str, tuple[str, ...]]:
    """_FORMS keyed by stem, as `action` reads verbs ("replaced" -> "replac")."""
    return {str(_stemmer().stemWord(k)): v for k, v in _FORMS.items()}


def _expresses(word: str, act: Action) -> bool:
    w = word.lower()
    if "-" in w and any(_expresses(part, act) for part in w.split("-") if part):
        return True  # "co-founder", "Commissioner-General"
    return w in act.words or _IRREGULAR.get(w) == act.verb or (
        len(act.verb) >= 3 and w.startswith(act.verb) and len(w) - len(act.verb) <= 4)


def mentions(act: Action, text: str) -> bool:
    """Does the text use a word for the action at all (a cheap test before `agents`)?

    Example: mentions(action("who wrote it"), "Author: A. Dalke") and not mentions(
             action("who wrote it"), "It sorts lists.")
    """
    return any(_expresses(w, act) for w in re.findall(r"[^\W\d_][\w'’-]*", text))


_TOKEN = re.compile(r"[^\W\d_][\w'’-]*")


def agents(act: Action, text: str, names: list[Name]) -> list[str]:
    """The names the text puts in the doer's place for the action: right after the doer's
    noun ("Author: X"), after "by" following the act ("killed by X"), or right before the
    act's verb or -ing noun ("Israel's killing of", "Israeli forces killed"); not a place the
    act happened in ("a strike in Lebanon killed"), nor a name before a doer's noun ("Hamas
    leader" does not lead Hamas). Each name reads only the words next to it.

    Example: agents(action("who killed yahya sinwar"),
                    "in the wake of Israel's killing of Yahya Sinwar", names(...)) == ["Israel"]
    """
    found: list[str] = []
    for n in names:
        left = text[max(0, n.start - 40):n.start]
        before = _TOKEN.findall(left)[-3:]
        possessive = text[n.end:n.end + 2] in ("'s", "’s")
        end = n.end + (2 if possessive else 0)
        after_spans = [(m.start(), m.group(0)) for m in _TOKEN.finditer(text[end:end + 40])][:3]
        # "Israel's killing", not "User Guide: Creating": nothing but a space between
        joined = bool(after_spans) and bool(re.fullmatch(r"\s+", text[end:end + after_spans[0][0]]))
        after = [w for _s, w in after_spans] if joined else []
        doer = (
            (before and _expresses(before[-1], act) and _DOER_NOUN.search(before[-1].lower())
             and not re.search(r"\bof\s*$", left, re.I))
            or (len(before) >= 2 and before[-1].lower() in ("by", "the") and
                any(_acted(w, act) for w in before[-3:-1]) and
                re.search(r"\bby\s+(?:the\s+)?$", left, re.I))
            or (after and (possessive or not (before and before[-1].lower() in _PREPOSITIONS))
                and (_acted(after[0], act) or
                     (len(after) > 1 and (after[0].lower() in ("has", "had", "then") or
                                          after[0].islower()) and _acted(after[1], act))))
        )
        if doer and n.text not in found:
            found.append(n.text)
    return found


def _acted(word: str, act: Action) -> bool:
    """The act's verb or -ing noun, not its doer's noun ("killing", not "leader")."""
    return _expresses(word, act) and not _DOER_NOUN.search(word.lower()) and \
        not word.lower().endswith("ship")


@dataclass(frozen=True)
class Title:
    """The title a "who is X's <title>" question asks the holder of: its head noun, the
    words before it ("defense"), and whose title it is ("israel"), if said."""

    head: str
    modifiers: tuple[str, ...] = ()
    owner: str = ""


def role(question: str) -> Title | None:
    """The title a "who is X's <title>" question asks the holder of; None for an act or a
    person asked about by name.

    Example: role("who is israel's defense minister") == Title("minister", ("defense",),
             "israel") and role("Who is the head of UNRWA?").head == "head"
             and role("who is amos hochstein") is None
    """
    m = re.match(r"who(?:'s| is| was| are| were)\s+(.*)", fold(question).lower().strip(" ?"))
    if not m:
        return None
    phrase = re.split(r"\b(?:who|that|which|whom|whose|of|in|for|at|from)\b", m.group(1))[0]
    words = re.findall(r"[a-z][\w'-]*", phrase)
    if not words or not is_title(words[-1]):
        return None
    owner = next((w[:-2] for w in words if w.endswith("'s")), "")
    mods = tuple(w for w in words[:-1] if not w.endswith("'s") and
                 w not in ("the", "a", "an", "current", "new", "former", "their", "its"))
    return Title(words[-1], mods, owner)


def _same(a: str, b: str) -> bool:
    """One word, or one country's names ("U.S." and "us", "Qatari" and "qatar")."""
    return a.rstrip("s") == b.rstrip("s") or (country_of(a) or "?") == country_of(b)


def holders(title: Title, text: str, names: list[Name]) -> list[str]:
    """The names the text gives the title, with its words and its owner: right after it
    ("Israeli Defense Minister Yoav Gallant", "U.S. envoy Amos Hochstein") or after the name
    and a comma ("Philippe Lazzarini, head of"). Qatar's prime minister does not hold
    "Qatar's foreign minister", nor Iran's foreign minister.

    Example: holders(role("who is israel's defense minister"),
                     "Israeli Defense Minister Yoav Gallant said", names(...)) == ["Yoav Gallant"]
    """
    found = []
    for n in names:
        before = re.findall(r"[\w'.-]+", fold(text[max(0, n.start - 60):n.start]).lower())[-5:]
        after = re.match(r",\s+((?:[\w'.-]+\s+){0,6}[\w'.-]+)",
                         fold(text[n.end:n.end + 80]).lower())
        for window in (before, after.group(1).split() if after else []):
            words = [w.removesuffix("'s") for w in window]
            if not any(_same(w, title.head) for w in words) or \
                    not all(any(_same(w, m) for w in words) for m in title.modifiers):
                continue
            if title.owner and not any(_same(w, title.owner) for w in words):
                continue
            if n.kind in ("person", "name") and n.text not in found:
                found.append(n.text)
    return found
