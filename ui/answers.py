"""How the HTTP surfaces hand out an Answer: citations with links a reader can click
(the viewer, and the original page at the quote), streaming events taken off the service's
blocking generator without blocking the event loop, and the plain-text Sources list that
OpenAI-style clients show."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Generator, Iterator

import anyio
from pydantic import Field
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from rag.service import RagService
from rag.types import Answer, Citation, Passage, StreamEvent, Turn
from ui.viewer import public_url, text_fragment_url, viewer_path


class LinkedCitation(Citation):
    """A citation with where to read it."""

    url: str | None = Field(  # type: ignore[assignment]
        default=None, description="The article's public web address; null for an article "
                                  "ingested from a file (the server's paths stay private).")
    viewer_url: str = Field(description="This app's article viewer, the quote highlighted "
                                        "and scrolled into view.")
    original_url: str | None = Field(
        default=None, description="The original web page opened at the quote (a URL text "
                                  "fragment), when the article came from the web.")


class PublicPassage(Passage):
    """A passage as the API hands it out: no server path."""

    url: str | None = None  # type: ignore[assignment]


class AnswerOut(Answer):
    """The Answer, its citations linked, with no server path in it."""

    citations: list[LinkedCitation] = Field(default_factory=list)  # type: ignore[assignment]
    passages: list[PublicPassage] = Field(default_factory=list)  # type: ignore[assignment]


def link_answer(answer: Answer, base_url: str, token: str | None) -> AnswerOut:
    """The Answer with absolute links: `base_url` is the app's root ("http://host:port").
    An article's `url` is kept only when it is a web address: a file's path on the server
    is nothing a reader can open, and tells the world how the server is laid out."""
    base = base_url.rstrip("/")
    cites = [LinkedCitation(**{**c.model_dump(), "url": public_url(c.url)},
                            viewer_url=base + viewer_path(c.article_id, c.start, c.end, token),
                            original_url=text_fragment_url(c.url, c.quote))
             for c in answer.citations]
    passages = [PublicPassage(**{**p.model_dump(), "url": public_url(p.url)})
                for p in answer.passages]
    return AnswerOut(**answer.model_dump(exclude={"citations", "passages"}), citations=cites,
                     passages=passages)


def word_chunks(text: str, words: int = 3) -> Iterator[str]:
    """The text in pieces of a few words, whitespace kept, so joined they give it back.

    Example: list(word_chunks("a b c d", 2)) == ["a b ", "c d"]
    """
    pieces = re.findall(r"\s*\S+\s*", text)
    for i in range(0, len(pieces), words):
        yield "".join(pieces[i:i + words])


async def answer_events(service: RagService, question: str, history: list[Turn]
                        ) -> AsyncIterator[StreamEvent]:
    """The service's events, each `next()` run in a worker thread. A backend that streams
    no tokens of its own (extractive) gets its verified answer sent as tokens first, so
    every client renders one way: tokens as they come, then the final Answer replaces them.

    The generator is closed if the client goes away, which releases the service's lock."""
    gen = service.stream(question, history)
    streamed = False
    try:
        async for event in iterate_in_threadpool(gen):
            if event.type == "token":
                streamed = True
            elif event.answer is not None and not streamed:
                for piece in word_chunks(event.answer.answer):
                    yield StreamEvent(type="token", text=piece)
            yield event
    finally:
        if isinstance(gen, Generator):
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(gen.close)


def sources_text(answer: AnswerOut) -> str:
    """The answer as chat clients show it: the text, then a numbered Sources list with
    title, publisher, date, the quote and its link.

    Example: sources_text(refusal) == refusal.answer  (no citations, no Sources list)
    """
    if not answer.citations:
        return answer.answer
    lines = [answer.answer, "", "Sources:"]
    for c in answer.citations:
        meta = ", ".join(x for x in (c.source, c.date or "") if x)
        lines.append(f"[{c.n}] {c.title}" + (f" ({meta})" if meta else "")
                     + f": “{c.quote}” {c.viewer_url}")
    if answer.conflicts:
        lines += ["", "Sources disagree:"] + [f"- {x.summary}" for x in answer.conflicts]
    return "\n".join(lines)
