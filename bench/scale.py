"""Scale runs: collections of N generated chunks (10k, 100k, 300k), each in its own process.

Embedding 300k chunks takes ~1.5 h of model time on 2 cores, so each store is built in two
parts:
1. bulk: N - SLICE chunks, cut by the product's own chunker (same ids, texts, offsets) and
   written through its Store in large batches, with synthetic vectors (real chunk vectors
   plus noise, see bench.common.Synthetic): the bench's fast path, not the product's;
2. slice: the last ~SLICE chunks through the real pipeline (`Ingestor.run` on a JSONL file)
   with the real ONNX model. Its throughput is ingest throughput *at that collection size*,
   and it ends with the real BM25 rebuild over all N chunks.
Then, in a new warm process (`measure`): retrieval p50/p95 per mode, extractive ask p50/p95,
RSS and disk, the seconds from starting `rag serve` to its first answer, the warm RSS of a
serving process with the lexical side on and off, and the seconds to add one new article.
Retrieval quality is not reported here (synthetic vectors); see the side-by-side comparison
for quality.

    python -m bench.scale 10000 /tmp/scale-10k      # one size, both steps, prints JSON
    python -m bench.scale build 100000 /tmp/s100k   # the store only (long: start it early)
    python -m bench.scale measure /tmp/s100k > /tmp/s100k.json   # with the code under test
    python -m bench.scale collect /tmp/s10k.json /tmp/s100k.json  # scale.json and the plot
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench import gen
from bench.common import (
    OUT,
    Metered,
    RssSampler,
    Synthetic,
    bm25_rebuild_watched,
    dir_bytes,
    load,
    percentile,
)
from bench.systems import Product, timed

SLICE = 1000  # chunks ingested through the real pipeline at every size
QUESTIONS = 200


def _pool(onnx: Any, settings: Any, n: int = 2000) -> np.ndarray:
    """Real vectors of n generated chunks (cached in bench/out)."""
    path = OUT / f"scale-pool-{n}.npy"
    if path.exists():
        return np.asarray(np.load(path), dtype=np.float32)
    texts: list[str] = []
    for _rec, _article, chunks, _qs in _articles(settings, onnx, 2 * n, seed=99):
        texts.extend(c.text for c in chunks)
        if len(texts) >= n:
            break
    pool = onnx.embed(texts[:n])
    OUT.mkdir(parents=True, exist_ok=True)
    np.save(path, pool)
    return pool


def _articles(settings: Any, embedder: Any, n_articles: int, seed: int = 7) -> Any:
    """(JSONL record, Article, chunks, questions) as the pipeline would make them."""
    from index.chunking import chunk_article
    from index.metadata import make_article

    def fits(text: str) -> bool:
        return bool(embedder.count_tokens(text) <= embedder.max_tokens)

    for art, qs in gen.generate(n_articles, seed):
        rec = {"title": art.title, "text": art.text.split("\n\n", 1)[1],
               "url": f"https://news.example/{art.name[:-4]}"}
        article = make_article(rec["text"], origin=rec["url"], url=rec["url"],
                               title=rec["title"])
        chunks = chunk_article(article, settings.chunk_tokens, settings.chunk_overlap, fits)
        for q in qs:
            q.sources = [rec["url"]]
        yield rec, article, chunks, qs


def _bulk(prod: Product, embedder: Any, target: int, n_articles: int, slice_file: Path
          ) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Write articles until `target` chunks through the Store in big batches, then the next
    ~SLICE chunks' records to `slice_file`; return counts and every article's questions."""
    from rag.retrieve import sentences
    from rag.retrieve.context import article_sentences

    store = prod.store()
    vectors = sentences.open_vectors(store.aux_dir(), embedder)
    chunks_buf: list[Any] = []
    arts_buf: list[tuple[Any, int]] = []
    counts = {"articles": 0, "chunks": 0, "slice_articles": 0, "slice_chunks": 0}
    questions: list[dict[str, Any]] = []

    def flush() -> None:
        if not chunks_buf:
            return
        vecs = embedder.embed([c.text for c in chunks_buf])
        store.upsert_chunks(chunks_buf, vecs, None)
        row, ids, means, docs, metas = 0, [], [], [], []
        for article, count in arts_buf:
            mean = vecs[row:row + count].mean(axis=0)
            row += count
            ids.append(article.id)
            means.append(mean / np.linalg.norm(mean))
            docs.append(article.text)
            metas.append({"title": article.title, "source": article.source, "url": article.url,
                          "origin": article.origin, "chunks": count})
        store.articles.upsert(ids=ids, embeddings=np.stack(means), documents=docs,
                              metadatas=metas)
        # The sentence vectors an ingest writes beside the store, of the same synthetic kind.
        vectors.add(sentences.embed_articles([a for a, _ in arts_buf], article_sentences,
                                             embedder.embed))
        chunks_buf.clear()
        arts_buf.clear()

    with slice_file.open("w", encoding="utf-8") as fh:
        for rec, article, chunks, qs in _articles(prod.settings, embedder, n_articles):
            questions.extend(q.__dict__ for q in qs)
            if counts["chunks"] + len(chunks) <= target:
                chunks_buf.extend(chunks)
                arts_buf.append((article, len(chunks)))
                counts["chunks"] += len(chunks)
                counts["articles"] += 1
                if len(chunks_buf) >= 4000:
                    flush()
                continue
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            counts["slice_articles"] += 1
            counts["slice_chunks"] += len(chunks)
            if counts["slice_chunks"] >= SLICE:
                break
    flush()
    vectors.close()
    return counts, questions


