"""Reports of an eval run: the terminal table, report.json, report.md (each metric defined
in one line) and a PNG chart; with a baseline report, the deltas, the flipped questions and
the baseline's bars beside this run's. Comparing lives in evals/compare.py."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from evals.chart import FEW, kind_counts, write_chart
from evals.compare import describe, flips, kind_rows, noise_lines, overall_rows
from evals.metrics import (
    EVIDENCE_KS,
    LOWER_IS_BETTER,
    METRIC_HELP,
    METRICS,
    RENAMED,
    UNIT_METRICS,
    aggregate,
    by_kind,
    evidence_found,
)
from evals.runner import RunResult
from evals.tables import fmt, markdown_table
from rag.errors import InputError

Report = dict[str, Any]
CHART = "metrics_by_kind.png"
FEW_NOTE = (f"* fewer than {FEW} questions: one question moves these rates by 1/n or more; "
            "read them as examples, not rates.")
# A rank below 1 is not a shortfall; missing the evidence in the top 10 is.
_NOT_SHORTFALLS = {"article_mrr_at_5", *(f"evidence_hit_at_{k}" for k in EVIDENCE_KS[:-1])}


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
def table_rows(report: Report) -> list[list[str]]:
    """Header and rows of the metrics table: one row a metric, columns `all` then each kind
    (marked * when it has fewer than FEW questions), with a first row counting them."""
    counts = kind_counts(report)
    rows = [["metric", "all", *(k + ("*" if n < FEW else "") for k, n in counts.items())],
            ["questions", str(report["questions"]), *(str(n) for n in counts.values())]]
    for m in METRICS:
        rows.append([m, fmt(report["metrics"].get(m), m),
                     *(fmt(report["by_kind"][k].get(m), m) for k in counts)])
    return rows


def table_notes(report: Report) -> list[str]:
    """The footnote for the table's starred kinds, if any."""
    return [FEW_NOTE] if any(n < FEW for n in kind_counts(report).values()) else []


# --- files ------------------------------------------------------------------------------------
def write_reports(report: Report, out: Path, baseline: Report | None = None,
                  baseline_name: str = "baseline") -> list[Path]:
    """Write report.json, report.md and the chart into `out` (created); their paths. With a
    baseline, report.md compares against it and the chart shows its bars too."""
    paths = [out / "report.json", out / "report.md", out / CHART]
    _mkdir(out)
    paths[0].write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8")
    paths[1].write_text(markdown(report, baseline, baseline_name), encoding="utf-8")
    write_chart(report, paths[2], baseline, baseline_name)
    return paths


def write_comparison(a: Report, b: Report, a_name: str, b_name: str, out: Path) -> list[Path]:
    """`rag eval --compare A B --out DIR`: compare.md and a chart of B with A beside it."""
    _mkdir(out)
    paths = [out / "compare.md", out / "compare.png"]
    paths[0].write_text("\n".join([f"# Eval comparison: {b.get('set')}", "",
                                    f"- A: `{a_name}` ({describe(a)})",
                                    f"- B: `{b_name}` ({describe(b)})", "",
                                    *comparison_lines(a, b, "A")]), encoding="utf-8")
    write_chart(b, paths[1], a, "A")
    return paths


def _mkdir(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--out {out}: cannot create the folder ({exc.strerror})") from None


def markdown(report: Report, baseline: Report | None = None,
             baseline_name: str = "baseline") -> str:
    """report.md: how it was run, the metrics table and what each metric means, the
    comparison with a baseline if given, and every question that fell short."""
    cfg = report["config"]
    lines = [f"# Eval report: {report['set']}", "",
             f"{report['questions']} questions, backend `{cfg.get('backend')}`, retrieval "
             f"`{cfg.get('retrieval_mode')}`, top_k {cfg.get('top_k')}, started "
             f"{cfg.get('started_at')}.", "",
             markdown_table(table_rows(report)), "", *table_notes(report), "",
             "## What the metrics mean", "",
             *(f"- `{m}`: {help}." for m, help in METRIC_HELP.items()), ""]
    lines += _judge_lines(report)
    lines += [f"![metrics by kind{', beside ' + baseline_name if baseline else ''}]({CHART})",
              ""]
    if baseline is not None:
        lines += [f"## Compared with {baseline_name}", "",
                  f"A is `{baseline_name}` ({describe(baseline)}); B is this run.", "",
                  *comparison_lines(baseline, report, baseline_name), ""]
    lines += ["## Questions that fell short", ""]
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
        lines += [f"- gold evidence not in the passages handed over: {e[:200]!r}"
                  for e in _evidence_missing(it)]
        lines += [f"- judged not entailed by its quotes: {c['sentence'][:300]} "
                  f"(judge said: {c['reply'][:80]!r})"
                  for c in it.get("support_checks", []) if c["entailed"] is False]
        lines.append("")
    return "\n".join(lines)


def comparison_lines(a: Report, b: Report, a_name: str) -> list[str]:
    """Markdown: the deltas B − A overall and by kind, the latency noise, the flips."""
    lines = [markdown_table(overall_rows(a, b)), ""]
    if rows := kind_rows(a, b):
        lines += [markdown_table(rows), ""]
    lines += [f"- {line}" for line in noise_lines(a, b)]
    found = flips(a, b)
    lines += ["", f"### Questions that flipped ({len(found)})", ""]
    if not found:
        lines.append("None: pass, refusal and cited articles are the same for every "
                     "question in both runs.")
    for f in found:
        lines += [f"- **{f.id}** ({f.kind}) {f.question}: {'; '.join(f.changes)}",
                  f"  - {a_name}: {f.answer_a}", f"  - this run: {f.answer_b}"]
    return lines


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
            if m in UNIT_METRICS and m not in _NOT_SHORTFALLS and v is not None and v < 1.0]


def _evidence_missing(item: dict[str, Any]) -> list[str]:
    evidence = item.get("evidence", []) if item.get("answerable") else []
    found = evidence_found(evidence, [p["text"] for p in item.get("passages", [])])
    return [e for e, ok in zip(evidence, found, strict=True) if not ok]


def _cited(item: dict[str, Any]) -> list[str]:
    return [f"[{c['n']}] {Path(c['url']).name or c['title']} @{c['start']}:{c['end']}"
            for c in item["citations"]]


# --- gates ------------------------------------------------------------------------------------
def parse_gate(text: str) -> tuple[str, float]:
    """`--fail-under METRIC=VALUE`, checked against the metric names.

    Example: parse_gate("answer_pass_rate=0.9") == ("answer_pass_rate", 0.9)
    """
    name, _, value = text.partition("=")
    name = RENAMED.get(name.strip(), name.strip())  # gates written before a rename still work
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
