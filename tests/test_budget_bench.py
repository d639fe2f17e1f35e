"""The budget curve's collector: `python -m bench.budget collect` turns the per-budget eval
reports into the table and the plot the README shows."""

from __future__ import annotations

import json
from pathlib import Path

from bench.budget import collect, main


def _report(out: Path, budget: int, name: str, recall: float, latency: float) -> None:
    path = out / str(budget) / name / "report.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"metrics": {
        "evidence_recall": recall, "answer_pass_rate": 0.8, "citation_precision": 0.9,
        "refusal_accuracy": 1.0, "context_tokens": budget * 0.95, "latency_p50_ms": latency}}))


def test_the_curve_reads_every_budget_and_set_back_in_order(tmp_path: Path) -> None:
    _report(tmp_path, 3000, "news", 1.0, 120.0)
    _report(tmp_path, 800, "news", 0.86, 100.0)
    _report(tmp_path, 800, "docs", 0.89, 90.0)
    rows = collect(tmp_path)
    assert [(r["budget"], r["set"], r["evidence_recall"]) for r in rows] == [
        (800, "docs", 0.89), (800, "news", 0.86), (3000, "news", 1.0)]


def test_collect_writes_the_table_and_the_plot(tmp_path: Path, capsys: object) -> None:
    _report(tmp_path, 800, "news", 0.86, 100.0)
    _report(tmp_path, 1500, "news", 0.96, 110.0)
    assert main(["collect", str(tmp_path)]) == 0
    md = (tmp_path / "budget.md").read_text()
    assert "| news | 1,500 | 0.960 |" in md and "| news | 800 | 0.860 |" in md
    assert (tmp_path / "budget.png").stat().st_size > 10_000
    assert len(json.loads((tmp_path / "budget.json").read_text())) == 2
