"""Reports of an eval run: the terminal table, report.json, report.md, a PNG chart of the
metrics by kind, and the deltas between two report.json files."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from evals.metrics import LOWER_IS_BETTER, METRICS, aggregate, by_kind
from evals.runner import RunResult
from rag.errors import InputError

Report = dict[str, Any]
CHART = "metrics_by_kind.png"


def build_report(run: RunResult) -> Report:
    """The report.json document: `{set, questions, config, metrics, by_kind, items}`, each
    item with the question's gold data, the whole Answer and its per-question scores."""
    items = []
    for r in run.results:
        it = r.item
        items.append({
            "id": it.id, "kind": it.kind, "answerable": it.answerable, "line": it.line,
            "question": it.question, "reference": it.answer,
            "must_include": list(it.must_include), "sources": list(it.sources),
            "evidence": list(it.evidence), "history": [t.model_dump() for t in it.history],
            **r.answer.model_dump(mode="json", exclude={"question"}),
            "scores": r.scores.to_json(),
            "support_checks": [c.to_json() for c in r.checks],
        })
    return {
        "set": run.eval_set.name,
        "questions": len(run.results),
        "config": run.config,
        "metrics": aggregate([r.scores for r in run.results]),
        "by_kind": by_kind([(r.item.kind, r.scores) for r in run.results]),
        "items": items,
    }


# --- the table --------------------------------------------------------------------------------
def fmt(value: float | None, metric: str) -> str:
    """A metric as tables show it: ratios to 3 decimals, latencies in whole ms, null as n/a.

    Example: fmt(0.95652, "retrieval_hit_at_5") == "0.957"; fmt(None, "support") == "n/a"
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.0f}" if metric in LOWER_IS_BETTER else f"{value:.3f}"


def table_rows(report: Report) -> list[list[str]]:
    """Header and rows of the metrics table: one row a metric, columns `all` then each kind,
    with a first row counting the questions."""
    kinds = list(report["by_kind"])
    counts = {k: sum(1 for it in report["items"] if it["kind"] == k) for k in kinds}
    rows = [["metric", "all", *kinds],
            ["questions", str(report["questions"]), *(str(counts[k]) for k in kinds)]]
    for m in METRICS:
        rows.append([m, fmt(report["metrics"].get(m), m),
                     *(fmt(report["by_kind"][k].get(m), m) for k in kinds)])
    return rows


def text_table(rows: list[list[str]]) -> str:
    """Rows aligned in columns for a terminal: the first column left, numbers right.

    Example: text_table([["m", "all"], ["x", "1.0"]]) == "m  all\\nx  1.0"
    """
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()
             for r in rows]
    return "\n".join(lines)


def markdown_table(rows: list[list[str]]) -> str:
    """Rows as a GitHub markdown table, numbers right-aligned.

    Example: markdown_table([["m", "all"], ["x", "1.0"]]) == "| m | all |\\n|---|--:|\\n| x | 1.0 |"
    """
    head = "| " + " | ".join(rows[0]) + " |"
    rule = "|---|" + "--:|" * (len(rows[0]) - 1)
    return "\n".join([head, rule, *("| " + " | ".join(r) + " |" for r in rows[1:])])


# --- files ------------------------------------------------------------------------------------
def write_reports(report: Report, out: Path) -> list[Path]:
    """Write report.json, report.md and the chart into `out` (created); their paths."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--out {out}: cannot create the folder ({exc.strerror})") from None
    paths = [out / "report.json", out / "report.md", out / CHART]
    paths[0].write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8")
    paths[1].write_text(markdown(report), encoding="utf-8")
    write_chart(report, paths[2])
    return paths


