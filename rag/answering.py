"""Answerers behind one small interface, chosen by name from a registry (like `Embedder`):
`extractive` quotes the best evidence sentences; `llm` has a language model write the answer
and grounds every sentence of it. The refusal gate and conflicts are the service's, shared."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from rag.agency import action
from rag.evidence import Evidence, relevance_floor
from rag.extractive import AGENT_TYPES, DOER_MARGIN, TYPED
from rag.question import analyse
from rag.settings import Settings
from rag.types import Draft, Hit, Turn


class Answerer(Protocol):
    """What every answerer implements."""

    name: str  # what Answer.backend shows
    # Asks a two-part question part by part (rag/question.py split_question): a model reads
    # both parts at once, sentence selection answers one question at a time.
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


class ExtractiveAnswerer:
    """The best-supported sentences, quoted verbatim: no model beyond the embedder."""

    name = "extractive"
    answers_in_parts = True

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def floor(self, question: str) -> float:
        # "who killed X": a sentence naming the doer may answer below the floor (compose)
        doer = analyse(question).type in AGENT_TYPES and action(question) is not None
        return self._floor(question) - (DOER_MARGIN if doer else 0.0)

    def _floor(self, question: str) -> float:
        # A typed question (how many, who, when, which ...) may be answered from evidence
        # scoring as low as an open one's, but then only by a sentence of its type
        # (rag/extractive.py compose, typed_floor).
        if analyse(question).type in TYPED:
            return min(self.settings.min_relevance_open, relevance_floor(question, self.settings))
        return relevance_floor(question, self.settings)

    def answer(self, question: str, hits: list[Hit], ranked: list[Evidence]
               ) -> Iterator[str | Draft]:
        from rag.extractive import compose

        yield compose(question, ranked, self._floor(question), self.settings.max_evidence,
                      relevance_floor(question, self.settings))

    def condense(self, question: str, history: list[Turn]) -> str | None:
        return None


class LlmAnswerer:
    """A language model (rag.llm: openai, local, scripted) writes from the passages; only
    sentences whose citations hold reach the user. The model decides refusals: the gate
    before it only stops questions retrieval found nothing about."""

    def __init__(self, settings: Settings) -> None:
        from rag.llm import get_generator

        self.settings = settings
        self.generator = get_generator(settings)
        self.name = settings.answer_backend
        self.answers_in_parts = False

    def floor(self, question: str) -> float:
        return self.settings.min_relevance_llm

    def answer(self, question: str, hits: list[Hit], ranked: list[Evidence]
               ) -> Iterator[str | Draft]:
        from rag.generative import answer_with_llm

        yield from answer_with_llm(self.generator, question, hits, self.settings)

    def condense(self, question: str, history: list[Turn]) -> str | None:
        from rag.generative import condense_with_llm

        return condense_with_llm(self.generator, question, history)


REGISTRY: dict[str, Callable[[Settings], Answerer]] = {
    "extractive": ExtractiveAnswerer,
    "llm": LlmAnswerer,
}


def get_answerer(settings: Settings) -> Answerer:
    """The configured answerer: extractive, or the LLM one for any LLM backend."""
    return REGISTRY["extractive" if settings.answer_backend == "extractive" else "llm"](settings)
