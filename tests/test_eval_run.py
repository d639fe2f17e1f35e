"""`rag eval` end to end: the seed set over the sample corpus with the extractive backend, in
a subprocess, as a team would run it; then `rag eval --compare` on its report."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evals.metrics import METRICS, UNIT_METRICS, context_tokens
from evals.runner import run_set
from rag.errors import InputError
from rag.settings import Settings
from tests.conftest import SAMPLE, SEED, cli_env

RAG = Path(sys.executable).with_name("rag")


def rag(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    cmd = [str(RAG)] if RAG.exists() else [sys.executable, "-m", "ui.cli"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, cwd=cwd,
                          timeout=900, env=cli_env(**env))


@pytest.fixture(scope="session")
def seed_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One full run of the seed set; the user's store path is set but must stay untouched."""
    home = tmp_path_factory.mktemp("eval-run")
    (home / "tmp").mkdir()
    out = home / "out"
    # An 800-token context holds less than the five articles (3,056 tokens): one question's
    # gold evidence is left out, which the report must say.
    proc = rag("eval", str(SEED), "--docs", str(SAMPLE), "--out", str(out),
               "--llm", "extractive", cwd=home, RAG_CONTEXT_TOKENS="800",
               RAG_STORE_DIR=str(home / "user-store"), TMPDIR=str(home / "tmp"))
    return {"proc": proc, "out": out, "home": home}


@pytest.fixture(scope="session")
def report(seed_run: dict[str, Any]) -> dict[str, Any]:
    assert seed_run["proc"].returncode == 0, seed_run["proc"].stderr[-3000:]
    return json.loads((seed_run["out"] / "report.json").read_text(encoding="utf-8"))


