"""The PNG chart of a report: the 0..1 metrics, one panel for all questions and one per
kind, and, when the run is compared with another, that run's bars beside this one's."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from evals.metrics import UNIT_METRICS

Report = dict[str, Any]
FEW = 5  # a kind with fewer questions is marked: its rates move in steps of 1/n


def kind_counts(report: Report) -> dict[str, int]:
    """Questions per kind, in the report's kind order (items are the truth; a report
    without items counts none).

    Example: kind_counts({"by_kind": {"single": {}}, "items": [{"kind": "single"}]})
             == {"single": 1}
    """
    items = report.get("items", [])
    return {k: sum(1 for it in items if it.get("kind") == k) for k in report["by_kind"]}


def charted_metrics(*reports: Report) -> list[str]:
    """The 0..1 metrics with a value somewhere in these reports: a group that is null
    everywhere (`support` without a judge) is left out rather than drawn empty.

    Example: charted_metrics({"metrics": {"support": None, ...}, "by_kind": {}}) omits
             "support"
    """
    def present(m: str, r: Report) -> bool:
        groups = [r["metrics"], *r["by_kind"].values()]
        return any(g.get(m) is not None for g in groups)

    return [m for m in UNIT_METRICS if any(present(m, r) for r in reports)]


def write_chart(report: Report, path: Path, baseline: Report | None = None,
                baseline_name: str = "baseline") -> None:
    """A panel per group (all questions, then each kind), a bar per 0..1 metric; with a
    baseline, its bar (grey, hatched) stands left of this run's. A null value draws no bar
    but an "n/a" label, so it is not mistaken for a zero."""
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    metrics = charted_metrics(report, *([baseline] if baseline else []))
    counts = {"all": report.get("questions", 0), **kind_counts(report)}
    runs: list[tuple[str, Report]] = [("this run", report)]
    if baseline is not None:
        runs.insert(0, (baseline_name, baseline))
    fig, axes = plt.subplots(len(counts), 1, figsize=(12, 1.9 * len(counts) + 1.6),
                             sharex=True, squeeze=False)
    width = 0.8 / len(runs)
    for ax, (group, n) in zip(axes[:, 0], counts.items(), strict=True):
        for i, (name, run) in enumerate(runs):
            values = run["metrics"] if group == "all" else run["by_kind"].get(group, {})
            ys = [math.nan if values.get(m) is None else float(values[m]) for m in metrics]
            xs = [x + (i - (len(runs) - 1) / 2) * width for x in range(len(metrics))]
            compared = run is not report
            ax.bar(xs, ys, width, label=name, color="0.72" if compared else "C0",
                   hatch="//" if compared else None, edgecolor="0.45" if compared else None)
            for x, y in zip(xs, ys, strict=True):
                if math.isnan(y) or y == 0:  # tell "not applicable" from a real zero
                    ax.text(x, 0.02, "n/a" if math.isnan(y) else "0", rotation=90,
                            ha="center", va="bottom", fontsize=6, color="0.35")
        few = " - fewer than 5, read as examples" if 0 < n < FEW and group != "all" else ""
        ax.set_title(f"{group} ({n} question{'s' if n != 1 else ''}{few})", fontsize=9,
                     loc="left")
        ax.set_ylim(0, 1.08)
        ax.grid(axis="y", alpha=0.3)
    axes[-1, 0].set_xticks(range(len(metrics)), metrics, rotation=30, ha="right")
    if baseline is not None:
        axes[0, 0].legend(fontsize="small", loc="lower right", bbox_to_anchor=(1.0, 1.0),
                          ncols=2, frameon=False)
    fig.suptitle(f"{report['set']}: {report['questions']} questions, "
                 f"{report['config'].get('backend')} backend (higher is better)"
                 + (f", beside {baseline_name}" if baseline is not None else ""), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
