"""Server mode: with CHROMA_HOST/CHROMA_PORT set, the store is a real `chroma run` server
started here on a free loopback port; ingest, stats and the idempotent re-run work the same."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from index.pipeline import ingest
from rag.retrieve.embeddings import MINILM_NAME
from rag.retrieve.stats import store_stats
from rag.settings import load_settings
from tests.conftest import SAMPLE, cli_env
from tests.test_ingest import rag_command

pytestmark = pytest.mark.server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def chroma_cli() -> str:
    found = Path(sys.executable).with_name("chroma")
    if found.exists():
        return str(found)
    on_path = shutil.which("chroma")
    if on_path is None:
        pytest.fail("the `chroma` command (from the chromadb package) is not installed")
    return on_path


class ChromaServer:
    """A real `chroma run` on a loopback port, over one data folder; stop and start it again
    (same port, same data) to play a store that goes away and comes back."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.host, self.port = "127.0.0.1", free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.folder / "chroma.log").open("a")
        self.proc = subprocess.Popen(
            [chroma_cli(), "run", "--path", str(self.folder / "chroma-data"), "--host",
             self.host, "--port", str(self.port)], stdout=log, stderr=subprocess.STDOUT,
            cwd=self.folder, env=cli_env(ANONYMIZED_TELEMETRY="False"))
        log.close()
        deadline = time.monotonic() + 120
        while True:
            assert self.proc.poll() is None, (self.folder / "chroma.log").read_text()
            try:
                if httpx.get(f"http://{self.host}:{self.port}/api/v2/heartbeat",
                             timeout=1).is_success:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "chroma run gave no heartbeat in 120 s"
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


@pytest.fixture
def chroma(tmp_path: Path) -> Iterator[ChromaServer]:
    server = ChromaServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def chroma_server(chroma: ChromaServer) -> tuple[str, int]:
    return chroma.host, chroma.port


def test_ingest_stats_and_rerun_against_a_chroma_server(
        chroma_server: tuple[str, int], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        ) -> None:
    host, port = chroma_server
    monkeypatch.setenv("CHROMA_HOST", host)
    monkeypatch.setenv("CHROMA_PORT", str(port))
    settings = load_settings()
    assert (settings.chroma_host, settings.chroma_port) == (host, port)

    first = ingest([str(SAMPLE)], settings)
    assert (first.added, first.articles, first.skipped) == (5, 5, [])
    assert first.chunks_embedded == first.chunks > 5

    stats = store_stats(settings)
    assert stats == {"articles": 5, "chunks": first.chunks, "embed_model": MINILM_NAME,
                     "store": f"http://{host}:{port}", "bytes": None}
    # The local folder holds no Chroma data: it is all on the server.
    assert not (settings.store_dir / "chroma.sqlite3").exists()

    again = ingest([str(SAMPLE)], settings)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 5)
    assert again.chunks_embedded == 0 and again.chunks == first.chunks

    # The command line reaches the same server through the same two variables.
    proc = subprocess.run([*rag_command(), "stats", "--json"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120,
                          env=cli_env(CHROMA_HOST=host, CHROMA_PORT=str(port),
                                      RAG_STORE_DIR=str(tmp_path / "unused")))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["articles"] == 5


def test_chroma_going_away_is_a_503_then_the_service_recovers(
        chroma: ChromaServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Stop the Chroma server under a running `rag serve`: the API answers 503 with one line
    naming the server (never a 500 or a traceback), the CLI prints one line; start it again
    and the same service answers, without a restart."""
    from rag.service import RagService
    from tests.ui_fixtures import live_server, surface_settings
    from ui.api import create_app

    monkeypatch.setenv("CHROMA_HOST", chroma.host)
    monkeypatch.setenv("CHROMA_PORT", str(chroma.port))
    settings = surface_settings(tmp_path / "aux", tmp_path)
    ingest([str(SAMPLE)], settings)
    question = {"question": "How many hostages remain held in Gaza?"}
    where = f"{chroma.host}:{chroma.port}"
    with live_server(create_app(settings, RagService(settings))) as url, \
            httpx.Client(base_url=url, timeout=300) as http:
        first = http.post("/api/ask", json=question)
        assert first.status_code == 200 and first.json()["citations"], first.text

        chroma.stop()
        for path, body in (("/api/ask", question),
                           ("/api/ask", {"question": "Who did Blinken meet in Cairo?"}),
                           ("/v1/chat/completions",
                            {"messages": [{"role": "user", "content": question["question"]}]})):
            r = http.post(path, json=body)
            assert r.status_code == 503, (path, r.status_code, r.text)
            error = r.json()["error"]
            if path.startswith("/api/"):
                assert r.json() == {"ok": False, "error": error, "status": 503}
            # The API's {ok, error, status}; the OpenAI-compatible endpoint's {error: {message}}.
            message = error if isinstance(error, str) else error["message"]
            assert f"the Chroma server at {where}" in message, r.text
            assert "\n" not in message and "Traceback" not in r.text
        health = http.get("/healthz")
        assert health.status_code == 503, health.text

        proc = subprocess.run([*rag_command(), "ask", question["question"]], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300,
                              env=cli_env(CHROMA_HOST=chroma.host, CHROMA_PORT=str(chroma.port),
                                          RAG_STORE_DIR=str(tmp_path / "aux"),
                                          RAG_LLM="extractive"))
        assert proc.returncode == 1 and proc.stdout == ""
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert where in proc.stderr and "Traceback" not in proc.stderr

        chroma.start()  # the same data, the same port: the running service picks it up
        again = http.post("/api/ask", json=question)
        assert again.status_code == 200, again.text
        assert again.json()["answer"] == first.json()["answer"]
        assert http.get("/healthz").status_code == 200
