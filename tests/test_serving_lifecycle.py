"""What a running server leaves behind and says at start: its refresh thread ends with it,
an exposed server without a token warns, it answers before its chat is up, and the example
questions come from the store as it is now (spread over its articles, refreshed after an
ingest, never made at start)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

import ui.chat
from index.pipeline import ingest
from rag.service import RagService
from tests.conftest import cli_env
from tests.ui_fixtures import live_server, surface_settings
from ui.api import create_app

QUESTION = "How many hostages remain held in Gaza?"


def _refresh_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "lexical-refresh" and t.is_alive()]


def test_the_refresh_thread_starts_with_the_server_and_ends_with_it(
        sample_settings: Any, tmp_path: Path) -> None:
    settings = sample_settings()
    service = RagService(settings)
    app = create_app(surface_settings(settings.store_dir, tmp_path), service)
    before = len(_refresh_threads())
    with live_server(app) as url:
        assert httpx.get(f"{url}/healthz", timeout=30).status_code == 200
        assert len(_refresh_threads()) == before + 1
    assert len(_refresh_threads()) == before


def test_serving_beyond_loopback_without_a_token_warns_at_start(sample_settings: Any,
                                                                 tmp_path: Path) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    env = cli_env(RAG_STORE_DIR=str(sample_settings().store_dir),
                  RAG_FEEDBACK_DB=str(tmp_path / "fb.sqlite3"))
    proc = subprocess.Popen([sys.executable, "-m", "ui.cli", "serve", "--host", "0.0.0.0",
                             "--port", str(port)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
    finally:
        proc.terminate()
        proc.communicate(timeout=60)
    assert "warning" in first and "RAG_API_TOKEN" in first and "0.0.0.0" in first


def test_example_questions_cover_the_users_own_articles_and_follow_an_ingest(
        sample_settings: Any, tmp_path: Path) -> None:
    settings = sample_settings(llm="extractive")
    before = RagService(settings).example_questions(4)
    assert before and len(before) == len(set(before))
    own = tmp_path / "own"
    own.mkdir()
    (own / "moon.txt").write_text(
        "Moon base report\n\nNASA engineer Maria Lopez, a robotics lead, said 14 rovers were "
        "tested in Nevada this year. The rovers will carry water-ice drills to the lunar "
        "south pole.\n")
    (own / "port.txt").write_text(
        "Harbour traffic\n\nHarbour master Tom Greene, a former captain, said 40 boats were "
        "moored in Falmouth over the winter.\n")
    ingest([str(own)], settings)
    after = RagService(settings).example_questions(4)
    assert after != before
    service = RagService(settings)
    own_ids = {a for a, meta in service.store.iter_article_meta()
               if str(meta.get("origin", "")).startswith(str(own))}
    for q in after:  # each is answered, with a citation, as a user clicking it would see
        answer = service.ask(q)
        assert not answer.refused and answer.citations, q
    assert any({c.article_id for c in service.ask(q).citations} & own_ids for q in after)
    assert all(q != "How many people were killed?" for q in after)


def test_a_server_starts_without_making_example_questions_and_a_restart_reads_them(
        sample_settings: Any, tmp_path: Path) -> None:
    settings = sample_settings(llm="extractive")
    cache = settings.store_dir / "example_questions.json"
    cache.unlink(missing_ok=True)  # the shared sample store may hold some already
    app = create_app(surface_settings(settings.store_dir, tmp_path), RagService(settings))
    assert app.state.examples == [] and not cache.exists()  # start-up asked nothing
    made = RagService(settings).example_questions(4)
    assert made and cache.exists()
    restarted = create_app(surface_settings(settings.store_dir, tmp_path), RagService(settings))
    assert restarted.state.examples == made


def test_rag_serve_answers_the_api_and_serves_the_chat(sample_settings: Any, tmp_path: Path
                                                     ) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    env = cli_env(RAG_STORE_DIR=str(sample_settings().store_dir), RAG_LLM="extractive",
                  RAG_FEEDBACK_DB=str(tmp_path / "fb.sqlite3"))
    proc = subprocess.Popen([sys.executable, "-m", "ui.cli", "serve", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        answer = chat = None
        while (answer is None or chat is None) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            try:
                if answer is None:
                    answer = httpx.post(f"{url}/api/ask", json={"question": QUESTION},
                                        timeout=60).json()
                page = httpx.get(f"{url}/chat/", timeout=30)
                if page.status_code == 200:
                    chat = page.text
                else:
                    assert page.status_code == 503 and "starting" in page.text
            except httpx.TransportError:  # not listening yet
                pass
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.communicate(timeout=60)
    assert answer is not None and answer["citations"] and not answer["refused"]
    assert chat is not None and "gradio" in chat.lower()


def test_the_api_answers_while_the_chat_mounts_and_the_chat_follows(
        sample_settings: Any, tmp_path: Path, monkeypatch: Any) -> None:
    settings = sample_settings(llm="extractive")
    release = threading.Event()
    real_mount = ui.chat.mount

    def slow_mount(*args: Any, **kw: Any) -> Any:
        assert release.wait(60), "the test never released the chat"
        return real_mount(*args, **kw)

    monkeypatch.setattr(ui.chat, "mount", slow_mount)
    app = create_app(surface_settings(settings.store_dir, tmp_path), RagService(settings))
    with live_server(app, wait_chat=False) as url:
        answer = httpx.post(f"{url}/api/ask", json={"question": QUESTION}, timeout=60)
        assert answer.status_code == 200 and answer.json()["citations"]
        page = httpx.get(f"{url}/chat/", timeout=30)
        assert page.status_code == 503 and "The chat is starting" in page.text
        release.set()
        assert app.state.chat.done.wait(60) and app.state.chat.failed is None
        page = httpx.get(f"{url}/chat/", timeout=30)
        assert page.status_code == 200 and "gradio" in page.text.lower()


def test_a_chat_that_cannot_start_says_so_once_and_the_api_keeps_answering(
        sample_settings: Any, tmp_path: Path, monkeypatch: Any) -> None:
    settings = sample_settings(llm="extractive")

    def broken(*_args: Any, **_kw: Any) -> Any:
        raise RuntimeError("no chat today")

    monkeypatch.setattr(ui.chat, "mount", broken)
    app = create_app(surface_settings(settings.store_dir, tmp_path), RagService(settings))
    with live_server(app, wait_chat=False) as url:
        assert app.state.chat.done.wait(60) and app.state.chat.failed == "no chat today"
        page = httpx.get(f"{url}/chat/", timeout=30)
        assert page.status_code == 500 and "could not start" in page.text
        assert "refresh" not in page.text and "retry-after" not in page.headers
        answer = httpx.post(f"{url}/api/ask", json={"question": QUESTION}, timeout=60)
        assert answer.status_code == 200 and answer.json()["citations"]
