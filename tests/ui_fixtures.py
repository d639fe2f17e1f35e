"""Helpers and fixtures for the surface tests (API, OpenAI endpoint, chat, browser, load):
a real uvicorn server on a free loopback port in a thread, and a store holding hostile
articles (script tags, onerror attributes, a javascript: URL) to prove they stay inert.

Test modules import the fixtures they use by name."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from rag.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"  # git-ignored; screenshots for a person to look at

# Hostile metadata and text. Each payload sets a window flag and opens a dialog if it runs.
XSS_IMG = '<img src=x onerror="window.__xss=1;alert(1)">'
XSS_SCRIPT = "<script>window.__xss=2;alert(2)</script>"
XSS_ARTICLES = [
    {
        "title": '<img src=x onerror="window.__xss=3;alert(3)">Zebra crossing report',
        "source": "<script>window.__xss=4</script>Savanna Times",
        "url": "javascript:window.__xss=5;alert(5)",
        "date": "2024-07-02",
        "text": (
            "Zebra crossing report.\n\n"
            f"Each July about 200,000 zebras cross the Mara River {XSS_IMG} on their way "
            "north to fresh grazing. "
            f"The herds {XSS_SCRIPT} travel roughly 1,800 miles in a full migration loop. "
            "Rangers counted 412 crocodiles waiting at the main crossing points this season."
        ),
    },
    {
        "title": "Wildebeest census",
        "source": "Plains Weekly",
        "url": "https://example.org/wildebeest-census?year=2024",
        "date": "2024-08-10",
        "text": (
            "Wildebeest census.\n\n"
            "The 2024 aerial census counted 1.3 million wildebeest in the Serengeti - a "
            "rise on the previous count. Calves born in February made up a fifth of the herd."
        ),
    },
]
XSS_QUESTION = "How many zebras cross the Mara River each July?"
WEB_QUESTION = "How many wildebeest did the 2024 aerial census count in the Serengeti?"


@pytest.fixture(scope="session")
def xss_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with the hostile articles (and one from the web, for text fragments)."""
    from index.pipeline import ingest

    folder = tmp_path_factory.mktemp("xss")
    src = folder / "hostile.jsonl"
    src.write_text("\n".join(json.dumps(a) for a in XSS_ARTICLES) + "\n", encoding="utf-8")
    store = folder / "store"
    summary = ingest([str(src)], load_settings(store_dir=store))
    assert summary.added == len(XSS_ARTICLES), summary
    return store


@pytest.fixture(scope="session")
def xss_service(xss_store: Path) -> Any:
    from rag.service import RagService

    return RagService(load_settings(store_dir=xss_store, llm="extractive"))


def surface_settings(store: Path, tmp: Path, **overrides: object) -> Settings:
    """Settings for the surfaces: the given store, feedback in `tmp`, no rate limit unless
    a test asks for one."""
    overrides.setdefault("rate_limit", 0)
    return load_settings(store_dir=store, feedback_db=tmp / "feedback.sqlite3", llm="extractive",
                         **overrides)


@contextmanager
def live_server(app: Any, wait_chat: bool = True) -> Iterator[str]:
    """Serve `app` with uvicorn on a free 127.0.0.1 port in a thread; yields its base URL
    (with `wait_chat`, once the chat is up too)."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    from ui.api import server_config

    # The product's own uvicorn settings (trusted proxies); open event streams (Gradio's
    # heartbeats) would hold a graceful shutdown for long.
    server = uvicorn.Server(server_config(app, app.state.ctx.settings, lifespan="on",
                                          timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        chat = app.state.chat  # mounted after the server starts (ui/chat_start.py)
        while wait_chat and not chat.ready.is_set():
            if chat.failed or time.monotonic() > deadline:
                raise RuntimeError(f"the chat did not start: {chat.failed}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def serve_app(service: Any, store: Path, folder: Path, **overrides: object
              ) -> Iterator[tuple[str, Path]]:
    """For a module's server fixture: the whole app over `store` on loopback; yields its
    URL and the folder holding its feedback database."""
    from ui.api import create_app

    with live_server(create_app(surface_settings(store, folder, **overrides), service)) as url:
        yield url, folder


def sample_server(name: str) -> Any:
    """A module-scoped fixture serving the app over the sample store; its value is
    (base URL, folder of the feedback database). In a test module: `served = sample_server("x")`.
    """

    @pytest.fixture(scope="module")
    def served(service: Any, sample_store: Path, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[tuple[str, Path]]:
        yield from serve_app(service, sample_store, tmp_path_factory.mktemp(name))

    return served


def sse_events(body: str) -> list[tuple[str, str]]:
    """(event, data) pairs from a text/event-stream body; comments (pings) skipped.

    Example: sse_events("event: a\\ndata: 1\\n\\n") == [("a", "1")]
    """
    out = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data:
            out.append((name, "\n".join(data)))
    return out
