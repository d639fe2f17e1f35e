"""/v1/chat/completions through the real `openai` client, against a real uvicorn server on
loopback: plain and streaming answers carry their citations, in the text and structured."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.ui_fixtures import serve_app

QUESTION = "How many hostages remain held in Gaza?"
TOKEN = "test-token-123"


@pytest.fixture(scope="module")
def server(service: Any, sample_store: Path, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[str]:
    for url, _ in serve_app(service, sample_store, tmp_path_factory.mktemp("openai"),
                            api_token=TOKEN):
        yield url


@pytest.fixture
def client(server: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server}/v1", api_key=TOKEN, max_retries=0, timeout=120)


def check_citations(citations: list[dict[str, Any]], text: str) -> None:
    assert citations, text
    for c in citations:
        assert f"[{c['n']}] {c['title']}" in text  # the Sources list
        assert f"“{c['quote']}”" in text and c["viewer_url"] in text
        page = httpx.get(c["viewer_url"])  # the link opens the quote, no header needed
        assert page.status_code == 200 and '<mark id="quote">' in page.text


def test_models_lists_the_rag_model_and_an_unknown_one_is_openais_404(
        client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["rag-articles"]
    assert client.models.retrieve("rag-articles").id == "rag-articles"
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="gpt-4o",
                                       messages=[{"role": "user", "content": QUESTION}])
    assert missing.value.code == "model_not_found" and "gpt-4o" in missing.value.message
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")


def test_usage_counts_the_real_tokens(client: openai.OpenAI) -> None:
    from rag.tokens import tiktoken_len

    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": QUESTION}]
    resp = client.chat.completions.create(model="rag-articles", messages=messages)  # type: ignore[arg-type]
    text = resp.choices[0].message.content or ""
    assert resp.usage is not None
    framing = 3 + sum(3 + tiktoken_len(m["role"]) + tiktoken_len(m["content"]) for m in messages)
    passages = resp.model_extra["passages"] if "passages" in (resp.model_extra or {}) else None
    assert passages is None  # the completion carries citations, not passages
    assert resp.usage.completion_tokens == tiktoken_len(text)
    # The passages the answer read are part of the prompt: far more than the question's 8.
    assert resp.usage.prompt_tokens > framing + 300
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens


def test_completion_has_cited_text_and_structured_citations(client: openai.OpenAI) -> None:
    resp = client.chat.completions.create(
        model="rag-articles", messages=[{"role": "system", "content": "Be brief."},
                                        {"role": "user", "content": QUESTION}])
    text = resp.choices[0].message.content or ""
    assert resp.object == "chat.completion" and resp.choices[0].finish_reason == "stop"
    assert "\n\nSources:\n[1] " in text and "[1]" in text.split("Sources:")[0]
    assert resp.usage is not None and resp.usage.completion_tokens > 0
    extra = resp.model_extra or {}
    assert extra["refused"] is False
    check_citations(extra["citations"], text)


def test_streaming_gives_the_same_answer_and_citations_at_the_end(
        client: openai.OpenAI) -> None:
    whole = client.chat.completions.create(
        model="rag-articles", messages=[{"role": "user", "content": QUESTION}])
    chunks = list(client.chat.completions.create(
        model="rag-articles", messages=[{"role": "user", "content": QUESTION}], stream=True))
    assert len(chunks) >= 4
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == whole.choices[0].message.content
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    check_citations((last.model_extra or {})["citations"], text)


def test_follow_up_history_comes_from_the_messages(client: openai.OpenAI) -> None:
    resp = client.chat.completions.create(model="rag-articles", messages=[
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": "The sources give 97 and 129."},
        {"role": "user", "content": "What did they say about it?"}])
    assert (resp.model_extra or {})["citations"]


def test_errors_reach_the_client_as_openai_errors(server: str, client: openai.OpenAI) -> None:
    wrong = openai.OpenAI(base_url=f"{server}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as auth:
        wrong.chat.completions.create(model="rag-articles",
                                      messages=[{"role": "user", "content": QUESTION}])
    assert auth.value.status_code == 401
    assert auth.value.code == "invalid_api_key"
    assert auth.value.response.json()["error"]["type"] == "invalid_request_error"
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="rag-articles",
                                       messages=[{"role": "system", "content": "hi"}])
    assert bad.value.response.json() == {"error": {
        "message": "messages has no user message to answer", "type": "invalid_request_error",
        "param": None, "code": None}}
    assert bad.value.body == {"message": "messages has no user message to answer",  # parsed
                              "type": "invalid_request_error", "param": None, "code": None}