def test_the_seed_run_exits_0_and_prints_the_metrics_table(seed_run: dict[str, Any]) -> None:
    proc = seed_run["proc"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    # Kinds with fewer than 5 questions are starred, and the star explained.
    assert lines[0].split() == ["metric", "all", "single", "multi*", "conflict*", "followup*",
                                "unanswerable*"]
    assert lines[1].split() == ["questions", "28", "19", "1", "3", "2", "3"]
    shown = {line.split()[0] for line in lines[2:] if line.strip()}
    assert set(METRICS) <= shown
    assert any(line.startswith("* fewer than 5 questions") for line in lines)
    assert "Traceback" not in proc.stderr


def test_the_seed_run_writes_report_json_md_and_a_png_chart(seed_run: dict[str, Any],
                                                            report: dict[str, Any]) -> None:
    out: Path = seed_run["out"]
    assert (out / "metrics_by_kind.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "# Eval report: seed" in md and "| quote_validity |" in md
    # Every metric defined in one line, so answer_correctness and answer_pass_rate and the
    # two levels of retrieval are not confused.
    for name in METRICS:
        assert len([line for line in md.splitlines() if line.startswith(f"- `{name}`: ")]) == 1
    assert "| metric | all | single | multi* |" in md and "* fewer than 5 questions" in md
    # A question whose gold evidence never reached the answerer says which quote it was.
    assert "- gold evidence not in the passages handed over: " in md
    assert list(report) == ["set", "questions", "config", "metrics", "by_kind", "items"]
    assert report["set"] == "seed" and report["questions"] == 28
    assert report["config"]["backend"] == "extractive"
    assert "openai_api_key" not in json.dumps(report["config"])


def test_report_json_has_every_named_metric_overall_and_by_kind(report: dict[str, Any]) -> None:
    assert list(report["metrics"]) == list(METRICS)
    assert set(report["by_kind"]) == {"single", "multi", "conflict", "followup",
                                      "unanswerable"}
    for metrics in report["by_kind"].values():
        assert list(metrics) == list(METRICS)
    assert report["metrics"]["support"] is None  # no judge configured: null, not 0
    assert report["by_kind"]["unanswerable"]["article_hit_at_5"] is None


def test_every_quote_of_the_seed_run_is_verbatim_and_retrieval_finds_gold(
        report: dict[str, Any]) -> None:
    m = report["metrics"]
    assert m["quote_validity"] == 1.0
    assert m["article_hit_at_5"] >= 0.95
    for name in METRICS:
        value = m[name]
        if value is not None and name in UNIT_METRICS:
            assert 0.0 <= value <= 1.0, name
    assert 0 < m["latency_p50_ms"] <= m["latency_p95_ms"]


def test_evidence_metrics_read_the_passages_each_question_was_handed(
        report: dict[str, Any]) -> None:
    m = report["metrics"]
    # Deeper ranking can only find more: hit@1 <= hit@3 <= hit@5 <= hit@10.
    hits = [m[f"evidence_hit_at_{k}"] for k in (1, 3, 5, 10)]
    assert hits == sorted(hits) and hits[-1] >= 0.9
    assert 0.8 <= m["evidence_recall"] <= 1.0
    top_k, budget = report["config"]["top_k"], report["config"]["context_tokens"]
    for it in report["items"]:
        s = it["scores"]
        assert s["context_tokens"] == context_tokens([p["text"] for p in it["passages"]])
        assert 0 < s["context_tokens"] <= budget
        if not it["answerable"]:
            assert s["evidence_recall"] is None and s["evidence_hit_at_10"] is None
        elif s["evidence_rank"] is not None and s["evidence_rank"] <= top_k:
            # the best top_k passages always enter the context: their evidence was handed over
            assert s["evidence_recall"] > 0
    assert m["context_tokens"] == round(sum(it["scores"]["context_tokens"]
                                            for it in report["items"]) / 28, 1)


def test_each_item_carries_its_answer_citations_passages_and_scores(
        report: dict[str, Any]) -> None:
    items = {it["id"]: it for it in report["items"]}
    assert len(items) == 28
    for it in items.values():
        assert {"answer", "refused", "citations", "passages", "scores"} <= set(it)
        assert it["passages"], it["id"]
        if not it["refused"]:
            assert it["citations"], it["id"]
    followup = items["s27"]
    assert followup["history"] and followup["standalone_question"] != followup["question"]
    assert items["s01"]["scores"]["answer_pass_rate"] == 1.0  # "Netanyahu" is in the answer


def test_docs_are_ingested_into_a_temporary_store_not_the_users(
        seed_run: dict[str, Any], report: dict[str, Any]) -> None:
    home: Path = seed_run["home"]
    assert not (home / "user-store").exists()
    assert not list((home / "tmp").glob("rag-eval-*"))  # the temporary store is gone
    assert report["config"]["store"].startswith("temporary")


def _worse(report: dict[str, Any]) -> dict[str, Any]:
    """The report as a regression would leave it: s01 refused, s02 citing one more article,
    every answer 2 s slower, single questions' refusal accuracy down."""
    worse = json.loads(json.dumps(report))
    worse["metrics"]["answer_pass_rate"] = round(report["metrics"]["answer_pass_rate"] - 0.25, 4)
    worse["by_kind"]["single"]["refusal_accuracy"] = 0.5
    items = {it["id"]: it for it in worse["items"]}
    s01, s02 = items["s01"], items["s02"]
    s01.update(answer="The articles do not contain an answer to this question.", refused=True,
               citations=[])
    s01["scores"].update(answer_pass_rate=0.0, refusal_accuracy=0.0)
    other = next(it["citations"][0] for it in worse["items"] if it["citations"]
                 and it["citations"][0]["article_id"] not in
                 {c["article_id"] for c in s02["citations"]})
    s02["citations"].append(other)
    for it in worse["items"]:
        it["scores"]["latency_ms"] += 2000
    for m in ("latency_p50_ms", "latency_p95_ms"):
        worse["metrics"][m] = report["metrics"][m] + 2000
    return worse


def test_compare_lists_flipped_questions_and_weighs_latency_against_its_spread(
        seed_run: dict[str, Any], report: dict[str, Any], tmp_path: Path) -> None:
    b = tmp_path / "b.json"
    b.write_text(json.dumps(_worse(report)), encoding="utf-8")
    a = seed_run["out"] / "report.json"
    proc = rag("eval", "--compare", str(a), str(b), "--out", str(tmp_path / "cmp"),
               cwd=tmp_path, RAG_STORE_DIR=str(tmp_path / "store"))
    assert proc.returncode == 0, proc.stderr
    overall, rest = proc.stdout.split("B − A by kind")
    rows = {line.split()[0]: line.split()[1:] for line in overall.splitlines() if line.strip()}
    assert rows["answer_pass_rate"][-2:] == ["-0.250", "▼"]
    assert rows["quote_validity"][-1] == "+0.000"
    assert rows["latency_p50_ms"][-2:] == ["+2000", "▼"]  # far outside the runs' spread
    assert "▼" in next(line for line in rest.splitlines() if "refusal_accuracy" in line)
    assert "latency_p50_ms: B − A +2000 ms, 95% bootstrap interval" in rest
    assert "2 of 28 questions flipped (1 got worse):" in rest
    flipped = rest[rest.index("questions flipped"):]
    s01 = flipped[flipped.index("s01 (single)"):].splitlines()
    assert s01[1].strip() == "pass → fail ▼; answered → refused ▼"
    assert s01[2].startswith("  A: ") and "Netanyahu" in s01[2]  # both answers shown
    assert s01[3] == "  B: The articles do not contain an answer to this question."
    s02 = flipped[flipped.index("s02 (single)"):].splitlines()
    assert s02[1].strip().startswith("cited ") and ", " in s02[1].split("→")[1]
    assert "s03 (" not in flipped  # unchanged questions are not listed
    md = (tmp_path / "cmp" / "compare.md").read_text(encoding="utf-8")
    assert "- **s01** (single)" in md and "### Questions that flipped (2)" in md
    assert (tmp_path / "cmp" / "compare.png").read_bytes()[:4] == b"\x89PNG"


def test_compare_reads_reports_written_before_the_article_level_rename(
        seed_run: dict[str, Any], report: dict[str, Any], tmp_path: Path) -> None:
    old = json.loads(json.dumps(report))
    for table in [old["metrics"], *old["by_kind"].values(), *(it["scores"]
                                                              for it in old["items"])]:
        table["retrieval_hit_at_5"] = table.pop("article_hit_at_5")
        table["retrieval_mrr_at_5"] = table.pop("article_mrr_at_5")
        for name in ("evidence_recall", "context_tokens"):
            table.pop(name, None)
    a = tmp_path / "old.json"
    a.write_text(json.dumps(old), encoding="utf-8")
    proc = rag("eval", "--compare", str(a), str(seed_run["out"] / "report.json"),
               cwd=tmp_path, RAG_STORE_DIR=str(tmp_path / "store"))
    assert proc.returncode == 0, proc.stderr
    overall = proc.stdout.split("B − A by kind")[0]
    rows = {line.split()[0]: line.split()[1:] for line in overall.splitlines() if line.strip()}
    assert rows["article_hit_at_5"] == ["1.000", "1.000", "+0.000"]
    assert rows["evidence_recall"][0] == "n/a" and rows["evidence_recall"][-1] == "n/a"
    assert "No question flipped" in proc.stdout


def test_a_run_with_a_baseline_charts_it_beside_this_one(
        seed_run: dict[str, Any], tmp_path: Path) -> None:
    from PIL import Image

    out = tmp_path / "out"
    proc = rag("eval", str(SEED), "--docs", str(SAMPLE), "--out", str(out), "--limit", "3",
               "--llm", "extractive", "--baseline", str(seed_run["out"] / "report.json"),
               cwd=tmp_path, RAG_STORE_DIR=str(tmp_path / "store"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "note: the two reports ran different sets or numbers of questions" in proc.stdout
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "## Compared with " in md and "| metric | A | B | B − A |" in md

    def grey_bars(png: Path) -> int:  # the baseline's bars are filled with 0.72 grey
        pixels = np.asarray(Image.open(png).convert("RGB"))
        return int((pixels == (184, 184, 184)).all(axis=-1).sum())

    assert grey_bars(out / "metrics_by_kind.png") > 5000
    assert grey_bars(seed_run["out"] / "metrics_by_kind.png") < 500  # no baseline: no bars


def test_compare_of_a_file_that_is_not_a_report_is_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("[]", encoding="utf-8")
    proc = rag("eval", "--compare", str(tmp_path / "a.json"), str(tmp_path / "nope.json"),
               cwd=tmp_path, RAG_STORE_DIR=str(tmp_path / "store"))
    assert proc.returncode == 1
    assert proc.stderr.startswith("rag eval: error:") and "not a report.json" in proc.stderr


def test_without_docs_the_set_runs_on_the_configured_store(
        sample_settings: Callable[..., Settings]) -> None:
    run = run_set(SEED, sample_settings(llm="extractive"), limit=2)
    assert [r.item.id for r in run.results] == ["s01", "s02"]
    assert run.results[0].scores.article_hit_at_5 == 1.0
    assert run.config["store"].endswith("sample-store")


def test_without_docs_gold_sources_are_checked_against_the_store(
        sample_settings: Callable[..., Settings], tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    lines = SEED.read_text(encoding="utf-8").splitlines()[:3]
    lines[2] = lines[2].replace("000_425cd773bcdce057.txt", "not-ingested.txt")
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=re.escape("line 3: source 'not-ingested.txt' is not in")):
        run_set(bad, sample_settings(llm="extractive"))


def test_fail_under_gates_turn_a_missed_target_into_exit_3(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = rag("eval", str(SEED), "--docs", str(SAMPLE), "--out", str(out), "--limit", "3",
               "--llm", "extractive", "--fail-under", "quote_validity=1",
               "--fail-under", "latency_p50_ms=1", cwd=tmp_path,
               RAG_STORE_DIR=str(tmp_path / "store"))
    assert proc.returncode == 3, proc.stderr[-2000:]
    failed = [line for line in proc.stderr.splitlines() if line.startswith("rag eval: fail:")]
    assert len(failed) == 1 and "latency_p50_ms" in failed[0] and "above 1" in failed[0]
    assert (out / "report.json").exists()  # the reports are written all the same
    fresh = tmp_path / "fresh"
    proc = rag("eval", str(SEED), "--docs", str(SAMPLE), "--out", str(fresh),
               "--fail-under", "accuracy=0.9", cwd=tmp_path)
    assert proc.returncode == 1 and "unknown metric 'accuracy'" in proc.stderr
    assert not fresh.exists()  # rejected before anything ran
