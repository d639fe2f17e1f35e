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
from rag.embeddings import MINILM_NAME
from rag.settings import load_settings
from rag.stats import store_stats
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


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    log = (tmp_path / "chroma.log").open("w")
    proc = subprocess.Popen([chroma_cli(), "run", "--path", str(tmp_path / "chroma-data"),
                             "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
                            env=cli_env(ANONYMIZED_TELEMETRY="False"))
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "chroma.log").read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).is_success:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "chroma run gave no heartbeat in 60 s"
            time.sleep(0.2)
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


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
