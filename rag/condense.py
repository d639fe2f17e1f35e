"""Follow-up questions into standalone ones. The LLM rewrites when there is one (see
generative.py); this is the deterministic rewrite used otherwise, and as the LLM's fallback."""

from __future__ import annotations

import re

from rag.types import Turn

_PERSON_PRONOUN = re.compile(r"\b(he|she|him|her|his|hers)\b", re.I)
_OTHER_PRONOUN = re.compile(r"\b(they|them|their|it|its)\b", re.I)
_DEMONSTRATIVE = re.compile(r"\b(that|this|these|those|the same)\s+([a-z][\w-]*)", re.I)
_SUBJECT = re.compile(r"^\s*(?:who|what)\s+(?:is|was|are|were)\s+(.+?)\s*\??\s*$", re.I)
_NAME = re.compile(r"\b[A-Z][a-z]+(?:\s+(?:[A-Z][a-z]+|de|al|bin|van|von))*\s+[A-Z][a-z]+\b")


def needs_context(question: str) -> bool:
    """A question that leans on earlier turns: pronouns or 'that X' with nothing to bind to.

    Example: needs_context("What did he call for?") is True
    """
    return bool(_PERSON_PRONOUN.search(question) or _OTHER_PRONOUN.search(question)
                or _DEMONSTRATIVE.search(question))


def _referent(history: list[Turn]) -> str | None:
    """What a pronoun most likely points at: a person named in the last answer, else the
    subject of the last 'who/what is X' question, else the last question itself."""
    users = [t.content for t in history if t.role == "user"]
    answers = [t.content for t in history if t.role == "assistant"]
    if answers:
        m = _NAME.search(answers[-1])
        if m:
            return m.group(0)
    if users:
        m = _SUBJECT.match(users[-1])
        if m:
            return m.group(1)
    return None


def rewrite(question: str, history: list[Turn]) -> str:
    """Standalone form of a follow-up: pronouns and 'that X' bound to the last turns;
    unresolved, the last question is kept alongside so retrieval has its terms.

    Example: rewrite("What did he call for?", [Turn(role="user", content="Who is the head
             of UNRWA?")]) == "What did the head of UNRWA call for?"
    """
    if not history or not needs_context(question):
        return question
    earlier = " ".join(t.content for t in history if t.role == "user")
    changed = question
    m = _DEMONSTRATIVE.search(changed)
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
    ref = _referent(history)
    if ref and _PERSON_PRONOUN.search(changed):
        ref_poss = ref + ("'" if ref.endswith("s") else "'s")
        changed = _PERSON_PRONOUN.sub(
            lambda p: ref_poss if p.group(1).lower() in ("his", "hers") else ref, changed, 1)
    if changed != question:
        return changed
    last = next((t.content for t in reversed(history) if t.role == "user"), "")
    return f"{question} (about: {last.strip()})" if last else question
