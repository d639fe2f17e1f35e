"""Before/after for the embedder: the same chunks through sentence-transformers (the old
backend) and the ONNX backend with its options: thread count, length sorting, int8."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import load, percentile
from rag.settings import Settings


def _chunks(folder: Path, settings: Settings, embedder: Any, n: int) -> list[str]:
    from index.chunking import chunk_article
    from index.metadata import make_article

    texts: list[str] = []
    for path in sorted(folder.glob("*.txt")):
        article = make_article(path.read_text(encoding="utf-8"), origin=str(path))
        texts.extend(c.text for c in chunk_article(
            article, settings.chunk_tokens, settings.chunk_overlap,
            lambda t: bool(embedder.count_tokens(t) <= embedder.max_tokens)))
        if len(texts) >= n:
            break
    return texts[:n]


def _throughput(embed: Any, texts: list[str], tokens: int, batch: int | None) -> dict[str, Any]:
    before = load()
    t0 = time.perf_counter()
    if batch:  # one call per consecutive batch: no sorting across the corpus
        vecs = np.concatenate([embed(texts[i:i + batch]) for i in range(0, len(texts), batch)])
    else:
        vecs = embed(texts)
    secs = time.perf_counter() - t0
    queries = ["How many people were displaced by the floods?", "Who scored the winning goal?",
               "What did the central bank decide?"] * 10
    ms = []
    for q in queries:
        t1 = time.perf_counter()
        embed([q])
        ms.append((time.perf_counter() - t1) * 1000)
    return {"seconds": round(secs, 3), "tokens_per_s": round(tokens / secs, 1),
            "chunks_per_s": round(len(texts) / secs, 1), "query_p50_ms": percentile(ms, 50),
            "load": [before, load()], "_vecs": vecs}


def run(folder: Path, settings: Settings, quick: bool = False) -> dict[str, Any]:
    from rag.retrieve.embeddings import MiniLMEmbedder, SentenceTransformerMiniLM

    fp32 = MiniLMEmbedder(settings)
    texts = _chunks(folder, settings, fp32, 96 if quick else 320)
    tokens = sum(min(fp32.count_tokens(t), fp32.max_tokens) for t in texts)
    print(f"== embedders: {len(texts)} chunks, {tokens} word pieces (load {load()})", flush=True)
    rows: dict[str, dict[str, Any]] = {}
    st = SentenceTransformerMiniLM(settings, batch=settings.embed_batch)
    st.embed(texts[:8])
    rows["sentence-transformers (before)"] = _throughput(st.embed, texts, tokens, None)
    variants = {"onnx fp32, 1 thread": (MiniLMEmbedder(settings, threads=1), None),
                "onnx fp32, 2 threads, unsorted batches": (fp32, settings.embed_batch),
                "onnx fp32, 2 threads, length-sorted (default)": (fp32, None),
                "onnx int8, 2 threads, length-sorted (opt-in)":
                    (MiniLMEmbedder(settings, quantized=True), None)}
    for name, (model, batch) in variants.items():
        model.embed(texts[:8])
        rows[name] = _throughput(model.embed, texts, tokens, batch)
    ref = rows["sentence-transformers (before)"]["_vecs"]
    for name, row in rows.items():
        cos = (row.pop("_vecs") * ref).sum(axis=1)
        row["cosine_vs_st_min"] = round(float(cos.min()), 5)
        row["cosine_vs_st_mean"] = round(float(cos.mean()), 5)
        row["speedup_vs_before"] = round(
            rows["sentence-transformers (before)"]["seconds"] / row["seconds"], 2)
        print(f"  {name:48s} {row['tokens_per_s']:>9} tok/s  query {row['query_p50_ms']} ms"
              f"  cos min {row['cosine_vs_st_min']}  (load {row['load']})", flush=True)
    return {"chunks": len(texts), "tokens": tokens, "variants": rows}
