"""The LLM answerer's flow: prompt → streamed tokens → grounded Draft, and the LLM's rewrite
of a follow-up. The client behind it is any `rag.answer.llm.clients.Generator`."""

from __future__ import annotations

import re
from collections.abc import Iterator

from rag.answer.llm.clients import Generator
from rag.answer.llm.grounding import GroundingState, Numbered, ground, is_refusal, whole_quotations
from rag.answer.llm.prompts import answer_messages, condense_messages
from rag.errors import BackendError
from rag.settings import Settings
from rag.text import split_sentences
from rag.types import Draft, Hit, Turn


def numbered(hits: list[Hit]) -> list[Numbered]:
    """The passages as the prompt numbers them, from 1.

    Example: [p.n for p in numbered(hits)] == [1, 2, 3]
    """
    return [Numbered(n, h.article, h.chunk) for n, h in enumerate(hits, 1)]


def answer_with_llm(gen: Generator, question: str, hits: list[Hit], settings: Settings
                    ) -> Iterator[str | Draft]:
    """Stream the answer sentence by sentence as each one is grounded (unsupported text
    never reaches the stream), then yield the final Draft."""
    passages = numbered(hits)
    text = ""
    shown = 0  # characters of `text` already grounded and streamed
    streamed = GroundingState()  # one numbering for the whole stream, as the final answer
    for token in gen.stream(answer_messages(question, passages), settings.llm_max_tokens):
        text += token
        sentences = whole_quotations(text, split_sentences(text[shown:], base=shown))
        # All but the last sentence are complete; stream those that hold up.
        for s in sentences[:-1]:
            shown = s.end
            piece = ground(s.text, passages, streamed, question)
            if not piece.refused:
                yield piece.text + " "
    if text[shown:].strip():  # the model is done: its last sentence is complete too
        piece = ground(text[shown:], passages, streamed, question)
        if not piece.refused:
            yield piece.text
    yield ground(text, passages, question=question)


def condense_with_llm(gen: Generator, question: str, history: list[Turn]) -> str | None:
    """The LLM's standalone rewrite of a follow-up, or None when it is unusable."""
    try:
        out = "".join(gen.stream(condense_messages(question, history), 80)).strip()
    except BackendError:
        return None
    out = re.sub(r"^(?:rewritten question|question)\s*:\s*", "", out, flags=re.I).strip(' "')
    out = out.splitlines()[0].strip() if out else ""
    if not out or len(out) > 300 or len(out) < 5 or is_refusal(out):
        return None  # a reply that is no question (a refusal, a ramble) is not a rewrite
    return out
