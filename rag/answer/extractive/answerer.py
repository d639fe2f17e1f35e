"""The extractive answerer's door: the `Answerer` protocol (rag/answer/base.py) over
`compose`, with its refusal floors."""

from __future__ import annotations

from collections.abc import Iterator

from rag.answer.evidence import Evidence, relevance_floor
from rag.answer.extractive.compose import AGENT_TYPES, DOER_MARGIN, TYPED, compose
from rag.answer.language.agency import action
from rag.answer.language.answer_match import HOLDS, match
from rag.answer.language.question import analyse
from rag.settings import Settings
from rag.types import Draft, Hit, Turn


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
        # (compose, typed_floor).
        if analyse(question).type in TYPED:
            return min(self.settings.min_relevance_open, relevance_floor(question, self.settings))
        return relevance_floor(question, self.settings)

    def answer(self, question: str, hits: list[Hit], ranked: list[Evidence]
               ) -> Iterator[str | Draft]:
        yield compose(question, ranked, self._floor(question), self.settings.max_evidence,
                      relevance_floor(question, self.settings))

    def condense(self, question: str, history: list[Turn]) -> str | None:
        return None

    def already_answers(self, question: str, draft: Draft) -> bool:
        """A quote of the draft holds an answer of the type the question asks
        (rag/answer/language/answer_match.py): "how many Palestinians died in it" by the quote
        that gave the freed hostages and the 274 dead."""
        ask = analyse(question)
        # (not for "who": any new name passes for one; "who wrote B" is not "Author: A's writer")
        return not draft.refused and ask.type in ("quantity", "place", "date") and \
            any(match(ask, c.quote).score >= HOLDS for c in draft.citations)