def markdown(report: Report) -> str:
    """report.md: how it was run, the metrics table, and every question that fell short."""
    cfg = report["config"]
    lines = [f"# Eval report: {report['set']}", "",
             f"{report['questions']} questions, backend `{cfg.get('backend')}`, retrieval "
             f"`{cfg.get('retrieval_mode')}`, top_k {cfg.get('top_k')}, started "
             f"{cfg.get('started_at')}.", "",
             markdown_table(table_rows(report)), ""]
    lines += _judge_lines(report)
    lines += [f"![metrics by kind]({CHART})", "", "## Questions that fell short", ""]
    short = [it for it in report["items"] if _shortfalls(it)]
    if not short:
        lines.append("None: every question passed every metric that applies to it.")
    for it in short:
        answer = " ".join(it["answer"].split())
        lines += [f"### {it['id']} ({it['kind']}): {it['question']}", "",
                  f"- fell short on: {', '.join(_shortfalls(it))}",
                  f"- reference: {it['reference'] or '(unanswerable)'}",
                  f"- answer{' (refused)' if it['refused'] else ''}: {answer[:600]}",
                  f"- gold sources: {', '.join(it['sources']) or '(none)'}",
                  f"- cited: {', '.join(_cited(it)) or '(nothing)'}"]
        lines += [f"- judged not entailed by its quotes: {c['sentence'][:300]} "
                  f"(judge said: {c['reply'][:80]!r})"
                  for c in it.get("support_checks", []) if c["entailed"] is False]
        lines.append("")
    return "\n".join(lines)


def _judge_lines(report: Report) -> list[str]:
    judge = report["config"].get("judge")
    if not judge:
        return ["`support` is null: no judge is configured (RAG_JUDGE, or `--judge`).", ""]
    checks = [c for it in report["items"] for c in it.get("support_checks", [])]
    failed = sum(1 for c in checks if c["entailed"] is None)
    lines = [f"`support` judged by `{judge}`: {len(checks)} cited sentences checked against "
             f"their quotes, {sum(1 for c in checks if c['entailed'])} entailed"
             + (f", {failed} not judged (the judge failed)" if failed else "") + ".", ""]
    return lines


def _shortfalls(item: dict[str, Any]) -> list[str]:
    return [m for m, v in item["scores"].items()
            if m in METRICS and v is not None and v < 1.0]


def _cited(item: dict[str, Any]) -> list[str]:
    return [f"[{c['n']}] {Path(c['url']).name or c['title']} @{c['start']}:{c['end']}"
            for c in item["citations"]]


def write_chart(report: Report, path: Path) -> None:
    """A grouped bar chart of the 0..1 metrics, one group a metric, one bar a kind (and all);
    a null metric draws no bar but an "n/a" label, so it is not mistaken for a zero."""
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    metrics = [m for m in METRICS if m not in LOWER_IS_BETTER]
    series = {"all": report["metrics"], **report["by_kind"]}
    fig, ax = plt.subplots(figsize=(12, 5))
    width = 0.8 / max(len(series), 1)
    for i, (name, values) in enumerate(series.items()):
        ys = [math.nan if values.get(m) is None else values[m] for m in metrics]
        xs = [x + (i - (len(series) - 1) / 2) * width for x in range(len(metrics))]
        ax.bar(xs, ys, width, label=name)
        for x, y in zip(xs, ys, strict=True):
            if math.isnan(y) or y == 0:  # tell "not applicable" from a real zero
                ax.text(x, 0.01, "n/a" if math.isnan(y) else "0", rotation=90,
                        ha="center", va="bottom", fontsize=6, color="0.4")
    ax.set_xticks(range(len(metrics)), metrics, rotation=30, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score (higher is better)")
    ax.set_title(f"{report['set']}: {report['questions']} questions, "
                 f"{report['config'].get('backend')} backend")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.005, 1))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- compare ----------------------------------------------------------------------------------
