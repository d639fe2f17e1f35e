"""`POST /v1/chat/completions` and `GET /v1/models`, shaped like OpenAI's API so existing
clients and wiki chat plugins work unchanged: errors too are in OpenAI's shape
(`{"error": {"message", "type", "param", "code"}}`), and a model other than the one
served is OpenAI's 404. The last user message is the question, the
turns before it the history (system messages are ignored: the answerer's instructions are
not the caller's to change). Citations are in the message text as a Sources list, and
structured in an extra `citations` field on the completion (and on the last stream chunk).

Streaming sends the verified answer only: an LLM's raw tokens may lose sentences at
verification, and an OpenAI stream cannot take text back."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from rag.errors import InputError, RagError
from rag.service import clean_question
from rag.tokens import tiktoken_len
from rag.types import Turn
from ui.answers import AnswerOut, answer_events, link_answer, sources_text, word_chunks
from ui.deps import Guarded, base_url
from ui.guards import MAX_HISTORY_TURNS, ApiError, check_text, openai_error_body

MODEL = "rag-articles"
MODELS = (MODEL,)  # one model: the articles' answerer, whatever backend writes it
log = logging.getLogger("rag.api")
router = APIRouter(prefix="/v1", tags=["openai-compatible"])


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, max_tokens, ...: accepted, unused

    model: str = Field(default=MODEL, examples=[MODEL])
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_HISTORY_TURNS + 10)
    stream: bool = False


def _text(content: str | list[dict[str, Any]] | None) -> str:
    if isinstance(content, list):  # content parts: keep the text ones
        return "\n".join(str(p.get("text", "")) for p in content if p.get("type") == "text")
    return content or ""


def split_messages(messages: list[ChatMessage]) -> tuple[str, list[Turn]]:
    """The question (the last user message) and the turns before it.

    Example: split_messages([ChatMessage(role="user", content="Hi?")]) == ("Hi?", [])
    """
    last = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
    if last is None:
        raise InputError("messages has no user message to answer")
    history = [Turn(role=m.role, content=_text(m.content))
               for m in messages[:last] if m.role in ("user", "assistant")]
    return _text(messages[last].content), history


def usage(messages: list[ChatMessage], answer: AnswerOut, text: str) -> dict[str, int]:
    """Token counts (cl100k, tiktoken) of what the answer was made from and what it is.
    prompt_tokens: the caller's messages, counted as OpenAI counts a chat (each message's
    role and content plus 3 tokens of framing, 3 to start the reply), plus the passages the
    answerer read; completion_tokens: the message content returned.

    Example: usage([ChatMessage(role="user", content="hello world")], a, "")["prompt_tokens"]
    == 9 + the tokens of a's passages
    """
    prompt = 3 + sum(3 + tiktoken_len(m.role) + tiktoken_len(_text(m.content))
                     for m in messages)
    prompt += sum(tiktoken_len(p.text) for p in answer.passages)
    completion = tiktoken_len(text)
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


def _check_model(name: str) -> None:
    if name not in MODELS:
        raise ApiError(404, f"The model `{name}` does not exist: this server offers "
                            f"{', '.join(MODELS)} (GET /v1/models).", code="model_not_found")


def _citations(answer: AnswerOut) -> list[dict[str, Any]]:
    return [c.model_dump() for c in answer.citations]


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "rag-articles"}


@router.get("/models", summary="The models this server offers")
def models(ctx: Guarded) -> dict[str, Any]:
    return {"object": "list", "data": [_model(m) for m in MODELS]}


@router.get("/models/{model}", summary="One model, or OpenAI's 404")
def model(model: str, ctx: Guarded) -> dict[str, Any]:
    _check_model(model)
    return _model(model)


@router.post("/chat/completions", summary="OpenAI-compatible chat completion, with citations",
             response_model=None)
async def chat_completions(body: ChatRequest, request: Request, ctx: Guarded
                           ) -> dict[str, Any] | EventSourceResponse:
    _check_model(body.model)
    question, history = split_messages(body.messages)
    question = clean_question(check_text(question), ctx.settings.max_question_chars)
    for i, turn in enumerate(history):
        check_text(turn.content, f"message {i + 1}")
    root, token = base_url(request), ctx.settings.api_token
    cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    head = {"id": cid, "created": created, "model": body.model}

    if not body.stream:
        answer = link_answer(await run_in_threadpool(ctx.service.ask, question, history),
                             root, token)
        text = sources_text(answer)
        return {**head, "object": "chat.completion",
                "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                             "message": {"role": "assistant", "content": text}}],
                "usage": usage(body.messages, answer, text),
                "citations": _citations(answer), "refused": answer.refused}

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        return json.dumps({**head, "object": "chat.completion.chunk", **extra,
                           "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                        "finish_reason": finish}]})

    async def events() -> AsyncIterator[dict[str, str]]:
        yield {"data": chunk({"role": "assistant", "content": ""})}
        try:
            async for ev in answer_events(ctx.service, question, history):
                if ev.type != "answer" or ev.answer is None:
                    continue
                answer = link_answer(ev.answer, root, token)
                text = sources_text(answer)
                for piece in word_chunks(text, 8):
                    yield {"data": chunk({"content": piece})}
                yield {"data": chunk({}, "stop", citations=_citations(answer),
                                     refused=answer.refused,
                                     usage=usage(body.messages, answer, text))}
        except RagError as exc:
            yield {"data": json.dumps(openai_error_body(exc.status, str(exc)))}
        except Exception as exc:  # the stream has begun: end it with an error, never cut it
            log.exception("v1 stream failed")
            yield {"data": json.dumps(openai_error_body(
                500, f"internal error: {type(exc).__name__}"))}
        yield {"data": "[DONE]"}

    return EventSourceResponse(events(), ping=15, headers={"Cache-Control": "no-store"})
