"""LLM answer backends behind one small interface (`Generator.stream`), chosen by name from a
registry, and the generative answer flow: prompt → streamed tokens → grounded Draft.

`openai`: llama-index's OpenAILike client, so OPENAI_BASE_URL reaches any OpenAI-compatible
server (Ollama, vLLM, llama.cpp's server). `local`: a GGUF model in-process via xllamacpp.
"""

from __future__ import annotations

import json
import queue
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from rag.errors import BackendError, ConfigError
from rag.evidence import Evidence, relevance_floor
from rag.extractive import Draft, find_conflicts, label, refusal
from rag.grounding import GroundingState, Numbered, ground
from rag.prompts import answer_messages, condense_messages
from rag.settings import Settings
from rag.text import split_sentences
from rag.types import Hit, Turn

Messages = list[dict[str, str]]


class Generator(Protocol):
    """What every LLM backend implements: stream the reply to chat messages."""

    name: str

    def stream(self, messages: Messages, max_tokens: int) -> Iterator[str]: ...


class OpenAIGenerator:
    """Chat models through the OpenAI API or any OpenAI-compatible server."""

    def __init__(self, settings: Settings) -> None:
        if not settings.openai_api_key and not settings.openai_base_url:
            raise ConfigError("RAG_LLM=openai needs OPENAI_API_KEY, or OPENAI_BASE_URL for a "
                              "compatible server")
        from llama_index.llms.openai_like import OpenAILike

        self.name = f"openai:{settings.openai_model}"
        self._llm = OpenAILike(model=settings.openai_model, api_base=settings.openai_base_url,
                               api_key=settings.openai_api_key or "not-needed",
                               is_chat_model=True, context_window=settings.llm_context,
                               timeout=settings.llm_timeout, max_retries=1, temperature=0.0)
        self._where = settings.openai_base_url or "the OpenAI API"

    def stream(self, messages: Messages, max_tokens: int) -> Iterator[str]:
        import openai
        from llama_index.core.llms import ChatMessage

        chat = [ChatMessage(role=m["role"], content=m["content"]) for m in messages]
        try:
            for part in self._llm.stream_chat(chat, max_tokens=max_tokens):
                if part.delta:
                    yield part.delta
        except openai.APIConnectionError:
            raise BackendError(f"cannot reach {self._where} (OPENAI_BASE_URL)") from None
        except openai.APITimeoutError:
            raise BackendError(f"{self._where} did not answer in time (RAG_LLM_TIMEOUT)") from None
        except openai.AuthenticationError:
            raise BackendError(f"{self._where} refused the API key (OPENAI_API_KEY)") from None
        except openai.OpenAIError as exc:
            raise BackendError(f"{self._where} failed: {exc}") from None


class LocalGenerator:
    """A GGUF model in-process through xllamacpp (prebuilt llama.cpp, no compile)."""

    def __init__(self, settings: Settings) -> None:
        path = settings.local_model
        if path is None:
            raise ConfigError("RAG_LLM=local needs RAG_LOCAL_MODEL, the path of a .gguf file")
        if not path.is_file():
            raise ConfigError(f"RAG_LOCAL_MODEL: no model file at {path}")
        import os

        import xllamacpp

        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_ctx = settings.llm_context
        params.n_predict = settings.llm_max_tokens
        threads = settings.threads or os.cpu_count() or 1
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.warmup = False
        params.verbosity = -1  # llama.cpp logs every step to stderr otherwise
        try:
            self._server = xllamacpp.Server(params)
        except Exception as exc:
            raise ConfigError(f"RAG_LOCAL_MODEL: cannot load {path}: {exc}") from None
        self.name = f"local:{path.name}"
        self._lock = threading.Lock()

    def stream(self, messages: Messages, max_tokens: int) -> Iterator[str]:
        request = {"messages": messages, "max_tokens": max_tokens, "temperature": 0.0,
                   "stream": True}
        parts: queue.Queue[Any] = queue.Queue()
        done = object()

        def run() -> None:
            try:
                with self._lock:  # one generation at a time; never held while yielding
                    self._server.handle_chat_completions(request, parts.put)
            except Exception as exc:  # surfaced to the caller below
                parts.put(exc)
            parts.put(done)

        threading.Thread(target=run, daemon=True).start()
        while (item := parts.get()) is not done:
            if isinstance(item, Exception):
                raise BackendError(f"the local model failed: {item}")
            chunk = item if isinstance(item, dict) else json.loads(item)
            if "error" in chunk:
                raise BackendError(f"the local model failed: {chunk['error']}")
            for choice in chunk.get("choices", []):
                text = (choice.get("delta") or {}).get("content")
                if text:
                    yield text