def build(n_chunks: int, work: Path) -> dict[str, Any]:
    """Write a store of ~n_chunks into work/store (bulk, then the slice through the real
    pipeline) and record what was built in work/build.json, so the store can be measured
    later, by another process, with other code (`measure`)."""
    from rag.retrieve.embeddings import get_embedder
    from rag.settings import load_settings

    sampler = RssSampler()
    settings = load_settings(store_dir=work / "store")
    onnx = get_embedder(settings)
    synthetic = Synthetic(onnx, _pool(onnx, settings))
    prod = Product(work / "store", onnx)
    out: dict[str, Any] = {"target_chunks": n_chunks, "slice_chunks": SLICE}
    per_article = 2.6  # chunks per generated article (calibrated on the 2,000-article corpus)
    n_articles = math.ceil(n_chunks / per_article * 1.2) + 200
    slice_file = work / "slice.jsonl"
    work.mkdir(parents=True, exist_ok=True)
    with sampler.phase() as ph:
        counts, questions = _bulk(prod, synthetic, max(n_chunks - SLICE, 0), n_articles,
                                  slice_file)
    out["bulk"] = {**ph, **counts}
    # The real pipeline on the slice, the real model; the BM25 rebuild timed on its own.
    metered = Metered(onnx)
    with bm25_rebuild_watched(sampler) as rebuild_phase, sampler.phase() as ph:
        summary = prod.ingest([str(slice_file)], embedder=metered)
    stream_s = ph["seconds"] - rebuild_phase.get("seconds", 0.0)
    out["slice"] = {**ph, **summary, **metered.figures(), "bm25_rebuild": rebuild_phase,
                    "chunks_per_s_with_model": round(summary["chunks_embedded"] / stream_s, 1),
                    "chunks_per_s_without_model": round(
                        summary["chunks_embedded"] / max(stream_s - metered.seconds, 1e-9), 1)}
    out["chunks"] = summary["chunks"]
    out["build_rss_mb"] = round(sampler.rss() / 2**20, 1)
    sampler.close()
    (work / "build.json").write_text(json.dumps({**out, "questions": questions[:QUESTIONS]}))
    return out


