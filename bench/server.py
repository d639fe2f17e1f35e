"""Server mode next to embedded, under the same load: one corpus in an embedded store and in a
real `chroma run` on loopback (CHROMA_HOST/CHROMA_PORT), each question asked of one then the
other (alternating which goes first), so a busy machine slows both alike and their ratio
holds. Retrieval and extractive `ask` p50/p95 for each, and server / embedded.

Vectors: those of the comparison run for the same texts when it ran in this process
(`Replay`), else synthetic ones (`Synthetic`: real chunk vectors plus noise, no model time).
The query and the evidence sentences always go through the real model, so the latency is
the real one; with synthetic vectors the retrieval quality is not (none is reported then).

    python -m bench.run --only server
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import Replay, RssSampler, Synthetic, dir_bytes, load, percentile
from bench.systems import Product, timed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_chroma(data: Path, port: int) -> subprocess.Popen[bytes]:
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent)) or "chroma"
    proc = subprocess.Popen([chroma, "run", "--path", str(data), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_for(port)
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_for(port: int, timeout: float = 120.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code \
                    == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"chroma server on port {port} did not start in {timeout:.0f} s")


def _side_by_side(a: Any, b: Any, questions: list[str]) -> tuple[list[float], list[float]]:
    """Milliseconds of fn_a(q) and fn_b(q) for each question, alternating which runs first."""
    ms_a, ms_b = [], []
    for i, q in enumerate(questions):
        if i % 2:
            ms_b.append(timed(b, q)[0])
            ms_a.append(timed(a, q)[0])
        else:
            ms_a.append(timed(a, q)[0])
            ms_b.append(timed(b, q)[0])
    return ms_a, ms_b


def _ratio(a: list[float], b: list[float]) -> float:
    """p50 of a over p50 of b.

    Example: _ratio([2.0, 4.0], [1.0, 3.0]) == 1.5
    """
    return round(float(np.median(a)) / float(np.median(b)), 2)


def _summary(ms: list[float], before: float) -> dict[str, Any]:
    return {"p50_ms": percentile(ms, 50), "p95_ms": percentile(ms, 95), "n": len(ms),
            "load": [before, load()]}


def run(corpus: tuple[str, Path, Path], work: Path, sampler: RssSampler, onnx: Any,
        vectors: dict[str, Any] | None, questions: list[dict[str, Any]],
        asks: int = 150) -> dict[str, Any]:
    name, docs, _ = corpus
    if vectors:
        writer: Any = Replay(onnx, vectors)
        kind = "reused from the comparison run"
    else:
        from bench.scale import _pool
        from rag.settings import load_settings

        writer = Synthetic(onnx, _pool(onnx, load_settings(store_dir=work / "unused")))
        kind = "synthetic"
    port = free_port()
    data = work / "chroma-server-data"
    proc = start_chroma(data, port)
    try:
        print(f"== server mode: chroma run on 127.0.0.1:{port} (pid {proc.pid}), "
              f"vectors {kind}", flush=True)
        embedded = Product(work / "server-embedded", onnx)
        server = Product(work / "server-aux", onnx, chroma_host="127.0.0.1", chroma_port=port)
        ingest: dict[str, Any] = {}
        for label, prod in (("embedded", embedded), ("server", server)):
            with sampler.phase() as ph:
                summary = prod.ingest([str(docs)], embedder=writer)
            ingest[label] = {**ph, **summary}
        ingest["server"]["server_bytes"] = dir_bytes(data)
        ingest["embedded"]["store_bytes"] = embedded.disk_bytes()
        texts = [q["question"] for q in questions]
        for prod in (embedded, server):
            prod.ask("What happened at the meeting on Tuesday?")  # warm both processes' paths
            prod.forget_queries()
        before = load()
        r_emb, r_srv = _side_by_side(lambda q: embedded.retrieve(q, "hybrid"),
                                     lambda q: server.retrieve(q, "hybrid"), texts)
        retrieve = {"embedded": _summary(r_emb, before), "server": _summary(r_srv, before)}
        for prod in (embedded, server):
            prod.forget_queries()
        before = load()
        a_emb, a_srv = _side_by_side(embedded.ask, server.ask, texts[:asks])
        ask = {"embedded": _summary(a_emb, before), "server": _summary(a_srv, before)}
        out = {"corpus": name, "port": port, "vectors": kind, "ingest": ingest,
               "retrieve": retrieve, "ask": ask,
               "ratio": {"retrieve_p50": _ratio(r_srv, r_emb), "ask_p50": _ratio(a_srv, a_emb)}}
        print(f"  ask p50 embedded {ask['embedded']['p50_ms']} ms, server "
              f"{ask['server']['p50_ms']} ms ({out['ratio']['ask_p50']}×); retrieve p50 "
              f"{retrieve['embedded']['p50_ms']} / {retrieve['server']['p50_ms']} ms "
              f"(load {load()})", flush=True)
        return out
    finally:
        stop(proc)
