"""The LLM answerer's door: the `Answerer` protocol (rag/answer/base.py) over a client
(`clients`) and the grounded generation (`generate`)."""

from __future__ import annotations

from collections.abc import Iterator

from rag.answer.evidence import Evidence
from rag.answer.llm.clients import get_generator
from rag.answer.llm.generate import answer_with_llm, condense_with_llm
from rag.settings import Settings
from rag.types import Draft, Hit, Turn


class LlmAnswerer:
    """A language model (openai, local, scripted) writes from the passages; only sentences
    whose citations hold reach the user. The model decides refusals: the gate before it only
    stops questions retrieval found nothing about."""

    answers_in_parts = False
    version = ""  # the model is named by the settings

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.generator = get_generator(settings)
        self.name = settings.answer_backend

    def floor(self, question: str) -> float:
        return self.settings.min_relevance_llm

    def answer(self, question: str, hits: list[Hit], ranked: list[Evidence]
               ) -> Iterator[str | Draft]:
        yield from answer_with_llm(self.generator, question, hits, self.settings)

    def condense(self, question: str, history: list[Turn]) -> str | None:
        return condense_with_llm(self.generator, question, history)

    def already_answers(self, question: str, draft: Draft) -> bool:
        return False  # a model reads both parts at once (answers_in_parts is False)
