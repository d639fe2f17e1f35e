"""A running `rag serve` answers, without a restart and without an error, from articles that
another process ingests: on the embedded default (the CLI hands the ingest to the server
that owns the store) and on a shared Chroma server (a second `rag serve` catches its lexical
index up by the store's version stamp)."""

from __future__ import annotations

import json
import random
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import cli_env
from tests.test_ingest import generate_corpus, models, rag_command  # noqa: F401
from tests.test_server_mode import chroma, chroma_server, free_port  # noqa: F401

KNOWN = "How many hostages remain held in Gaza?"  # answered from the sample corpus
CLIENTS = 20


@contextmanager
def rag_serve(cwd: Path, **env: str) -> Iterator[str]:
    """`rag serve` in its own process on a free loopback port; yields its URL."""
    port = free_port()
    log = (cwd / f"serve-{port}.log").open("w")
    proc = subprocess.Popen([*rag_command(), "serve"], cwd=cwd, stdout=log,
                            stderr=subprocess.STDOUT,
                            env=cli_env(RAG_PORT=str(port), RAG_RATE_LIMIT="0",
                                        RAG_LEXICAL_REFRESH_S="0.5", **env))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, (cwd / f"serve-{port}.log").read_text()
            try:
                if httpx.get(f"{url}/healthz", timeout=2).is_success:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "rag serve did not start in 180 s"
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def ask(url: str, question: str) -> dict[str, Any]:
    r = httpx.post(f"{url}/api/ask", json={"question": question}, timeout=120)
    assert r.status_code == 200, r.text
    return dict(r.json())


def item_question(i: int, folder: Path) -> str:
    """A question only generated article i answers (its plan number is unique)."""
    first = (folder / f"{i:04d}.txt").read_text().splitlines()[0]
    town = first.split(" council")[0]
    return f"What did the council of {town} debate for plan number {i}?"


def cites_item(answer: dict[str, Any], i: int) -> bool:
    return any(f"(item {i})" in c["title"] for c in answer["citations"])


class Askers:
    """CLIENTS threads asking KNOWN over and over until stopped; every failure is kept."""

    def __init__(self, url: str, clients: int = CLIENTS) -> None:
        self.url, self.stop = url, threading.Event()
        self.errors: list[str] = []
        self.answered = 0
        self.threads = [threading.Thread(target=self._run, daemon=True)
                        for _ in range(clients)]

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=120) as http:
            while not self.stop.is_set():
                try:
                    r = http.post("/api/ask", json={"question": KNOWN})
                    if r.status_code != 200 or not r.json()["citations"]:
                        self.errors.append(f"{r.status_code}: {r.text[:200]}")
                    else:
                        self.answered += 1
                except httpx.HTTPError as exc:
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                self.stop.wait(2.0)  # a reader's pace: 10 questions a second in all

    def __enter__(self) -> Askers:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=150)


def test_serve_keeps_answering_while_the_cli_ingests_500_articles_into_its_store(
        sample_store: Path, tmp_path: Path, models: Path) -> None:  # noqa: F811
    store = tmp_path / "store"
    import shutil

    shutil.copytree(sample_store, store)
    folder = tmp_path / "generated"
    generate_corpus(folder, 500)
    env = {"RAG_STORE_DIR": str(store), "RAG_MODEL_CACHE": str(models)}
    with rag_serve(tmp_path, **env) as url:
        assert (store / "serving.json").exists()
        assert ask(url, KNOWN)["citations"]
        refused = httpx.post(f"{url}/api/ingest", json={"paths": [str(folder)]},
                             headers={"X-Rag-Ingest-Key": "guess"}, timeout=30)
        assert refused.status_code == 403 and refused.json()["ok"] is False
        with Askers(url) as askers:
            proc = subprocess.run([*rag_command(), "ingest", str(folder), "--json"],
                                  cwd=tmp_path, capture_output=True, text=True, timeout=600,
                                  env=cli_env(**env))
            assert proc.returncode == 0, proc.stderr
            assert "is ingesting" in proc.stderr  # handed to the server, not written beside it
            summary = json.loads(proc.stdout)
            assert (summary["added"], summary["articles"]) == (500, 505)
            # Once the ingest is done, the new articles are answered from at once.
            for i in random.Random(1).sample(range(500), 5):
                answer = ask(url, item_question(i, folder))
                assert cites_item(answer, i), (i, answer["answer"], answer["citations"])
        assert askers.errors == []
        assert askers.answered >= CLIENTS  # every client got answers through the ingest
        health = httpx.get(f"{url}/healthz", timeout=10).json()
        assert health["lexical"]["state"] == "ok" and health["lexical"]["chunks"] == health[
            "chunks"]
    assert not (store / "serving.json").exists()  # withdrawn when the server stops
    # With no server running, the CLI writes the store itself, as before.
    again = subprocess.run([*rag_command(), "ingest", str(folder), "--json"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=600, env=cli_env(**env))
    assert again.returncode == 0 and "is ingesting" not in again.stderr
    assert json.loads(again.stdout)["unchanged"] == 500


@pytest.mark.server
def test_two_servers_on_one_chroma_server_answer_from_an_article_another_process_ingests(
        chroma_server: tuple[str, int], sample_store: Path, tmp_path: Path,  # noqa: F811
        models: Path) -> None:  # noqa: F811
    host, port = chroma_server
    shared = {"CHROMA_HOST": host, "CHROMA_PORT": str(port), "RAG_MODEL_CACHE": str(models)}
    first = subprocess.run([*rag_command(), "ingest", str(Path(__file__).parent.parent
                                                           / "data" / "articles"), "--json"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=600,
                           env=cli_env(**shared))
    assert first.returncode == 0, first.stderr
    folder = tmp_path / "generated"
    generate_corpus(folder, 3)
    # Two replicas, each with its own local folder (as on two machines).
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    a_dir.mkdir(), b_dir.mkdir()
    with rag_serve(a_dir, RAG_STORE_DIR=str(a_dir / "local"), **shared) as a, \
            rag_serve(b_dir, RAG_STORE_DIR=str(b_dir / "local"), **shared) as b:
        assert ask(a, KNOWN)["citations"] and ask(b, KNOWN)["citations"]
        with Askers(a, 4) as askers_a, Askers(b, 4) as askers_b:
            proc = subprocess.run([*rag_command(), "ingest", str(folder), "--json"],
                                  cwd=tmp_path, capture_output=True, text=True, timeout=600,
                                  env=cli_env(RAG_STORE_DIR=str(tmp_path / "cli"), **shared))
            assert proc.returncode == 0, proc.stderr
            assert json.loads(proc.stdout)["added"] == 3
            for url in (a, b):
                deadline = time.monotonic() + 60
                while (health := httpx.get(f"{url}/healthz").json())[
                        "lexical"]["chunks"] != health["chunks"]:
                    assert time.monotonic() < deadline, health
                    time.sleep(0.5)
                # Its own lexical index caught up (above), and the answer cites the article.
                answer = ask(url, item_question(1, folder))
                assert cites_item(answer, 1), (url, answer["answer"], answer["citations"])
        assert askers_a.errors == [] and askers_b.errors == []
