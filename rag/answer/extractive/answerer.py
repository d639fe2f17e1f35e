"""The extractive answerer's door: the `Answerer` protocol (rag/answer/base.py) over
`compose`, whose fitted scorer also decides when to refuse."""

from __future__ import annotations

from collections.abc import Iterator

from rag.answer.evidence import Evidence
from rag.answer.extractive import scorer
from rag.answer.extractive.compose import compose
from rag.answer.language.answer_match import HOLDS, match
from rag.answer.language.question import analyse
from rag.settings import Settings
from rag.types import Draft, Hit, Turn


class ExtractiveAnswerer:
    """The sentences likeliest to answer, quoted verbatim: no model beyond the embedder."""

    name = "extractive"
    answers_in_parts = True

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.version = scorer.version()

    def floor(self, question: str) -> float:
        # No gate before answering: the scorer's calibrated threshold refuses (compose).
        return float("-inf")

    def answer(self, question: str, hits: list[Hit], ranked: list[Evidence]
               ) -> Iterator[str | Draft]:
        yield compose(question, ranked, self.settings.max_evidence)

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