def measure(work: Path) -> dict[str, Any]:
    """In this (fresh) process: open the store `build` wrote, then warm-process latency per
    retrieval mode and extractive ask over questions about its articles, RSS, disk, and the
    time to add one new article (a real `rag ingest` of one file, model loaded)."""
    from rag.retrieve.embeddings import get_embedder
    from rag.settings import load_settings

    built = json.loads((work / "build.json").read_text())
    questions = built.pop("questions")
    sampler = RssSampler()
    onnx = get_embedder(load_settings(store_dir=work / "store"))
    prod = Product(work / "store", onnx)
    out: dict[str, Any] = {**built, "store_bytes": prod.disk_bytes()}
    out["lexical_bytes"] = _lexical_bytes(prod)
    texts = [q["question"] for q in questions[:QUESTIONS]]
    out["modes"] = {}
    for mode in ("hybrid", "dense", "bm25"):
        with sampler.phase() as ph:
            prod.retrieve("What happened at the meeting on Tuesday?", mode)
        prod.forget_queries()
        row: dict[str, Any] = {"first_query_s": ph["seconds"],
                               "retrieve": _latency(prod.retrieve, texts, mode)}
        if mode == "hybrid":
            prod.forget_queries()
            row["ask"] = _latency(prod.ask, texts[:100], mode)
        out["modes"][mode] = row
    out["warm_rss_mb"] = round(sampler.rss() / 2**20, 1)
    out["serve_first_answer"] = serve_first_answer(work, texts[0])
    out["serving_rss_mb"] = {side: _serving_rss(work, side) for side in ("hybrid", "off")}
    out["add_one"] = add_one_article(prod, work, sampler)
    sampler.close()
    return out


def _latency(fn: Any, questions: list[str], *args: Any) -> dict[str, Any]:
    """p50/p95 wall milliseconds per call, and p50 CPU milliseconds of this process (all
    its threads): on a loaded machine the wall time mostly measures the queue for a core,
    the CPU time what the call itself costs."""
    before = load()
    wall, cpu = [], []
    for q in questions:
        c0 = time.process_time()
        wall.append(timed(fn, q, *args)[0])
        cpu.append((time.process_time() - c0) * 1000)
    return {"p50_ms": percentile(wall, 50), "p95_ms": percentile(wall, 95),
            "cpu_p50_ms": percentile(cpu, 50), "n": len(wall), "load": [before, load()]}


def _serving_rss(work: Path, side: str) -> float:
    """Warm RSS (MB) of a fresh process that answered 100 questions: `hybrid` as shipped,
    `off` with the lexical side switched off (an empty BM25 snapshot, dense retrieval)."""
    done = subprocess.run([sys.executable, "-m", "bench.scale", "rss", str(work), side],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"rss {side}: {done.stderr[-2000:]}")
    return float(json.loads(done.stdout.strip().splitlines()[-1])["rss_mb"])


def serving_rss(work: Path, side: str) -> dict[str, Any]:
    from rag.retrieve.embeddings import get_embedder
    from rag.retrieve.postings import Snapshot
    from rag.settings import load_settings

    questions = json.loads((work / "build.json").read_text())["questions"][:100]
    sampler = RssSampler()
    prod = Product(work / "store", get_embedder(load_settings(store_dir=work / "store")))
    mode = "hybrid" if side == "hybrid" else "dense"
    svc = prod.service(mode)
    if side == "off":
        svc.lexical.snapshot = Snapshot()
    for q in questions:
        prod.ask(q["question"], mode)
    rss = round(sampler.rss() / 2**20, 1)
    sampler.close()
    return {"side": side, "rss_mb": rss}


def serve_first_answer(work: Path, question: str, timeout: float = 300) -> dict[str, Any]:
    """Seconds from starting `rag serve` on the store to its first answer over HTTP (the
    process starting, loading the model, opening the store and the lexical index, and
    answering), polled every 50 ms."""
    import os
    import socket
    import urllib.error
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "RAG_LLM": "extractive"}
    before = load()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "ui.cli", "serve", "--store",
                             str(work / "store"), "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    body = json.dumps({"question": question}).encode()
    try:
        while time.perf_counter() - t0 < timeout:
            if proc.poll() is not None:
                raise RuntimeError(f"rag serve exited with {proc.returncode}")
            try:
                req = urllib.request.Request(f"http://127.0.0.1:{port}/api/ask", data=body,
                                             headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(req, timeout=60) as resp:
                    json.loads(resp.read())
                return {"seconds": round(time.perf_counter() - t0, 3), "load": [before, load()]}
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.05)
        raise RuntimeError("rag serve gave no answer in time")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def add_one_article(prod: Product, work: Path, sampler: RssSampler) -> dict[str, Any]:
    """Seconds for `rag ingest` of one new article (as a file) into the store: load, chunk,
    embed with the real model, write, and bring the lexical index up to date. Each call
    writes an article never seen before, so it is always a real addition."""
    art = next(iter(gen.generate(1, seed=int(time.time()))))[0]
    path = work / f"new-{time.time_ns()}.txt"
    path.write_text(art.text + f"\n\nFiled {time.time_ns()}.\n", encoding="utf-8")
    with sampler.phase() as ph:
        summary = prod.ingest([str(path)])
    return {**ph, **summary}


