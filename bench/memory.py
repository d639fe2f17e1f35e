"""Is peak memory during ingest bounded by the batch, not by the corpus? The same pipeline
ingests corpora of growing size, each in a fresh process, and the RSS is sampled while it
streams articles and, separately, while it rebuilds the BM25 index at the end.

The model is replaced by synthetic vectors (bench.common.Synthetic) so the runs take
minutes; the model's own memory is bounded separately (batches of at most 4,096 word
pieces, see rag/retrieve/embeddings.py) and shows in the `embedders` and `scale` sections.

    python -m bench.memory 1000 /tmp/mem-1000     # one size, prints JSON
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench import gen
from bench.common import OUT, RssSampler, Synthetic, bm25_rebuild_watched, load


def one_size(n_articles: int, work: Path) -> dict[str, Any]:
    from bench.scale import _pool
    from index.pipeline import Ingestor
    from rag.retrieve.embeddings import get_embedder
    from rag.settings import load_settings

    docs = work / "docs"
    gen.write_jsonl(docs, n_articles, per_file=250, seed=11)
    (docs / "questions.jsonl").unlink()
    settings = load_settings(store_dir=work / "store")
    onnx = get_embedder(settings)
    embedder = Synthetic(onnx, _pool(onnx, settings))
    sampler = RssSampler()
    try:
        with bm25_rebuild_watched(sampler) as rebuild, sampler.phase() as ph:
            summary = Ingestor(settings, embedder=embedder).run([str(docs)])
    finally:
        sampler.close()
    return {"articles": summary.articles, "chunks": summary.chunks, "ingest": ph,
            "stream_peak_rss_mb": rebuild.get("stream_peak_rss_mb"),
            "rebuild_peak_rss_mb": rebuild.get("peak_rss_mb"),
            "rss_start_mb": ph["rss_start_mb"],
            "ru_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def run_sizes(sizes: list[int], work: Path) -> dict[str, Any]:
    rows = []
    for n in sizes:
        print(f"== memory: ingest {n} articles (load {load()})", flush=True)
        done = subprocess.run([sys.executable, "-m", "bench.memory", str(n),
                               str(work / f"mem-{n}")], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"memory {n}: {done.stderr[-2000:]}")
        row = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"  {row['chunks']} chunks: RSS {row['rss_start_mb']} MB at start, peak "
              f"{row['stream_peak_rss_mb']} MB streaming, {row['rebuild_peak_rss_mb']} MB in "
              "the BM25 rebuild", flush=True)
        rows.append(row)
    return {"sizes": rows}


if __name__ == "__main__":
    import os

    os.environ.setdefault("RAG_MODEL_CACHE", str(OUT / "models"))
    print(json.dumps(one_size(int(sys.argv[1]), Path(sys.argv[2]))))
