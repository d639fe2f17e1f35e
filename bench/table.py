"""Markdown tables (and the goals check) from the benchmark's JSON results.

    python -m bench.table                              # print, from bench/results
    python -m bench.table --write docs/benchmarks.md   # the page the README links to
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench.common import RESULTS, ROOT

COMMANDS = {
    "server": "`python -m bench.run --only server`",
    "scale": "Per size: `python -m bench.scale build N DIR`, then `python -m bench.scale measure "
             "DIR > ROW.json`; `python -m bench.scale collect ROW.json...`",
}


def _read(folder: Path, name: str) -> dict[str, Any] | None:
    path = folder / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _ms(d: dict[str, Any] | None) -> str:
    """p50 / p95 wall ms, and the p50 CPU ms of the call where measured.

    Example: _ms({"p50_ms": 20, "p95_ms": 30, "cpu_p50_ms": 12}) == "20.0 / 30.0 (CPU 12.0)"
    """
    if not d or d.get("p50_ms") is None:
        return "–"
    cpu = f" (CPU {d['cpu_p50_ms']:.1f})" if d.get("cpu_p50_ms") is not None else ""
    return f"{d['p50_ms']:.1f} / {d['p95_ms']:.1f}{cpu}"


def _mb(n: float | None) -> str:
    return "–" if n is None else f"{n / 2**20:,.1f}"


def _load(*loads: Any) -> str:
    flat = [x for v in loads for x in (v if isinstance(v, list) else [v]) if x is not None]
    return f"{min(flat):.1f}–{max(flat):.1f}" if flat else "–"


def _served(mode: dict[str, Any]) -> str:
    q = mode.get("quality_served")
    return f"{q['hit@5']:.3f} / {q['mrr@5']:.3f}" if q else "not measured"


def compare_table(c: dict[str, Any]) -> str:
    p, s = c["product"], c.get("starter")
    m = p["modes"]
    cols = [m["hybrid"], m["dense"], m["bm25"]]
    ing = p["ingest"]
    rows = [
        ("hit@5 (gold among top 5 articles)", *(f"{x['quality']['hit@5']:.3f}" for x in cols),
         f"{s['quality']['hit@5']:.3f}" if s else "–"),
        ("MRR@5", *(f"{x['quality']['mrr@5']:.3f}" for x in cols),
         f"{s['quality']['mrr@5']:.3f}" if s else "–"),
        ("hit@5 / MRR@5 as served (reranked passages `ask` answers from)",
         *(_served(x) for x in cols), "–"),
        ("retrieval p50 / p95 ms", *(_ms(x["retrieve"]) for x in cols),
         _ms(s["retrieve"]) if s else "–"),
        ("`ask` p50 / p95 ms (extractive)", *(_ms(x["ask"]) for x in cols),
         "n/a (needs an LLM)"),
        ("chunks", f"{ing['chunks']:,}", "same store", "same store",
         f"{s['ingest']['chunks']:,}" if s else "–"),
        ("ingest s", f"{ing['seconds']:.1f}", "", "",
         f"{s['ingest']['seconds']:.1f}" if s else "–"),
        ("word pieces embedded", f"{ing['embedded_tokens']:,}", "", "",
         f"{s['ingest']['embedded_tokens']:,}" if s else "–"),
        ("embedded tokens/s", f"{ing['tokens_per_s']:,.0f}", "", "",
         f"{s['ingest']['tokens_per_s']:,.0f}" if s else "–"),
        ("peak RSS during ingest MiB", f"{ing['peak_rss_mb']:,.0f}", "", "",
         f"{s['ingest']['peak_rss_mb']:,.0f}" if s else "–"),
        ("store on disk MiB", _mb(ing["store_bytes"]), "", "",
         _mb(s["ingest"]["store_bytes"]) if s else "–"),
        ("load avg during", _load(ing["load"], *(x["retrieve"]["load"] for x in cols)), "", "",
         _load(s["ingest"]["load"], s["retrieve"]["load"]) if s else "–"),
    ]
    head = ("| " + c["corpus"] + f" ({c['questions']} questions) | product (hybrid) | "
            "product, dense only | BM25 only | llama-index starter |\n|---|---|---|---|---|")
    return head + "\n" + "\n".join("| " + " | ".join(r) + " |" for r in rows)


def _was(new: str, old: str | None) -> str:
    """A figure next to the one it replaces.

    Example: _was("25.0", "63.9") == "25.0 (was 63.9)"
    """
    return f"{new} (was {old})" if old and old != new else new


def server_table(sv: dict[str, Any], before: dict[str, Any] | None = None) -> str:
    """Embedded and server side by side (`bench.server`), the old server-only row beside."""
    if "ask" not in sv:  # the older shape: server only
        h = sv["modes"]["hybrid"]
        return ("| Chroma server (`chroma run`, loopback) | product (hybrid) |\n|---|---|\n"
                f"| corpus | {sv['corpus']} |\n"
                f"| retrieval p50 / p95 ms | {_ms(h['retrieve'])} |\n"
                f"| `ask` p50 / p95 ms | {_ms(h['ask'])} |\n"
                f"| load avg | {_load(h['retrieve']['load'], h['ask']['load'])} |")
    old = before["modes"]["hybrid"] if before and "modes" in before else None
    e, s = sv["ingest"]["embedded"], sv["ingest"]["server"]
    rows = [
        ("retrieval p50 / p95 ms", _ms(sv["retrieve"]["embedded"]),
         _was(_ms(sv["retrieve"]["server"]), _ms(old["retrieve"]) if old else None),
         f"{sv['ratio']['retrieve_p50']:.2f}×"),
        ("`ask` p50 / p95 ms (extractive)", _ms(sv["ask"]["embedded"]),
         _was(_ms(sv["ask"]["server"]), _ms(old["ask"]) if old else None),
         f"{sv['ratio']['ask_p50']:.2f}×"),
        ("questions timed (retrieve / ask)", f"{sv['retrieve']['embedded']['n']} / "
         f"{sv['ask']['embedded']['n']}", "same, alternating", ""),
        (f"ingest s (vectors {sv['vectors']})", f"{e['seconds']:.1f}", f"{s['seconds']:.1f}", ""),
        ("data on disk MiB", _mb(e.get("store_bytes")), _mb(s.get("server_bytes")), ""),
        ("load avg", _load(sv["retrieve"]["embedded"]["load"], sv["ask"]["embedded"]["load"]),
         _was("same", _load(old["retrieve"]["load"], old["ask"]["load"]) if old else None), ""),
    ]
    head = (f"| {sv['corpus']}, hybrid | embedded | Chroma server (`chroma run`, loopback) | "
            "server / embedded |\n|---|---|---|---|")
    return head + "\n" + "\n".join("| " + " | ".join(r) + " |" for r in rows)


def startup_table(st: dict[str, Any]) -> str:
    rows = [("`rag --help`", st["help"]), ("cold `rag ask` (ONNX embedder)", st["ask_cold"]),
            ("cold `rag ask`, before (sentence-transformers)", st["ask_cold_before"])]
    out = ["| start-up (new process each run) | median s | min s | load avg |",
           "|---|---|---|---|"]
    out += [f"| {n} | {r['median_s']:.2f} | {r['min_s']:.2f} | {_load(r['load'])} |"
            for n, r in rows]
    t = st.get("ttft_local")
    if t and t.get("error"):
        out.append(f"| local LLM ({t['model']}): time to first token | {t['error']} | | |")
    elif t:
        out.append(f"| local LLM ({t['model']}): time to first token, warm | "
                   f"{t['ttft_p50_s']:.2f} | {min(r['ttft_s'] for r in t['warm']):.2f} | "
                   f"{_load([r['load'] for r in t['warm']])} |")
        out.append(f"| local LLM: first question (model load included) | "
                   f"{t['first_is_cold']['ttft_s']:.2f} | | {t['first_is_cold']['load']:.1f} |")
    return "\n".join(out)


def embedders_table(e: dict[str, Any]) -> str:
    out = [f"| embedder ({e['chunks']} chunks, {e['tokens']:,} word pieces) | tokens/s | "
           "× before | query p50 ms | cosine vs sentence-transformers (min) | load avg |",
           "|---|---|---|---|---|---|"]
    out += [f"| {n} | {r['tokens_per_s']:,.0f} | {r['speedup_vs_before']:.2f} | "
            f"{r['query_p50_ms']:.1f} | {r['cosine_vs_st_min']:.4f} | {_load(r['load'])} |"
            for n, r in e["variants"].items()]
    return "\n".join(out)


def memory_table(m: dict[str, Any]) -> str:
    out = ["| ingest (synthetic vectors) | chunks | RSS at start MiB | peak while streaming MiB | "
           "peak in BM25 rebuild MiB | load avg |", "|---|---|---|---|---|---|"]
    out += [f"| {r['articles']:,} articles | {r['chunks']:,} | {r['rss_start_mb']:,.0f} | "
            f"{r['stream_peak_rss_mb']:,.0f} | {r['rebuild_peak_rss_mb']:,.0f} | "
            f"{_load(r['ingest']['load'])} |" for r in m["sizes"]]
    return "\n".join(out)


def scale_table(sc: dict[str, Any], before: dict[str, Any] | None = None) -> str:
    """One row per size; where an earlier run measured the same size (within 5%), its
    figure follows in brackets."""
    old_rows = (before or {}).get("sizes", [])
    out = ["| chunks | retrieve p50 / p95 ms hybrid | dense | BM25 | `ask` p50 / p95 ms | "
           "add one article s | BM25 rebuild s | peak RSS ingest MiB | RSS warm MiB | "
           "first answer after `rag serve` s | serving RSS MiB: hybrid / lexical off | "
           "disk MiB | load avg |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(sc["sizes"], key=lambda r: r["chunks"]):
        o = next((x for x in old_rows if abs(x["chunks"] - r["chunks"]) <= 0.05 * r["chunks"]),
                 None)

        def cell(mode: str, what: str, row: dict[str, Any] = r, old: Any = o) -> str:
            new = _ms(row["modes"][mode].get(what))
            return _was(new, _ms(old["modes"][mode].get(what)) if old else None)

        def loads(row: dict[str, Any] | None) -> str | None:
            if row is None:
                return None
            h = row["modes"]["hybrid"]
            return _load(h["retrieve"]["load"], h["ask"]["load"])

        rebuild = r["slice"].get("bm25_rebuild", {}).get("seconds")
        add = r.get("add_one")
        cells = [f"{r['chunks']:,}", cell("hybrid", "retrieve"), cell("dense", "retrieve"),
                 cell("bm25", "retrieve"), cell("hybrid", "ask"),
                 f"{add['seconds']:.2f}" if add else "–",
                 f"{rebuild:.1f}" if rebuild is not None else "–",
                 f"{r['slice']['peak_rss_mb']:,.0f}", f"{r['warm_rss_mb']:,.0f}",
                 _first_answer(r), _serving_rss(r),
                 _was(_mb(r["store_bytes"]), _mb(o["store_bytes"]) if o else None),
                 _was(str(loads(r)), loads(o))]
        out.append("| " + " | ".join(cells) + " |")
    for o in old_rows:  # sizes the new run did not reach
        if not any(abs(o["chunks"] - r["chunks"]) <= 0.05 * o["chunks"] for r in sc["sizes"]):
            h = o["modes"]["hybrid"]
            out.append(f"| {o['chunks']:,} | not rerun (was {_ms(h['retrieve'])}) | | | "
                       f"(was {_ms(h['ask'])}) | | | | | | | | |")
    return "\n".join(out)


def _first_answer(row: dict[str, Any]) -> str:
    first = row.get("serve_first_answer")
    return f"{first['seconds']:.2f} (load {_load(first['load'])})" if first else "–"


def _serving_rss(row: dict[str, Any]) -> str:
    rss = row.get("serving_rss_mb")
    return f"{rss['hybrid']:,.0f} / {rss['off']:,.0f}" if rss else "–"


def ab_table(ab: dict[str, Any]) -> str:
    """The same store and questions, the code before and after, run at the same time."""
    out = [f"Before and after on one {ab['chunks']:,}-chunk store, measured at the same time "
           f"({ab['how']}); before: {ab['before_code']}, after: {ab['after_code']}.", "",
           "| warm process | before: p50 / p95 ms (CPU p50) | after | load avg |",
           "|---|---|---|---|"]
    b, a = ab["before"]["modes"], ab["after"]["modes"]
    for label, mode, what in (("retrieve, hybrid", "hybrid", "retrieve"),
                              ("retrieve, dense", "dense", "retrieve"),
                              ("retrieve, BM25", "bm25", "retrieve"),
                              ("`ask`, extractive", "hybrid", "ask")):
        out.append(f"| {label} | {_ms(b[mode][what])} | {_ms(a[mode][what])} | "
                   f"{_load(b[mode][what]['load'], a[mode][what]['load'])} |")
    out.append(f"| add one article, s | {ab['before']['add_one']['seconds']:.2f} | "
               f"{ab['after']['add_one']['seconds']:.2f} | "
               f"{_load(ab['before']['add_one']['load'], ab['after']['add_one']['load'])} |")
    return "\n".join(out)


def goals(folder: Path) -> list[str]:
    """Each goal of the issue: met or not, with the measured figure."""
    out = []
    c, st, sc = _read(folder, "compare"), _read(folder, "startup"), _read(folder, "scale")
    if c:
        for corpus in c["corpora"]:
            m, s = corpus["product"]["modes"], corpus.get("starter")
            h = m["hybrid"]["quality"]
            others = {"BM25": m["bm25"]["quality"], **({"starter": s["quality"]} if s else {})}
            for name, o in others.items():
                ok = h["hit@5"] >= o["hit@5"] and h["mrr@5"] > o["mrr@5"]
                out.append(f"{'MET' if ok else 'NOT MET'}: quality on {corpus['corpus']} above "
                           f"{name}: hit@5 {h['hit@5']:.3f} vs {o['hit@5']:.3f}, MRR@5 "
                           f"{h['mrr@5']:.3f} vs {o['mrr@5']:.3f}")
                served = m["hybrid"].get("quality_served")
                if served:
                    ok = served["hit@5"] >= o["hit@5"] and served["mrr@5"] > o["mrr@5"]
                    out.append(f"{'MET' if ok else 'NOT MET'}: quality as served (reranked) on "
                               f"{corpus['corpus']} above {name}: hit@5 {served['hit@5']:.3f} "
                               f"vs {o['hit@5']:.3f}, MRR@5 {served['mrr@5']:.3f} vs "
                               f"{o['mrr@5']:.3f}")
            if s and corpus["corpus"] != "sample":
                ratio = corpus["product"]["ingest"]["tokens_per_s"] / s["ingest"]["tokens_per_s"]
                out.append(f"{'MET' if ratio >= 2 else 'NOT MET'}: embedded tokens/s "
                           f"{ratio:.2f}× the starter's on {corpus['corpus']} (goal ≥ 2×)")
    if st:
        h, a = st["help"]["median_s"], st["ask_cold"]["median_s"]
        out.append(f"{'MET' if h < 0.5 else 'NOT MET'}: `rag --help` {h:.2f} s (goal < 0.5 s)")
        out.append(f"{'MET' if a < 5 else 'NOT MET'}: cold `rag ask` {a:.2f} s (goal < 5 s)")
    sv = _read(folder, "server")
    if sv and "ratio" in sv:
        r = sv["ratio"]["ask_p50"]
        out.append(f"{'MET' if r <= 1.5 else 'NOT MET'}: server-mode `ask` p50 {r:.2f}× embedded "
                   f"on {sv['corpus']} (goal ≤ 1.5×)")
    if sc:
        rows = sorted(sc["sizes"], key=lambda r: r["chunks"])
        adds = [(r["chunks"], r["add_one"]["seconds"]) for r in rows if r.get("add_one")]
        if adds:
            worst = max(s for _, s in adds)
            out.append(f"{'MET' if worst <= 2 else 'NOT MET'}: add one article "
                       + ", ".join(f"{s:.1f} s at {n:,}" for n, s in adds)
                       + " chunks (goal ≤ 2 s at any size up to 300k)")
        near = min(rows, key=lambda r: abs(r["chunks"] - 100_000))
        rp = near["modes"]["hybrid"]["retrieve"]["p50_ms"]
        ap = near["modes"]["hybrid"]["ask"]["p50_ms"]
        out.append(f"{'MET' if rp <= 30 else 'NOT MET'}: retrieval p50 {rp:.1f} ms at "
                   f"{near['chunks']:,} chunks (goal ≤ 30 ms)")
        out.append(f"{'MET' if ap <= 150 else 'NOT MET'}: extractive ask p50 {ap:.1f} ms at "
                   f"{near['chunks']:,} chunks (goal ≤ 150 ms)")
        lo, hi = rows[0], rows[-1]
        growth = (hi["modes"]["hybrid"]["retrieve"]["p50_ms"]
                  / lo["modes"]["hybrid"]["retrieve"]["p50_ms"])
        size = hi["chunks"] / lo["chunks"]
        out.append(f"{'MET' if growth < size else 'NOT MET'}: latency growth {growth:.2f}× for "
                   f"{size:.0f}× the chunks ({lo['chunks']:,} → {hi['chunks']:,}; sub-linear "
                   "means below the size ratio)")
        # Since the lexical index grows by the change there is no rebuild phase: the slice's
        # own peak is the streaming peak.
        peaks = [r["slice"]["bm25_rebuild"].get("stream_peak_rss_mb")
                 or r["slice"].get("peak_rss_mb", 0) for r in rows]
        sizes = ", ".join(f"{r['chunks']:,}" for r in rows)
        mibs = ", ".join(f"{p:,.0f}" for p in peaks)
        out.append(f"INFO: peak RSS while streaming the same {rows[0]['slice_chunks']:,}-chunk "
                   f"ingest into {sizes} chunks: {mibs} MiB")
    return out


def render(folders: list[Path]) -> str:
    folder = folders[0] if folders else RESULTS
    parts = []
    c = _read(folder, "compare")
    if c:
        parts += [compare_table(x) for x in c["corpora"]]
    for name, fn in (("server", server_table), ("startup", startup_table),
                     ("embedders", embedders_table), ("memory", memory_table),
                     ("scale", scale_table)):
        data = _read(folder, name)
        if data and name in ("server", "scale"):  # with the run they replace beside them
            before = _read(folder, f"{name}-before")
            parts.append(f"{COMMANDS[name]} ({data.get('when', '?')}; \"was\": the run it "
                         f"replaces, {before.get('when', '?') if before else 'none'})\n\n"
                         + fn(data, before))  # type: ignore[operator]
        elif data:
            parts.append(fn(data))
    ab = _read(folder, "scale-ab")
    if ab:
        parts.append(ab_table(ab))
    g = goals(folder)
    if g:
        parts.append("Goals:\n\n" + "\n".join(f"- {line}" for line in g))
    return "\n\n".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", type=Path, default=RESULTS)
    ap.add_argument("--write", type=Path, help="also write the markdown to this file")
    args = ap.parse_args()
    text = render([args.dir])
    print(text)
    if args.write:
        path = args.write if args.write.is_absolute() else ROOT / args.write
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("# Benchmark results\n\nGenerated by `python -m bench.table --write "
                        f"{args.write}` from `bench/results/*.json`.\n\n{text}\n")


if __name__ == "__main__":
    main()
