"""Follow-up questions into standalone ones. The LLM rewrites when there is one (see
generative.py); this is the deterministic rewrite used otherwise, and as the LLM's fallback.

He/she/him/his/her bind to the most recent person in the conversation, it/its/they/them/
their to the most recent organisation, country or thing; both prefer what the previous
question was about. People, organisations and places are told apart by
rag/answer/language/entities.py
(names with titles, pycountry/countryinfo places, organisation suffixes). Pronouns carry no
gender here: "she" binds to the last person as "he" does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.answer.language.entities import Name, is_demonym, names
from rag.answer.language.question import analyse
from rag.text import STOPWORDS
from rag.types import Turn

_PERSON_PRONOUN = re.compile(r"\b(he|she|him|her|his|hers)\b", re.I)
_OTHER_PRONOUN = re.compile(r"\b(they|them|their|it|its)\b", re.I)
_DEMONSTRATIVE = re.compile(r"\b(that|this|these|those|the same)\s+([a-z][\w-]*)", re.I)
_POSSESSIVE = {"his", "hers", "its", "their"}
# "it" that points at nothing: "is it true", "how long did it take".
_EXPLETIVE = re.compile(r"\bit\s+(?:is|was)\s+(?:true|possible|likely|clear|known|reported|"
                        r"said|expected)\b|\bit\s+take|\bis\s+it\s+(?:true|possible|likely)\b",
                        re.I)
# A pronoun after these, with a name earlier in the question, is that name ("Did Hamas say
# when it would ...", "Hamas said it ...").
_BINDS = re.compile(r"\b(?:when|if|whether|that|because|after|before|until|once|say|says|said|"
                    r"claim|claims|claimed|announce|announced)\s+$", re.I)
# "that" as a conjunction, not "that cabinet": after a verb of saying or an adjective.
_CONJ_THAT = re.compile(r"\b(?:true|false|said|say|says|claimed|reported|announced|clear|"
                        r"known|believe|think|hope|fear|warned|noted|added|so|such|now|"
                        r"possible|likely)\s+$", re.I)


@dataclass(frozen=True)
class _Pronoun:
    word: str
    start: int
    end: int
    person: bool
    possessive: bool


def _pronouns(question: str) -> list[_Pronoun]:
    """The pronouns that point outside the question: not expletive 'it', and not bound to
    a name earlier in the question ('Did Hamas say when it would ...', 'What did Netanyahu
    say about his cabinet?')."""
    found = names(question)
    subject = analyse(question).subject
    out: list[_Pronoun] = []
    for pattern, person in ((_PERSON_PRONOUN, True), (_OTHER_PRONOUN, False)):
        for m in pattern.finditer(question):
            word = m.group(1).lower()
            if not person and word == "it" and _EXPLETIVE.search(question[max(0, m.start() - 8):
                                                                           m.end() + 12]):
                continue
            # A person pronoun binds to a person named before it, or to a lone name that
            # is the question's subject ("What did Netanyahu say about his cabinet?").
            before = [n for n in found if n.end <= m.start() and
                      (n.kind == "person" or (n.kind == "name" and n.text in subject)
                       if person else n.kind != "person")]
            if before and (word in _POSSESSIVE or _possessive_her(question, m) or
                           _BINDS.search(question[:m.start()])):
                continue
            out.append(_Pronoun(word, m.start(), m.end(), person,
                                word in _POSSESSIVE or _possessive_her(question, m)))
    return sorted(out, key=lambda p: p.start)


def _possessive_her(question: str, m: re.Match[str]) -> bool:
    """'her role' (possessive), not 'ask her about' (object)."""
    nxt = re.match(r"\s+([A-Za-z][\w-]*)", question[m.end():])
    if m.group(1).lower() != "her" or nxt is None:
        return False
    return nxt.group(1).lower() not in STOPWORDS


def needs_context(question: str) -> bool:
    """A question that leans on earlier turns: pronouns or 'that X' with nothing to bind to
    in the question itself.

    Example: needs_context("What did he call for?") and not needs_context(
             "What did Netanyahu say about his cabinet?")
    """
    return bool(_pronouns(question) or _demonstrative(question))


def _demonstrative(question: str) -> re.Match[str] | None:
    for m in _DEMONSTRATIVE.finditer(question):
        if m.group(2).lower() not in STOPWORDS and not _CONJ_THAT.search(question[:m.start()]):
            return m
    return None


def _known_people(history: list[Turn]) -> frozenset[str]:
    """Last names of the people named in full anywhere in the conversation ('Yahya Sinwar'
    makes a later 'Sinwar' a person)."""
    out = set()
    for t in history:
        out |= {n.text.split()[-1].lower() for n in names(t.content)
                if n.kind == "person" and " " in n.text}
    return frozenset(out)


def _usable(phrase: str) -> bool:
    return bool(phrase) and not re.search(r"\b(?:he|she|him|his|her|it|its|they|them|their|"
                                          r"this|that|these|those)\b", phrase, re.I)


def _person(history: list[Turn], known: frozenset[str]) -> list[str]:
    """Whom he/she/his/her most likely means, best first: the previous question's person
    (its subject, or the person its answer names when it asked who holds a role), then the
    people named in the conversation, most recent first."""
    out: list[str] = []
    users = [i for i, t in enumerate(history) if t.role == "user"]
    if users:
        last = history[users[-1]].content
        ask = analyse(last)
        in_question = [n.text for n in names(last, known) if n.kind == "person"]
        if ask.type == "person" and not in_question and _usable(ask.subject):
            # "Who is the head of UNRWA?": the answer's person, else the role as asked;
            # "who is amos hochstein": the subject is the person.
            out += [n.text for t in history[users[-1] + 1:] if t.role == "assistant"
                    for n in names(t.content, known) if n.kind == "person"]
            if not any(n.text == ask.subject and n.kind in ("organisation", "place")
                       for n in names(ask.subject)):  # "Who leads UNRWA?": not UNRWA
                out.append(ask.subject)
        out += sorted(in_question, key=lambda p: p.lower() not in ask.subject.lower())
        # "Where did Blinken begin his trip?": a lone name as the subject is taken for a
        # person before the people its answer mentions.
        out += [n.text for n in names(last, known) if n.kind == "name" and
                n.text in ask.subject]
    for t in reversed(history):
        out += [n.text for n in names(t.content, known) if n.kind == "person"]
    # A lone name ("What did Netanyahu say?") may be a person when nothing else is.
    for t in reversed(history):
        if t.role == "user":
            out += [n.text for n in names(t.content, known) if n.kind == "name"]
    return out


def _thing(history: list[Turn], known: frozenset[str]) -> list[str]:
    """What it/its/they/their most likely means, best first: the previous question's
    subject when it is not a person (or, when it asked which country or group, the one its
    answer names), then organisations, countries and other names, most recent first."""
    out: list[str] = []
    users = [i for i, t in enumerate(history) if t.role == "user"]
    if users:
        last = history[users[-1]].content
        found = names(last, known)
        ask = analyse(last)
        if ask.type in ("place", "organisation"):
            out += [w for t in history[users[-1] + 1:] if t.role == "assistant"
                    for w in _things(names(t.content, known), ask.type)]
        people = [n.text.lower() for n in found if n.kind == "person"]
        subject = ask.subject
        # A demonym alone ("egyptian" in "what deal did egyptian officials suggest") is
        # an adjective, not the thing asked about.
        if _usable(subject) and subject.lower() not in STOPWORDS and \
                not is_demonym(subject) and not any(p in subject.lower() for p in people):
            out.append(subject)
        out += _things(found)
    for t in reversed(history):
        out += _things(names(t.content, known))
    return out


def _things(found: list[Name], kind: str = "") -> list[str]:
    """Organisations, places and unknown names (only `kind` when given); a demonym stands
    for its country ("Qatari mediators" -> Qatar)."""
    return [n.place if n.place and is_demonym(n.text) else n.text for n in found
            if n.kind in ((kind,) if kind else ("organisation", "place", "name"))]


def _possessive(ref: str) -> str:
    return ref + ("'" if ref.endswith("s") else "'s")


def _bind(question: str, history: list[Turn]) -> str:
    """Each class of pronoun's first free occurrence replaced by its referent."""
    known = _known_people(history)
    free = _pronouns(question)
    firsts = {p.person: p for p in reversed(free)}
    refs: dict[bool, str] = {}
    # The thing first: a name both could take ("Hamas") goes to it/they, and he/him then
    # takes the next person ("What did they ask him?").
    for person in sorted(firsts):
        taken = set(refs.values())
        cands = _person(history, known) if person else _thing(history, known)
        ref = next((c for c in cands if c not in taken), None)
        if ref:
            refs[person] = ref
    edits: list[tuple[int, int, str]] = []
    for person, p in firsts.items():
        ref = refs.get(person)
        if not ref:
            continue
        text = _possessive(ref) if p.possessive else ref
        if p.start == 0 or question[:p.start].strip() == "":
            text = text[0].upper() + text[1:]
        edits.append((p.start, p.end, text))
    for start, end, text in sorted(edits, reverse=True):
        question = question[:start] + text + question[end:]
    return question


def rewrite(question: str, history: list[Turn]) -> str:
    """Standalone form of a follow-up: pronouns and 'that X' bound to the last turns;
    unresolved, the last question is kept alongside so retrieval has its terms. A
    question that needs nothing from the conversation is returned as it is.

    Example: rewrite("What did he call for?", [Turn(role="user", content="Who is the head
             of UNRWA?")]) == "What did the head of UNRWA call for?"
    """
    if not history or not needs_context(question):
        return question
    earlier = " ".join(t.content for t in history if t.role == "user")
    changed = question
    m = _demonstrative(changed)
    if m:
        noun = m.group(2)
        # "that cabinet" -> "the War Cabinet": the noun with its capitalised modifiers.
        phrase = re.search(rf"((?:\b[Tt]he\s+)?(?:[A-Z][\w-]*\s+)*(?i:{re.escape(noun)})\w*)",
                           earlier)
        if phrase:
            found = phrase.group(1)
            if not found.lower().startswith("the "):
                found = "the " + found
            changed = changed[:m.start()] + found + changed[m.end():]
    changed = _bind(changed, history)
    if changed != question and not needs_context(changed):
        return changed
    # A pronoun is left unbound ("What did they say about it?" binds "they" only): keep the
    # last question alongside so retrieval still has its terms.
    last = next((t.content for t in reversed(history) if t.role == "user"), "")
    return f"{changed} (about: {last.strip()})" if last else changed
