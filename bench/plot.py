"""The scale plot: retrieval and ask latency, and memory, against collection size."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_scale(rows: list[dict[str, Any]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted(rows, key=lambda r: r["chunks"])
    x = [r["chunks"] for r in rows]
    fig, (lat, mem) = plt.subplots(1, 2, figsize=(11, 4.2))
    for mode, style in (("hybrid", "o-"), ("dense", "s--"), ("bm25", "^:")):
        lat.plot(x, [r["modes"][mode]["retrieve"]["p50_ms"] for r in rows], style,
                 label=f"retrieve p50, {mode}")
    lat.plot(x, [r["modes"]["hybrid"]["retrieve"]["p95_ms"] for r in rows], "o-", alpha=0.35,
             label="retrieve p95, hybrid")
    lat.plot(x, [r["modes"]["hybrid"]["ask"]["p50_ms"] for r in rows], "D-",
             label="ask p50 (extractive)")
    if all(r.get("add_one") for r in rows):
        lat.plot(x, [r["add_one"]["seconds"] * 1000 for r in rows], "x-",
                 label="add one article (ingest, ms)")
    lat.axhline(30, color="grey", lw=0.8, ls="--")
    lat.axhline(150, color="grey", lw=0.8, ls="--")
    lat.set(xscale="log", yscale="log", xlabel="chunks in the collection",
            ylabel="ms (warm process)",
            title="Latency")
    lat.legend(fontsize=8)
    mem.plot(x, [r["warm_rss_mb"] for r in rows], "o-", label="RSS, warm service")
    mem.plot(x, [r["slice"]["peak_rss_mb"] for r in rows], "s-",
             label="peak RSS, ingest of the last 1,000 chunks")
    mem.plot(x, [r["store_bytes"] / 2**20 for r in rows], "^-", label="store on disk")
    mem.set(xscale="log", yscale="log", xlabel="chunks in the collection", ylabel="MiB",
            title="Memory and disk")
    mem.legend(fontsize=8)
    loads = ", ".join(f"{max(_flat(r['modes']['hybrid']['retrieve']['load'])):.1f}"
                      for r in rows)
    fig.suptitle(f"all-MiniLM-L6-v2 (ONNX), Chroma embedded, 2 cores shared; load avg "
                 f"(highest) at measurement: {loads}", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _flat(load: float | list[float]) -> list[float]:
    """A load figure, one value or [start, end], as a list.

    Example: _flat(1.5) == [1.5]
    """
    return load if isinstance(load, list) else [load]