def _lexical_bytes(prod: Product) -> int | None:
    """Bytes of the lexical index files beside the store (whatever form they take)."""
    aux = prod.settings.store_dir / "aux"
    return dir_bytes(aux) if aux.exists() else None


def one_size(n_chunks: int, work: Path) -> dict[str, Any]:
    build(n_chunks, work)
    done = subprocess.run([sys.executable, "-m", "bench.scale", "measure", str(work)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"scale {n_chunks}: {done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def run_sizes(sizes: list[int], work: Path, quick: bool = False) -> dict[str, Any]:
    """Each size in a fresh process (clean memory figures); a plot in bench/out."""
    rows = []
    for n in sizes:
        where = work / f"scale-{n}"
        print(f"== scale {n} chunks (load {load()})", flush=True)
        done = subprocess.run([sys.executable, "-m", "bench.scale", str(n), str(where)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"scale {n}: {done.stderr[-2000:]}")
        row = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f"  {row['chunks']} chunks: hybrid p50 "
              f"{row['modes']['hybrid']['retrieve']['p50_ms']} ms, ask p50 "
              f"{row['modes']['hybrid']['ask']['p50_ms']} ms, rss {row['warm_rss_mb']} MB",
              flush=True)
        import shutil

        shutil.rmtree(where, ignore_errors=True)
    from bench.plot import plot_scale

    png = plot_scale(rows, OUT / ("scale-quick.png" if quick else "scale.png"))
    return {"sizes": rows, "plot": str(png.relative_to(OUT.parent.parent))}


def collect(row_files: list[Path]) -> dict[str, Any]:
    """bench/results/scale.json and the plot (bench/out/scale.png, docs/bench-scale.png)
    from rows that `measure` printed, one file each (sizes built and measured apart)."""
    import os
    import shutil

    from bench.common import RESULTS, ROOT
    from bench.plot import plot_scale

    rows = [json.loads(f.read_text().strip().splitlines()[-1]) for f in row_files]
    png = plot_scale(rows, OUT / "scale.png")
    shutil.copy(png, ROOT / "docs" / "bench-scale.png")
    data = {"when": time.strftime("%Y-%m-%d %H:%M:%S"), "cpus": os.cpu_count(),
            "quick": False, "sizes": rows, "plot": str(png.relative_to(ROOT))}
    (RESULTS / "scale.json").write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    return {"sizes": [r["chunks"] for r in rows], "plot": data["plot"]}


if __name__ == "__main__":
    import os

    os.environ.setdefault("RAG_MODEL_CACHE", str(OUT / "models"))
    if sys.argv[1] == "build":  # build N DIR: the store only (then `measure DIR`, any time)
        result = build(int(sys.argv[2]), Path(sys.argv[3]))
    elif sys.argv[1] == "measure":  # measure DIR: a store `build` left there
        result = measure(Path(sys.argv[2]))
    elif sys.argv[1] == "rss":  # rss DIR hybrid|off: one serving process's warm RSS
        result = serving_rss(Path(sys.argv[2]), sys.argv[3])
    elif sys.argv[1] == "collect":  # collect ROW.json...: the measured rows as scale.json
        result = collect([Path(a) for a in sys.argv[2:]])
    else:  # N DIR: both
        result = one_size(int(sys.argv[1]), Path(sys.argv[2]))
    print(json.dumps(result))