def load_report(path: Path) -> Report:
    """A report.json written by `rag eval`; anything else is an InputError saying why."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such report") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable report.json ({exc})") from None
    if not (isinstance(report, dict) and isinstance(report.get("metrics"), dict)
            and isinstance(report.get("by_kind"), dict)):
        raise InputError(f"{path}: not a report.json from `rag eval` (no metrics/by_kind)")
    return report


def delta(a: float | None, b: float | None, metric: str) -> str:
    """B minus A, signed, marked ▲ when B is better and ▼ when worse (lower latency is
    better); n/a when either is null.

    Example: delta(0.5, 0.75, "answer_pass_rate") == "+0.250 ▲"
    """
    if a is None or b is None:
        return "n/a"
    places = 0 if metric in LOWER_IS_BETTER else 3
    d = round(b - a, places) + 0.0  # + 0.0 turns -0.0 into 0.0
    if d == 0:
        return f"{d:+.{places}f}"
    better = (d < 0) if metric in LOWER_IS_BETTER else (d > 0)
    return f"{d:+.{places}f} {'▲' if better else '▼'}"


def compare(a: Report, b: Report, a_name: str = "A", b_name: str = "B") -> str:
    """Deltas (B − A) overall, with both values, then per kind present in both."""
    lines = [f"A: {a_name}  ({_describe(a)})", f"B: {b_name}  ({_describe(b)})", ""]
    rows = [["metric", "A", "B", "B − A"]]
    for m in METRICS:
        va, vb = a["metrics"].get(m), b["metrics"].get(m)
        rows.append([m, fmt(va, m), fmt(vb, m), delta(va, vb, m)])
    lines.append(text_table(rows))
    kinds = [k for k in b["by_kind"] if k in a["by_kind"]]
    if kinds:
        rows = [["B − A by kind", *kinds]]
        for m in METRICS:
            rows.append([m, *(delta(a["by_kind"][k].get(m), b["by_kind"][k].get(m), m)
                              for k in kinds)])
        lines += ["", text_table(rows)]
    if a.get("set") != b.get("set") or a.get("questions") != b.get("questions"):
        lines += ["", "note: the two reports ran different sets or numbers of questions"]
    return "\n".join(lines)


def _describe(report: Report) -> str:
    cfg = report.get("config", {})
    return (f"set {report.get('set')}, {report.get('questions')} questions, "
            f"backend {cfg.get('backend')}, retrieval {cfg.get('retrieval_mode')}, "
            f"top_k {cfg.get('top_k')}")


# --- gates ------------------------------------------------------------------------------------
def parse_gate(text: str) -> tuple[str, float]:
    """`--fail-under METRIC=VALUE`, checked against the metric names.

    Example: parse_gate("answer_pass_rate=0.9") == ("answer_pass_rate", 0.9)
    """
    name, _, value = text.partition("=")
    name = name.strip()
    if name not in METRICS:
        raise InputError(f"--fail-under {text}: unknown metric {name!r} "
                         f"(one of: {', '.join(METRICS)})")
    try:
        bound = float(value)
    except ValueError:
        bound = math.nan
    if not math.isfinite(bound):
        raise InputError(f"--fail-under {text}: give METRIC=NUMBER, "
                         "e.g. answer_pass_rate=0.9")
    return name, bound


def gate_failures(report: Report, gates: list[tuple[str, float]]) -> list[str]:
    """One line per gate the run misses: a ratio below its floor, a latency above its
    ceiling (for latencies the value is the most milliseconds allowed), or a metric that
    came out null and so cannot show it holds.

    Example: gate_failures({"metrics": {"answer_pass_rate": 0.8}},
                           [("answer_pass_rate", 0.9)])
             == ["answer_pass_rate 0.800 is below 0.9"]
    """
    out = []
    for name, bound in gates:
        value = report["metrics"].get(name)
        if value is None:
            why = ("no judge is configured (--judge)" if name == "support"
                   else "nothing to measure it on")
            out.append(f"{name} is null ({why}), so it cannot meet {bound:g}")
        elif name in LOWER_IS_BETTER and value > bound:
            out.append(f"{name} {fmt(value, name)} is above {bound:g}")
        elif name not in LOWER_IS_BETTER and value < bound:
            out.append(f"{name} {fmt(value, name)} is below {bound:g}")
    return out
