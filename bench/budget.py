"""The context budget curve: evidence recall, answer quality and time per ask against the
answerer's context budget (RAG_CONTEXT_TOKENS), one `rag eval` run per set and budget.

    python -m bench.budget run OUT --budgets 800 1500 3000 6000 \\
        --set seed=evals/sets/seed.jsonl:data/articles \\
        --set pydocs=evals/sets/pydocs.jsonl:evals/corpora/pydocs \\
        --set gen=/tmp/gen/questions.jsonl:@/tmp/gen-store   # @: an ingested store
    python -m bench.budget collect OUT      # budget.json, budget.md and budget.png in OUT

Each run is an ordinary `rag eval` (extractive unless RAG_LLM says otherwise) whose report
lands in OUT/<budget>/<set>/report.json; `collect` reads them back.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

METRICS = ("evidence_recall", "answer_pass_rate", "citation_precision", "refusal_accuracy",
           "context_tokens", "latency_p50_ms")


def run(out: Path, budgets: list[int], sets: dict[str, tuple[str, str]]) -> None:
    for budget in budgets:
        for name, (questions, docs) in sets.items():
            env = {**os.environ, "RAG_CONTEXT_TOKENS": str(budget)}
            cmd = [sys.executable, "-m", "ui.cli", "eval", questions,
                   "--out", str(out / str(budget) / name)]
            if docs.startswith("@"):
                env["RAG_STORE_DIR"] = docs[1:]
            else:
                cmd += ["--docs", docs]
            print(f"budget {budget}, {name}", file=sys.stderr, flush=True)
            subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)


def collect(out: Path) -> list[dict[str, Any]]:
    """One row per (budget, set) from OUT/<budget>/<set>/report.json, budgets ascending.

    Example: collect(Path("out"))[0] == {"budget": 800, "set": "seed", "evidence_recall": 0.96,
             ...}
    """
    rows = []
    for report in sorted(out.glob("*/*/report.json")):
        budget, name = report.parent.parent.name, report.parent.name
        if not budget.isdigit():
            continue
        metrics = json.loads(report.read_text())["metrics"]
        rows.append({"budget": int(budget), "set": name,
                     **{m: metrics.get(m) for m in METRICS}})
    return sorted(rows, key=lambda r: (r["budget"], r["set"]))


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown: one line per set and budget."""
    head = "| set | budget | " + " | ".join(METRICS) + " |"
    lines = [head, "|" + "---|" * (len(METRICS) + 2)]
    for r in sorted(rows, key=lambda r: (r["set"], r["budget"])):
        cells = [f"{v:.3f}" if isinstance(v, float) and v <= 1 else
                 ("–" if v is None else f"{v:,.0f}") for v in (r[m] for m in METRICS)]
        lines.append(f"| {r['set']} | {r['budget']:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for name in sorted({r["set"] for r in rows}):
        mine = sorted((r for r in rows if r["set"] == name), key=lambda r: r["budget"])
        x = [r["budget"] for r in mine]
        for ax, metric in zip(axes, ("evidence_recall", "answer_pass_rate", "latency_p50_ms"),
                              strict=True):
            ax.plot(x, [r[metric] for r in mine], "o-", label=name)
    for ax, title in zip(axes, ("evidence recall (context holds the gold quote)",
                                "answer pass rate (extractive)", "ask p50 ms (in rag eval)"),
                         strict=True):
        ax.set(xscale="log", xlabel="context budget (tokens)", title=title)
        ax.set_xticks(sorted({r["budget"] for r in rows}))
        ax.minorticks_off()
        ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.budget")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("out", type=Path)
    r.add_argument("--budgets", type=int, nargs="+", default=[800, 1500, 3000, 6000])
    r.add_argument("--set", action="append", default=[],
                   help="NAME=QUESTIONS.jsonl:DOCS (DOCS a folder, or @STORE)")
    c = sub.add_parser("collect")
    c.add_argument("out", type=Path)
    args = p.parse_args(argv)
    if args.cmd == "run":
        sets = {}
        for spec in args.set:
            name, _, rest = spec.partition("=")
            questions, _, docs = rest.partition(":")
            if not (name and questions and docs):
                p.error(f"--set {spec!r}: expected NAME=QUESTIONS.jsonl:DOCS")
            sets[name] = (questions, docs)
        run(args.out, args.budgets, sets)
    rows = collect(args.out)
    (args.out / "budget.json").write_text(json.dumps(rows, indent=1) + "\n")
    (args.out / "budget.md").write_text(table(rows) + "\n")
    plot(rows, args.out / "budget.png")
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
