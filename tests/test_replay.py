"""`rag ask --llm openai` over the real wire (the openai client through llama-index) against
scripts/llm_replay.py on loopback: the product's prompt is recorded, a reply is written for
it the way a capable model cites (sentence ids), and the replayed answer carries
sentence-exact citations."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import cli_env
from tests.test_ask_cli import ROOT, no_traceback, rag


@pytest.fixture
def replay(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    folder = tmp_path / "replay"
    server = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "llm_replay.py"),
                               str(port), str(folder)], env=cli_env())
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/v1", folder
    finally:
        server.terminate()
        server.wait(10)


def sentence_id(prompt: str, words: str) -> str:
    """The id the prompt gave the passage sentence holding `words`."""
    m = re.search(r"^\[(\d+\.\d+)\] [^\n]*" + re.escape(words), prompt, re.M)
    assert m, f"no numbered sentence holds {words!r}"
    return m.group(1)


def test_replayed_reply_is_answered_with_sentence_exact_citations(
        sample_store: Path, replay: tuple[str, Path]) -> None:
    url, folder = replay
    env = {"OPENAI_BASE_URL": url, "OPENAI_API_KEY": "replay", "RAG_OPENAI_MODEL": "replay"}
    question = "How many hostages remain held in Gaza?"
    first = rag("ask", "--llm", "openai", "--json", question, store=sample_store, **env)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["refused"]  # no reply recorded yet: the replay refuses
    [miss] = [json.loads(x) for x in (folder / "misses.jsonl").read_text().splitlines()]
    prompt = miss["messages"][-1]["content"]
    a = sentence_id(prompt, "remaining 97 hostages")
    b = sentence_id(prompt, "129 remaining captives")
    reply = (f"Qatar's prime minister spoke of the remaining 97 hostages held in Gaza [{a}]. "
             f"Another report says Netanyahu told relatives of 129 remaining captives [{b}].")
    (folder / "replies.jsonl").write_text(json.dumps({"key": miss["key"], "reply": reply}))

    proc = rag("ask", "--llm", "openai", "--json", question, store=sample_store, **env)
    assert proc.returncode == 0, proc.stderr
    no_traceback(proc)
    answer = json.loads(proc.stdout)
    assert not answer["refused"] and answer["backend"] == "openai"
    assert "97" in answer["answer"] and "129" in answer["answer"]
    texts = {p.name: p.read_text() for p in (ROOT / "data" / "articles").glob("*.txt")}
    for c in answer["citations"]:
        # Each quote is one whole sentence of its article, found at its offsets.
        assert any(c["quote"] in t for t in texts.values())
        assert c["quote"].endswith((".", "”", '"'))
        assert c["quote"][0].isupper()
    assert {f["value"] for f in answer["conflicts"][0]["figures"]} == {"97", "129"}
