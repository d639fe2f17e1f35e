"""`rag ask` as a user runs it: sources below the answer, JSON on request, and one clear
line (never a traceback) for each way it can fail."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import cli_env


def rag(*args: str, store: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ui.cli", *args], capture_output=True,
                          text=True, timeout=300, cwd=store.parent,
                          env=cli_env(RAG_STORE_DIR=str(store), PYTHONPATH=str(ROOT), **env))


ROOT = Path(__file__).resolve().parent.parent


def no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout


def test_ask_prints_answer_and_sources(sample_store: Path) -> None:
    proc = rag("ask", "How many hostages remain held in Gaza?", store=sample_store)
    assert proc.returncode == 0, proc.stderr
    no_traceback(proc)
    out = proc.stdout
    assert "97" in out and "129" in out
    assert "Sources" in out and "[1]" in out and "[2]" in out
    # Each link opens the file at the quote: path:line:column and the quote's characters
    # in the file (not in the cleaned text, which lost the file's [Source: …] header).
    links = re.findall(r"^\s+(/\S+):(\d+):(\d+) \(characters (\d+)-(\d+) of the file\)$",
                       out, re.M)
    assert links, out
    quotes = re.findall(r"“(.*?)”\n", out, re.S)
    for (path, line, col, start, end), quote in zip(links, quotes, strict=False):
        raw = Path(path).read_text(encoding="utf-8")
        assert " ".join(raw[int(start):int(end)].split()) == " ".join(quote.split())
        assert raw.splitlines()[int(line) - 1][int(col) - 1:].startswith(quote.split()[0])


def test_ask_json_and_history(sample_store: Path, tmp_path: Path) -> None:
    history = tmp_path / "h.json"
    history.write_text(json.dumps([{"role": "user", "content": "Who is the head of UNRWA?"}]))
    proc = rag("ask", "What did he call for?", "--history", str(history), "--json",
               store=sample_store)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert "UNRWA" in data["standalone_question"] and data["citations"]


@pytest.mark.parametrize("content, message", [
    ("not json", "not a JSON file"),
    ('{"role": "user"}', "expected a list"),
])
def test_bad_history_file(sample_store: Path, tmp_path: Path, content: str, message: str) -> None:
    history = tmp_path / "h.json"
    history.write_text(content)
    proc = rag("ask", "What did he call for?", "--history", str(history), store=sample_store)
    assert proc.returncode == 1 and message in proc.stderr
    no_traceback(proc)


def test_empty_question_fails_cleanly(sample_store: Path) -> None:
    proc = rag("ask", "  ", store=sample_store)
    assert proc.returncode == 1 and "question is empty" in proc.stderr
    no_traceback(proc)


def test_undecodable_bytes_in_the_question_fail_cleanly(sample_store: Path) -> None:
    # A terminal in another encoding sends bytes that are not UTF-8: Python hands them over
    # as lone surrogates, which no tokenizer can encode.
    proc = subprocess.run([sys.executable, "-m", "ui.cli", "ask", b"hostages \xff gaza"],
                          capture_output=True, text=True, timeout=300, cwd=sample_store.parent,
                          env=cli_env(RAG_STORE_DIR=str(sample_store), PYTHONPATH=str(ROOT)))
    assert proc.returncode == 1 and "not text (U+DCFF at position 9)" in proc.stderr
    no_traceback(proc)


def test_asking_before_ingesting(tmp_path: Path) -> None:
    proc = rag("ask", "Anything?", store=tmp_path / "nothing-here")
    assert proc.returncode == 1 and "rag ingest" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    no_traceback(proc)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_openai_endpoint(sample_store: Path) -> None:
    proc = rag("ask", "Which U.S. envoy visited Beirut?", store=sample_store,
               RAG_LLM="openai", OPENAI_BASE_URL=f"http://127.0.0.1:{_closed_port()}/v1",
               RAG_LLM_TIMEOUT="5")
    assert proc.returncode == 1 and "cannot reach" in proc.stderr
    no_traceback(proc)


def test_missing_local_model_file(sample_store: Path, tmp_path: Path) -> None:
    proc = rag("ask", "Which U.S. envoy visited Beirut?", store=sample_store,
               RAG_LLM="local", RAG_LOCAL_MODEL=str(tmp_path / "nope.gguf"))
    assert proc.returncode == 1 and "no model file" in proc.stderr
    no_traceback(proc)


def test_bad_setting_names_the_variable(sample_store: Path) -> None:
    proc = rag("ask", "x?", store=sample_store, RAG_TOP_K="many")
    assert proc.returncode == 1 and "RAG_TOP_K" in proc.stderr
    no_traceback(proc)


def test_a_reader_that_leaves_early_gets_no_error_message(sample_store: Path) -> None:
    # `rag ask ... | head -1`: the pipe closes before the answer is written.
    proc = subprocess.Popen([sys.executable, "-m", "ui.cli", "ask", "How many hostages remain?"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=sample_store.parent,
                            env=cli_env(RAG_STORE_DIR=str(sample_store), PYTHONPATH=str(ROOT)))
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=300) == 141
    assert err == ""


def test_serve_takes_host_and_port_flags(sample_store: Path) -> None:
    import httpx

    port = _closed_port()
    proc = subprocess.Popen([sys.executable, "-m", "ui.cli", "serve", "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=sample_store.parent,
                            env=cli_env(RAG_STORE_DIR=str(sample_store), PYTHONPATH=str(ROOT),
                                        RAG_PORT="1"))  # the flag wins over the environment
    try:
        for _ in range(1200):
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()
                import time

                time.sleep(0.25)
        assert r.status_code == 200 and r.json()["ok"] is True
    finally:
        proc.terminate()
        proc.wait(timeout=60)