REGISTRY: dict[str, Callable[[Settings], Generator]] = {
    "openai": OpenAIGenerator,
    "local": LocalGenerator,
}
_CACHE: dict[tuple[str, str], Generator] = {}
_CACHE_LOCK = threading.Lock()


def get_generator(settings: Settings) -> Generator:
    """The configured LLM backend, loaded once per process."""
    name = settings.answer_backend
    where = (settings.local_model if name == "local"
             else f"{settings.openai_base_url}|{settings.openai_model}")
    key = (name, str(where))
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = REGISTRY[name](settings)
        return _CACHE[key]


def _numbered(hits: list[Hit]) -> list[Numbered]:
    return [Numbered(n, h.article, h.chunk) for n, h in enumerate(hits, 1)]


def answer_with_llm(gen: Generator, question: str, hits: list[Hit], ranked: list[Evidence],
                    settings: Settings) -> Iterator[str | Draft]:
    """Stream the answer sentence by sentence as each one is grounded (unsupported text
    never reaches the stream), then yield the final Draft."""
    if not ranked or ranked[0].score < relevance_floor(question, settings):
        yield refusal()  # nothing relevant enough: do not let the model guess
        return
    passages = _numbered(hits)
    text = ""
    shown = 0  # characters of `text` already grounded and streamed
    streamed = GroundingState()  # one numbering for the whole stream, as the final answer
    for token in gen.stream(answer_messages(question, passages), settings.llm_max_tokens):
        text += token
        sentences = split_sentences(text[shown:], base=shown)
        # All but the last sentence are complete; stream those that hold up.
        for s in sentences[:-1]:
            shown = s.end
            piece = ground(s.text, passages, streamed)
            if not piece.refused:
                yield piece.text + " "
    draft = ground(text, passages)
    if not draft.refused:
        draft = _add_conflicts(question, draft, ranked)
    yield draft


def _add_conflicts(question: str, draft: Draft, ranked: list[Evidence]) -> Draft:
    """When relevant sources disagree on a figure and the answer does not show both sides,
    add the other side, quoted and cited."""
    pairs = find_conflicts(question, ranked, window=0.3)
    if not pairs:
        return draft
    a, b = pairs[0]
    cited = {(c.article_id, c.start) for c in draft.citations}
    missing = [e for e in (a, b) if (e.article.id, e.start) not in cited]
    if not missing:
        return draft
    from rag.citations import Span, make_citation

    cites = list(draft.citations)
    notes = []
    for e in (a, b):
        n = next((c.n for c in cites if (c.article_id, c.start) == (e.article.id, e.start)), None)
        if n is None:
            n = len(cites) + 1
            span = Span(e.start, max(e.end, e.ext_end))
            cites.append(make_citation(n, e.article, e.chunk_id, span))
        notes.append(f"{e.article.source or label(e.article.title)}: “{e.quote}” [{n}]")
    text = draft.text + " The sources give different figures. " + " ".join(notes)
    return Draft(text, cites, False, [" vs ".join(notes)], draft.unsupported)


def condense_with_llm(gen: Generator, question: str, history: list[Turn]) -> str | None:
    """The LLM's standalone rewrite of a follow-up, or None when it is unusable."""
    try:
        out = "".join(gen.stream(condense_messages(question, history), 80)).strip()
    except BackendError:
        return None
    out = re.sub(r"^(?:rewritten question|question)\s*:\s*", "", out, flags=re.I).strip(' "')
    out = out.splitlines()[0].strip() if out else ""
    if not out or len(out) > 300 or len(out) < 5:
        return None
    return out
