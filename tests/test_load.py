"""Many users at once, on loopback against a real uvicorn server: 20 concurrent clients
over a fixed number of requests, through the API and through the chat. No request fails,
and no answer or history crosses from one session to another.

Each client asks its own question, tagged with its number, then a follow-up that can only
be made standalone from its own history, so a leaked turn shows up in what comes back."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from gradio_client import Client

from tests.ui_fixtures import serve_app

CLIENTS = 20
TOPICS = [
    "How many hostages remain held in Gaza",
    "Who did Blinken meet in Cairo",
    "What did Netanyahu say about a ceasefire",
    "Which countries did Blinken visit",
    "What happened after the killing of Yahya Sinwar",
]
FOLLOW_UP = "What did they say about it?"


def question(i: int) -> str:
    return f"{TOPICS[i % len(TOPICS)]} (reader {i:02d})?"


@pytest.fixture(scope="module")
def server(service: Any, sample_store: Path, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[str]:
    # No rate limit here: all 20 clients share the loopback address (tests of the limit
    # itself are in test_api.py).
    for url, _ in serve_app(service, sample_store, tmp_path_factory.mktemp("load")):
        yield url


def api_conversation(base: str, i: int) -> list[dict[str, Any]]:
    """A question and its follow-up, the history kept by this client only."""
    out = []
    with httpx.Client(base_url=base, timeout=300) as http:
        history: list[dict[str, str]] = []
        for q in (question(i), FOLLOW_UP):
            r = http.post("/api/ask", json={"question": q, "history": history})
            assert r.status_code == 200, (i, r.text)
            answer = r.json()
            out.append(answer)
            history += [{"role": "user", "content": q},
                        {"role": "assistant", "content": answer["answer"]}]
    return out


def test_concurrent_api_clients_get_their_own_answers(server: str) -> None:
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        results = list(pool.map(lambda i: api_conversation(server, i), range(CLIENTS)))
    assert len(results) == CLIENTS
    for i, (first, follow) in enumerate(results):
        assert first["question"] == question(i)
        assert follow["question"] == FOLLOW_UP
        tags = [f"reader {j:02d}" for j in range(CLIENTS)]
        seen = [t for t in tags if t in follow["standalone_question"]]
        assert seen == [f"reader {i:02d}"], (i, follow["standalone_question"])


def chat_conversation(base: str, i: int) -> list[dict[str, Any]]:
    # httpx's 5 s default is short for 20 clients opening at once on a busy 2-core machine.
    client = Client(f"{base}/chat/", verbose=False, download_files=False,
                    analytics_enabled=False, httpx_kwargs={"timeout": 300})
    client.submit(question(i), api_name="/ask").result(timeout=300)
    messages, *_ = client.submit(FOLLOW_UP, api_name="/ask").result(timeout=300)
    return list(messages)


def test_concurrent_chat_sessions_keep_their_own_history(server: str) -> None:
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        results = list(pool.map(lambda i: chat_conversation(server, i), range(CLIENTS)))
    for i, messages in enumerate(results):
        assert [m["role"] for m in messages] == ["user", "assistant"] * 2, (i, messages)
        users = [str(m["content"]) for m in messages if m["role"] == "user"]
        assert question(i) in users[0] and FOLLOW_UP in users[1], (i, users)
        text = str(messages)
        others = [j for j in range(CLIENTS) if j != i and f"reader {j:02d}" in text]
        assert others == [], (i, others)
        assert "rag-notice" not in text  # no error or rate-limit notice in any session
