"""The benchmark: this product against the llama-index starter pipeline, in one process, on
the same corpora and questions, with the same embedding model; then a Chroma server, start-up
times, the embedder variants, and the scale runs. Prints tables; writes JSON.

    python -m bench.run                    # everything (≈1 h on 2 cores); results → bench/results
    python -m bench.run --quick            # small sizes, a few minutes; results → bench/out
    python -m bench.run --only compare,startup --articles 500
    python -m bench.run --only scale --sizes 10000,100000,300000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import gen
from bench.common import (
    OUT,
    RESULTS,
    ROOT,
    Metered,
    RssSampler,
    load,
    percentile,
    rank_metrics,
)
from bench.systems import Product, Starter, timed

SECTIONS = ("compare", "server", "startup", "embedders", "memory", "scale")
SAMPLE_Q = "How many hostages remain held in Gaza?"
ASKS = {"hybrid": 150, "dense": 40, "bm25": 40}  # questions timed through ask, per mode


def _questions(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def corpora(articles: int) -> list[tuple[str, Path, Path]]:
    """(name, folder of articles, questions.jsonl): the sample corpus and its seed set, and a
    generated news-like corpus (made once per size and seed, in bench/out)."""
    folder = OUT / f"gen-{articles}"
    if not (folder / "questions.jsonl").exists():
        gen.write_txt(folder, articles, seed=7)
    return [("sample", ROOT / "data" / "articles", ROOT / "evals" / "sets" / "seed.jsonl"),
            (f"generated-{articles}", folder / "articles", folder / "questions.jsonl")]


def _latency(fn: Any, questions: list[str], *args: Any) -> dict[str, Any]:
    ms = []
    before = load()
    for q in questions:
        ms.append(timed(fn, q, *args)[0])
    return {"p50_ms": percentile(ms, 50), "p95_ms": percentile(ms, 95), "n": len(ms),
            "load": [before, load()]}


def _quality(rank: Any, qs: list[dict[str, Any]], *args: Any) -> dict[str, float]:
    scored = [q for q in qs if q.get("answerable", True) and q.get("sources")]
    return rank_metrics([rank(q["question"], *args) for q in scored],
                        [set(q["sources"]) for q in scored])


def measure_product(prod: Product, qs: list[dict[str, Any]], modes: tuple[str, ...]
                    ) -> dict[str, Any]:
    """Per mode: retrieval latency (fresh query cache), hit@5/MRR@5, extractive ask latency."""
    texts = [q["question"] for q in qs]
    out: dict[str, Any] = {}
    for mode in modes:
        prod.retrieve("What happened at the meeting on Tuesday?", mode)  # warm the process
        prod.forget_queries()
        row: dict[str, Any] = {"retrieve": _latency(prod.retrieve, texts, mode)}
        row["quality"] = _quality(prod.rank, qs, mode)
        row["quality_served"] = _quality(prod.rank_served, qs, mode)
        prod.forget_queries()
        # ask costs ~10× a retrieval (it embeds every candidate sentence): fewer questions
        # for the secondary modes keeps the run under an hour on 2 cores.
        row["ask"] = _latency(prod.ask, texts[:ASKS[mode]], mode)
        out[mode] = row
        print(f"    {mode:7s} hit@5 {row['quality']['hit@5']:.3f} "
              f"mrr@5 {row['quality']['mrr@5']:.3f} (served: "
              f"{row['quality_served']['hit@5']:.3f} / {row['quality_served']['mrr@5']:.3f}) "
              f"retrieve p50 {row['retrieve']['p50_ms']} ms"
              f" ask p50 {row['ask']['p50_ms']} ms (load {load()})", flush=True)
    return out


def compare(corpus: tuple[str, Path, Path], work: Path, sampler: RssSampler, onnx: Any,
            st: Any, keep: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    name, docs, qpath = corpus
    qs = _questions(qpath)
    print(f"== {name}: {docs} ({len(qs)} questions)", flush=True)
    metered = Metered(onnx, keep=keep)
    prod = Product(work / f"{name}-product", onnx)
    with sampler.phase() as ph:
        summary = prod.ingest([str(docs)], embedder=metered)
    product = {"ingest": {**ph, **summary, **metered.figures(), "store_bytes": prod.disk_bytes()}}
    print(f"  product ingest {ph['seconds']} s, {summary['chunks']} chunks, "
          f"{metered.figures()['tokens_per_s']} tok/s", flush=True)
    product["modes"] = measure_product(prod, qs, ("hybrid", "dense", "bm25"))
    result: dict[str, Any] = {"corpus": name, "questions": len(qs), "product": product}
    if st is not None:
        st_metered = Metered(st)
        starter = Starter(work / f"{name}-starter", st_metered)
        with sampler.phase() as ph:
            info = starter.ingest(docs)
        texts = [q["question"] for q in qs]
        starter.retrieve("What happened at the meeting on Tuesday?")
        ingest = {**ph, **info, **st_metered.figures(), "store_bytes": starter.disk_bytes()}
        result["starter"] = {
            "ingest": ingest,
            "retrieve": _latency(starter.retrieve, texts),
            "quality": _quality(starter.rank, qs)}
        print(f"  starter ingest {ph['seconds']} s, {info['chunks']} chunks, "
              f"{ingest['tokens_per_s']} tok/s, hit@5 "
              f"{result['starter']['quality']['hit@5']:.3f}", flush=True)
    return result, metered.kept


def startup(store: Path, reps: int) -> dict[str, Any]:
    """`rag --help` and a cold `rag ask` (new process each time), now and with the old
    sentence-transformers embedder swapped back in (the 'before')."""
    rag = Path(sys.executable).parent / "rag"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "CHROMA_"))}
    env["RAG_MODEL_CACHE"] = os.environ["RAG_MODEL_CACHE"]
    old = ("import sys, rag.retrieve.embeddings as e;"
           " e.REGISTRY['minilm'] = e.SentenceTransformerMiniLM;"
           " from ui.cli import main; sys.exit(main(sys.argv[1:]))")
    runs = {"help": [str(rag), "--help"],
            "ask_cold": [str(rag), "ask", SAMPLE_Q, "--store", str(store), "--llm", "extractive"],
            "ask_cold_before": [sys.executable, "-c", old, "ask", SAMPLE_Q, "--store",
                                str(store), "--llm", "extractive"]}
    out: dict[str, Any] = {}
    for name, cmd in runs.items():
        secs, loads = [], []
        for _ in range(reps if name != "ask_cold_before" else max(2, reps // 2)):
            loads.append(load())
            t0 = time.perf_counter()
            done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
            secs.append(time.perf_counter() - t0)
            if done.returncode != 0:
                raise RuntimeError(f"{cmd}: {done.stderr[-500:]}")
        out[name] = {"median_s": percentile(secs, 50), "min_s": round(min(secs), 3),
                     "runs": len(secs), "load": loads}
        print(f"  {name}: median {out[name]['median_s']} s (load {loads})", flush=True)
    out["ttft_local"] = ttft(store, env)
    return out


def ttft(store: Path, env: dict[str, str]) -> dict[str, Any] | None:
    """Time to first token of the local backend (SmolLM2-135M), in its own process."""
    import importlib.util

    gguf = ROOT / ".cache" / "models" / "smollm2-135m-instruct.gguf"
    if importlib.util.find_spec("rag.answer.llm.clients") is None or not gguf.is_file():
        return None
    try:
        done = subprocess.run([sys.executable, "-m", "bench.ttft", str(store), str(gguf)],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return {"model": gguf.name, "error": "no answer in 300 s", "load": load()}
    if done.returncode != 0:
        return {"model": gguf.name, "error": done.stderr.strip()[-300:], "load": load()}
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"  local LLM time to first token p50 {out['ttft_p50_s']} s (load {load()})")
    return out


def save(name: str, data: dict[str, Any], quick: bool) -> Path:
    folder = OUT / "quick" if quick else RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    data = {"when": time.strftime("%Y-%m-%d %H:%M:%S"), "cpus": os.cpu_count(),
            "quick": quick, **data}
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Benchmark the product against the llama-index "
                                             "starter pipeline.")
    ap.add_argument("--quick", action="store_true",
                    help="small sizes (200 articles, 2k/5k chunks); results go to bench/out")
    ap.add_argument("--articles", type=int, help="generated corpus size (default 2000)")
    ap.add_argument("--sizes", help="scale runs, chunks (default 10000,100000,300000)")
    ap.add_argument("--only", help=f"comma-separated sections of {','.join(SECTIONS)}")
    ap.add_argument("--reps", type=int, default=5, help="repetitions of the start-up timings")
    args = ap.parse_args(argv)
    only = set(args.only.split(",")) if args.only else set(SECTIONS)
    articles = args.articles or (200 if args.quick else 2000)
    sizes = args.sizes or ("2000,5000" if args.quick else "10000,100000,300000")
    OUT.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("RAG_MODEL_CACHE", str(OUT / "models"))  # one export for every store
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

    from rag.retrieve.embeddings import SentenceTransformerMiniLM, get_embedder
    from rag.settings import load_settings

    sampler = RssSampler()
    work = Path(tempfile.mkdtemp(prefix="rag-bench-"))
    written = []
    try:
        settings = load_settings(store_dir=work / "unused")
        t0 = time.perf_counter()
        onnx = get_embedder(settings)
        onnx_load = round(time.perf_counter() - t0, 3)
        sample_store = work / "sample-product"
        if only & {"compare", "server", "startup"}:
            st = None
            st_load = None
            if "compare" in only:
                t0 = time.perf_counter()
                st = SentenceTransformerMiniLM(settings, batch=10)
                st_load = round(time.perf_counter() - t0, 3)
            results, kept = [], {}
            for corpus in corpora(articles):
                if "compare" not in only and (corpus[0] != "sample" or "startup" not in only):
                    continue  # (the sample store is what start-up is timed on)
                res, vecs = compare(corpus, work, sampler, onnx, st, keep="server" in only)
                results.append(res)
                if corpus[0] != "sample":
                    kept = vecs  # the server run's corpus: its vectors, ready to reuse
            if "compare" in only:
                written.append(save("compare", {"model_load_s": {"onnx": onnx_load,
                                                                 "sentence_transformers":
                                                                     st_load},
                                                "corpora": results}, args.quick))
            if "server" in only:
                from bench.server import run as run_server

                gen_corpus = corpora(articles)[1]
                written.append(save("server", run_server(
                    gen_corpus, work, sampler, onnx, kept, _questions(gen_corpus[2]),
                    asks=ASKS["hybrid"]), args.quick))
        if "startup" in only:
            written.append(save("startup", startup(sample_store, args.reps), args.quick))
        if "embedders" in only:
            from bench.embedders import run as run_embedders

            written.append(save("embedders", run_embedders(corpora(articles)[1][1], settings,
                                                           quick=args.quick), args.quick))
        if "memory" in only:
            from bench.memory import run_sizes as memory_sizes

            written.append(save("memory", memory_sizes([250, 1000, 4000] if not args.quick
                                                       else [100, 400], work), args.quick))
        if "scale" in only:
            from bench.scale import run_sizes

            written.append(save("scale", run_sizes([int(s) for s in sizes.split(",")], work,
                                                   quick=args.quick), args.quick))
    finally:
        sampler.close()
        shutil.rmtree(work, ignore_errors=True)
    from bench.table import render

    print(render([p.parent for p in written][:1] or [RESULTS]))
    print("wrote", *written)
    return 0


if __name__ == "__main__":
    sys.exit(main())
