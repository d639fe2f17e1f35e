"""LLM clients behind one small interface (`Generator.stream`), chosen by name from a registry.

`openai`: llama-index's OpenAILike client, so OPENAI_BASE_URL reaches any OpenAI-compatible
server (Ollama, vLLM, llama.cpp's server). `local`: a GGUF model in-process via xllamacpp.
`scripted`: replies read from a file (RAG_SCRIPTED_REPLIES), for tests and offline demos.
"""

from __future__ import annotations

import hashlib
import json
import queue
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from rag.errors import BackendError, ConfigError
from rag.settings import Settings

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
            raise BackendError(f"{self._where} failed: {exc}{_window_hint(str(exc))}") from None


_TOO_LONG = re.compile(r"context (?:size|length|window)|maximum context|too many tokens|"
                       r"exceeds? the", re.I)


def _window_hint(error: str) -> str:
    """What to change when the prompt did not fit the model's window.

    Example: _window_hint("request exceeds the available context size").startswith("; ")
    """
    if not _TOO_LONG.search(error):
        return ""
    return ("; the passages did not fit the model's context window: lower RAG_CONTEXT_TOKENS "
            "(the answerer's context budget in tokens)")


class LocalGenerator:
    """A GGUF model in-process through xllamacpp (prebuilt llama.cpp, no compile)."""

    def __init__(self, settings: Settings) -> None:
        path = settings.local_model
        if path is None:
            raise ConfigError("RAG_LLM=local needs RAG_LOCAL_MODEL, the path of a .gguf file")
        if not path.is_file():
            raise ConfigError(f"RAG_LOCAL_MODEL: no model file at {path}")
        import os

        try:
            import xllamacpp
        except ImportError:
            raise ConfigError("RAG_LLM=local needs the local extra: "
                              "pip install 'rag-articles[local]'") from None

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
                raise BackendError(f"the local model failed: {chunk['error']}"
                                   f"{_window_hint(str(chunk['error']))}")
            for choice in chunk.get("choices", []):
                text = (choice.get("delta") or {}).get("content")
                if text:
                    yield text


def messages_key(messages: Messages) -> str:
    """The key a recorded reply is stored under: a hash of the request's messages, as
    shared/tools/llm_replay.py computes it.

    Example: len(messages_key([{"role": "user", "content": "hi"}])) == 20
    """
    return hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()[:20]


def _question_of(messages: Messages) -> str:
    """The question an answer or rewrite prompt asks about (its last labelled line)."""
    last = messages[-1]["content"] if messages else ""
    for line in reversed(last.splitlines()):
        for label in ("Question:", "Last question:"):
            if line.startswith(label):
                return line[len(label):].strip()
    return last.strip()


class ScriptedGenerator:
    """Replies from a JSONL file (RAG_SCRIPTED_REPLIES), one object a line: {"question": ...,
    "reply": ...} answers any prompt about that question, {"key": ..., "reply": ...} the exact
    request whose messages hash to that key (the llm_replay.py format). A prompt with no reply
    fails like an unreachable server, so tests see the real error path."""

    def __init__(self, settings: Settings) -> None:
        path = settings.scripted_replies
        if path is None:
            raise ConfigError("RAG_LLM=scripted needs RAG_SCRIPTED_REPLIES, a JSONL file of "
                              "replies")
        self.by_key: dict[str, str] = {}
        self.by_question: dict[str, str] = {}
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(f"RAG_SCRIPTED_REPLIES: cannot read {path}: {exc.strerror}") from None
        for i, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                reply = str(row["reply"])
            except (ValueError, KeyError, TypeError):
                raise ConfigError(f"RAG_SCRIPTED_REPLIES: {path} line {i} is not "
                                  '{"question" or "key", "reply"}') from None
            if "key" in row:
                self.by_key[str(row["key"])] = reply
            if "question" in row:
                self.by_question[" ".join(str(row["question"]).split()).lower()] = reply
        self.name = f"scripted:{Path(path).name}"

    def stream(self, messages: Messages, max_tokens: int) -> Iterator[str]:
        reply = self.by_key.get(messages_key(messages))
        if reply is None:
            reply = self.by_question.get(" ".join(_question_of(messages).split()).lower())
        if reply is None:
            raise BackendError(f"no scripted reply for: {_question_of(messages)[:80]}")
        # Word by word, as a server streams, so sentence-by-sentence grounding is exercised.
        for i, part in enumerate(reply.split(" ")):
            yield part if i == 0 else " " + part


REGISTRY: dict[str, Callable[[Settings], Generator]] = {
    "openai": OpenAIGenerator,
    "local": LocalGenerator,
    "scripted": ScriptedGenerator,
}
_CACHE: dict[tuple[str, str], Generator] = {}
_CACHE_LOCK = threading.Lock()


def get_generator(settings: Settings) -> Generator:
    """The configured LLM backend, loaded once per process."""
    name = settings.answer_backend
    where = {"local": settings.local_model, "scripted": settings.scripted_replies}.get(
        name, f"{settings.openai_base_url}|{settings.openai_model}")
    key = (name, str(where))
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = REGISTRY[name](settings)
        return _CACHE[key]
