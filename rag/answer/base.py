"""Answerers behind one small interface, chosen by name from a registry (like `Embedder`):
`extractive` quotes the best evidence sentences (rag/answer/extractive/); `llm` has a language
model write the answer and grounds every sentence of it (rag/answer/llm/). The refusal gate
and conflicts are the service's, shared. The registry names each answerer's door by module
path, so this file imports no answerer and adding one touches only its own folder and this
table."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import import_module
from typing import Protocol

from rag.answer.evidence import Evidence
from rag.settings import Settings
from rag.types import Draft, Hit, Turn


class Answerer(Protocol):
    """What every answerer implements."""

    name: str  # what Answer.backend shows
    version: str  # what a cache of its answers keys on (the extractive scorer's weights)
    # Asks a two-part question part by part (rag/answer/language/question.py split_question):
    # a model reads both parts at once, sentence selection answers one question at a time.
    answers_in_parts: bool

    def floor(self, question: str) -> float:
        """The best evidence score below which the question is refused before answering."""
        ...

    def answer(self, question: str, hits: list[Hit], ranked: list[Evidence]
               ) -> Iterator[str | Draft]:
        """Tokens as they are written and grounded (none for the extractive answerer), then
        exactly one Draft."""
        ...

    def condense(self, question: str, history: list[Turn]) -> str | None:
        """A standalone rewrite of a follow-up, or None to use the deterministic one."""
        ...

    def already_answers(self, question: str, draft: Draft) -> bool:
        """Does a draft for one part of a two-part question already answer this other part,
        so that no other sentence is sought for it?"""
        ...


# name -> "module:class"; each class takes the Settings.
REGISTRY: dict[str, str] = {
    "extractive": "rag.answer.extractive.answerer:ExtractiveAnswerer",
    "llm": "rag.answer.llm.answerer:LlmAnswerer",
}


def get_answerer(settings: Settings, name: str | None = None) -> Answerer:
    """The answerer called `name`, or the configured one: extractive, or the LLM one for any
    LLM backend.

    Example: get_answerer(Settings(answer_backend="extractive")).name == "extractive"
    """
    name = name or ("extractive" if settings.answer_backend == "extractive" else "llm")
    module, _, cls = REGISTRY[name].partition(":")
    answerer: Answerer = getattr(import_module(module), cls)(settings)
    return answerer
