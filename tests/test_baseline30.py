"""The 30-line baseline answers with verbatim quotes and is scored like the product."""

from __future__ import annotations

import json
from pathlib import Path

from bench.baseline30 import run
from evals.report import build_report
from rag.settings import load_settings
from tests.conftest import SAMPLE, SEED


def test_baseline_quotes_its_top_sentences_and_reports_like_rag_eval(tmp_path: Path) -> None:
    lines = [json.loads(line) for line in SEED.read_text(encoding="utf-8").splitlines()]
    picked = [o for o in lines if o["id"] in ("s05", "s22")]  # an envoy's name; unanswerable
    set_path = tmp_path / "two.jsonl"
    set_path.write_text("".join(json.dumps(o) + "\n" for o in picked), encoding="utf-8")
    report = build_report(run(set_path, SAMPLE, load_settings(store_dir=tmp_path / "s")))
    assert report["config"]["backend"] == "baseline30"
    assert report["metrics"]["quote_validity"] == 1.0
    envoy, harris = report["items"]
    assert "Hochstein" in envoy["answer"] and envoy["scores"]["answer_pass_rate"] == 1.0
    assert 1 <= len(envoy["citations"]) <= 3 and len(envoy["passages"]) <= 4
    for c in envoy["citations"]:
        assert f"{c['quote']} [{c['n']}]" in envoy["answer"]
    assert not harris["refused"]  # it never refuses: the floor the product's rules must beat
    assert harris["scores"]["refusal_accuracy"] == 0.0
