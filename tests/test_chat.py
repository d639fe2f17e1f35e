"""The Gradio chat through `gradio_client`, against the mounted app on a real loopback
server: answers come back with linked citations and a sources panel, follow-ups keep the
session's history, refusals say so, votes land in SQLite, and the token gates the chat."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from gradio_client import Client

from tests.ui_fixtures import live_server, sample_server, surface_settings
from ui.api import create_app
from ui.feedback import FeedbackStore

QUESTION = "How many hostages remain held in Gaza?"


served = sample_server("chat")  # (url, feedback folder)


@pytest.fixture(scope="module")
def server(served: tuple[str, Path]) -> str:
    return served[0]


def chat_client(url: str) -> Client:
    return Client(f"{url}/chat/", verbose=False, download_files=False, analytics_enabled=False,
                  httpx_kwargs={"timeout": 120})


def ask(client: Client, question: str) -> tuple[list[dict[str, Any]], str, str]:
    """Messages, sources panel and viewer after the answer is complete."""
    messages, _box, sources, viewer = client.submit(question, api_name="/ask").result(timeout=120)
    return messages, sources, viewer


def text_of(message: dict[str, Any]) -> str:
    content = message["content"]
    if isinstance(content, list):  # gradio may wrap a message's text in content parts
        content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content)


def test_answer_comes_back_with_linked_citations_and_sources(server: str) -> None:
    client = chat_client(server)
    messages, sources, viewer = ask(client, QUESTION)
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert QUESTION in text_of(messages[0])
    answer = text_of(messages[1])
    links = re.findall(r'<a class="rag-cite" href="(/articles/[0-9a-f]+\?start=\d+&amp;end=\d+'
                       r'#quote)"[^>]*>(\d+)</a>', answer)
    assert links and links[0][1] == "1"
    assert 'class="rag-source"' in sources and "<blockquote>" in sources
    first = links[0][0].replace("&amp;", "&")
    assert f'src="{first.replace("&", "&amp;")}"' in viewer  # the viewer opens citation 1
    page = httpx.get(server + first)
    assert page.status_code == 200 and '<mark id="quote">' in page.text


def test_follow_up_keeps_this_sessions_history(server: str) -> None:
    client = chat_client(server)
    ask(client, QUESTION)
    messages, _, _ = ask(client, "What did they say about it?")
    assert [m["role"] for m in messages] == ["user", "assistant"] * 2
    other = chat_client(server)  # a second session starts empty
    fresh, _, _ = ask(other, "Who did Blinken meet in Cairo?")
    assert len(fresh) == 2 and QUESTION not in str(fresh)


def test_refusal_is_shown_plainly(server: str) -> None:
    messages, sources, _ = ask(chat_client(server), "What is the boiling point of tungsten?")
    assert "Not in the articles" in text_of(messages[-1])
    assert 'class="rag-source"' not in sources


def test_vote_is_stored_with_question_answer_and_citations(server: str,
                                                           served: tuple[str, Path]) -> None:
    client = chat_client(server)
    messages, _, _ = ask(client, QUESTION)
    assert client.predict(1, "up", api_name="/feedback") == "Thanks: your feedback is saved."
    rows = [r for r in FeedbackStore(served[1] / "feedback.sqlite3").rows()
            if r["surface"] == "chat"]
    assert len(rows) == 1
    row = rows[0]
    assert row["question"] == QUESTION and row["vote"] == "up"
    assert row["citations"] and row["citations"][0]["quote"] in row["answer"] + text_of(
        messages[1]).replace("&amp;", "&")
    with pytest.raises(Exception, match="no answer at that position"):
        client.predict(0, "down", api_name="/feedback")  # index 0 is the question


def test_token_gates_the_chat(service: Any, sample_store: Path, tmp_path: Path) -> None:
    settings = surface_settings(sample_store, tmp_path, api_token="s3cret")
    with live_server(create_app(settings, service)) as url:
        config = httpx.get(f"{url}/chat/config")
        assert config.status_code == 401
        login = httpx.post(f"{url}/chat/login", data={"username": "me", "password": "s3cret"})
        assert login.status_code == 200 and login.json() == {"success": True}
        bad = httpx.post(f"{url}/chat/login", data={"username": "me", "password": "nope"})
        assert bad.status_code == 400


def test_failed_logins_are_throttled(service: Any, sample_store: Path, tmp_path: Path) -> None:
    settings = surface_settings(sample_store, tmp_path, api_token="s3cret")
    with live_server(create_app(settings, service)) as url:
        for _ in range(10):
            bad = httpx.post(f"{url}/chat/login", data={"username": "me", "password": "nope"})
            assert bad.status_code == 400
        late = httpx.post(f"{url}/chat/login", data={"username": "me", "password": "s3cret"})
        assert late.status_code == 429 and "failed sign-in" in late.json()["error"]


def test_uploads_are_off(server: str) -> None:
    r = httpx.post(f"{server}/chat/gradio_api/upload",
                   files={"files": ("a.txt", b"x" * 200_000, "text/plain")})
    assert r.status_code == 403 and "no file uploads" in r.json()["error"]


def test_chat_has_its_own_budget_and_spoofed_forwarding_is_ignored(
        service: Any, sample_store: Path, tmp_path: Path) -> None:
    settings = surface_settings(sample_store, tmp_path, rate_limit=2)
    with live_server(create_app(settings, service)) as url:
        for i in range(2):  # X-Forwarded-For from an untrusted peer changes nothing
            r = httpx.post(f"{url}/api/ask", json={"question": " "},
                           headers={"X-Forwarded-For": f"203.0.113.{i}"})
            assert r.status_code == 400
        spoofed = httpx.post(f"{url}/api/ask", json={"question": " "},
                             headers={"X-Forwarded-For": "203.0.113.99"})
        assert spoofed.status_code == 429
        messages, _, _ = ask(chat_client(url), QUESTION)  # the chat user has not paid for it
        assert "rag-notice" not in text_of(messages[-1])
        assert "rag-cite" in text_of(messages[-1])


def test_forwarded_address_counts_behind_a_trusted_proxy(
        service: Any, sample_store: Path, tmp_path: Path) -> None:
    settings = surface_settings(sample_store, tmp_path, rate_limit=1,
                                trusted_proxies="127.0.0.1")
    with live_server(create_app(settings, service)) as url:
        for i in range(3):  # three readers behind one proxy: a budget each
            r = httpx.post(f"{url}/api/ask", json={"question": " "},
                           headers={"X-Forwarded-For": f"203.0.113.{i}"})
            assert r.status_code == 400, r.text
        again = httpx.post(f"{url}/api/ask", json={"question": " "},
                           headers={"X-Forwarded-For": "203.0.113.0"})
        assert again.status_code == 429


def test_a_follow_ups_vote_keeps_the_conversation(
        server: str, served: tuple[str, Path]) -> None:
    client = chat_client(server)
    ask(client, QUESTION)
    ask(client, "What did they say about it?")
    assert client.predict(3, "down", api_name="/feedback") == "Thanks: your feedback is saved."
    rows = [r for r in FeedbackStore(served[1] / "feedback.sqlite3").rows()
            if r["question"] == "What did they say about it?"]
    assert len(rows) == 1
    history = rows[0]["history"]
    assert [t["role"] for t in history] == ["user", "assistant"]
    assert history[0]["content"] == QUESTION and history[1]["content"]


def test_example_questions_are_questions_the_articles_answer(service: Any, sample_store: Path
                                                             ) -> None:
    questions = service.example_questions(4)
    assert 2 <= len(questions) <= 4, questions
    for q in questions:
        assert q.endswith("?") and "articles say about" not in q and "…" not in q
        answer = service.ask(q)
        assert not answer.refused and answer.citations, q
    cache = sample_store / "example_questions.json"
    assert json.loads(cache.read_text(encoding="utf-8"))["questions"] == questions
    assert service.example_questions(4) == questions  # from the cache
