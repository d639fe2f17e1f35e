"""Comparing two eval reports without running anything: latency deltas weighed against the
runs' own spread, flipped questions, and the chart's groups."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from evals.chart import charted_metrics
from evals.compare import delta, flip_lines, flips, latency_interval, noise, upgrade
from evals.metrics import UNIT_METRICS, latency_p50_ms

SPREAD = [float(ms) for ms in range(400, 1400, 50)]  # 20 questions, 400 .. 1350 ms
_rng = random.Random(7)
JITTER = [t + _rng.uniform(-60, 60) for t in SPREAD]  # the same run again, a little noise


@pytest.mark.parametrize(("a", "b", "paired", "verdict"), [
    (SPREAD, SPREAD, True, "≈"),                           # nothing changed
    (SPREAD, JITTER, True, "≈"),                           # timing noise
    (SPREAD, [t + 400 for t in SPREAD], True, "▼"),        # every question 400 ms slower
    (SPREAD, [t - 300 for t in SPREAD], True, "▲"),        # faster
    (SPREAD, list(reversed(JITTER)), False, "≈"),          # other questions, same spread
    (SPREAD, [t + 500 for t in SPREAD], False, "▼"),
])
def test_a_latency_delta_is_flagged_only_outside_the_runs_spread(
        a: list[float], b: list[float], paired: bool, verdict: str) -> None:
    interval = latency_interval(a, b, 50, paired=paired)
    assert interval is not None and interval[0] <= interval[1]
    shown = delta(latency_p50_ms(a), latency_p50_ms(b), "latency_p50_ms", interval)
    assert shown.endswith(verdict) or (verdict == "≈" and shown == "+0"), shown


def test_the_interval_is_reproducible_and_needs_two_times() -> None:
    assert latency_interval(SPREAD, JITTER, 95, paired=True) == \
        latency_interval(SPREAD, JITTER, 95, paired=True)
    assert latency_interval([500.0], [900.0], 50, paired=True) is None


@pytest.mark.parametrize(("a", "b", "metric", "interval", "shown"), [
    (0.5, 0.75, "answer_pass_rate", None, "+0.250 ▲"),
    (0.9, 0.8, "evidence_recall", None, "-0.100 ▼"),
    (900.0, 1500.5, "context_tokens", None, "+600.5"),  # a size: no direction
    (400.0, 430.0, "latency_p50_ms", (-20.0, 70.0), "+30 ≈"),
    (400.0, 430.0, "latency_p50_ms", (10.0, 70.0), "+30 ▼"),
    (400.0, 430.0, "latency_p50_ms", None, "+30 ▼"),  # no items to judge noise by
    (None, 0.5, "evidence_hit_at_1", None, "n/a"),
])
def test_delta(a: float | None, b: float | None, metric: str,
               interval: tuple[float, float] | None, shown: str) -> None:
    assert delta(a, b, metric, interval) == shown


def item(qid: str, *, passed: float | None = 1.0, refused: bool = False,
         cited: tuple[str, ...] = ("a1",), kind: str = "single", ms: float = 500.0,
         answerable: bool = True) -> dict[str, Any]:
    return {"id": qid, "kind": kind, "question": f"question {qid}?", "refused": refused,
            "answer": f"answer to {qid} " + "word " * 100,
            "citations": [{"article_id": c, "url": f"/corpus/{c}.txt", "title": c}
                          for c in cited],
            "scores": {"answer_pass_rate": passed, "latency_ms": ms,
                       "refusal_accuracy": float(refused != answerable)}}


def report(*items: dict[str, Any]) -> dict[str, Any]:
    kinds = {it["kind"] for it in items}
    return {"metrics": {}, "by_kind": {k: {} for k in kinds}, "items": list(items)}


def test_flips_are_pass_refusal_and_cited_article_changes_worst_first() -> None:
    a = report(item("q1"), item("q2", cited=("a1",)), item("q3", passed=0.0),
               item("q4", passed=None, refused=True, answerable=False, kind="unanswerable"),
               item("q5"), item("only-a"))
    b = report(item("q1"), item("q2", cited=("a1", "a2")), item("q3"),
               item("q4", passed=None, kind="unanswerable", answerable=False),
               item("q5", passed=0.0, refused=True, cited=()), item("only-b"))
    found = flips(a, b)
    assert [(f.id, f.changes) for f in found] == [
        ("q4", ("refused → answered ▼",)),             # answered an unanswerable question
        ("q5", ("pass → fail ▼", "answered → refused ▼")),
        ("q2", ("cited a1.txt → a1.txt, a2.txt",)),
        ("q3", ("fail → pass ▲",)),
    ]
    assert found[0].worse and not found[2].worse
    assert found[1].answer_a.startswith("answer to q5") and found[1].answer_a.endswith("…")
    assert len(found[1].answer_a) == 300
    text = "\n".join(flip_lines(a, b))
    assert text.startswith("4 of 5 questions flipped (2 got worse):")
    assert "q1" not in text and "only-a" not in text
    assert flip_lines(a, a) == ["No question flipped: pass, refusal and cited articles are "
                                "the same for all 6 questions in both."]


def test_a_kind_with_one_question_never_flags_its_latency() -> None:
    a = report(item("q1", kind="multi", ms=400), item("q2", ms=400), item("q3", ms=420))
    b = report(item("q1", kind="multi", ms=900), item("q2", ms=900), item("q3", ms=940))
    one = noise(a, b, "latency_p50_ms", "multi")
    assert one is not None and math.isinf(one[1])
    assert delta(400, 900, "latency_p50_ms", one) == "+500 ≈"
    assert noise(a, b, "answer_pass_rate") is None


def test_old_metric_names_are_upgraded_everywhere() -> None:
    old = {"metrics": {"retrieval_hit_at_5": 1.0, "retrieval_mrr_at_5": 0.5},
           "by_kind": {"single": {"retrieval_hit_at_5": 0.9}},
           "items": [{"scores": {"retrieval_mrr_at_5": 0.25}}]}
    new = upgrade(old)
    assert new["metrics"] == {"article_hit_at_5": 1.0, "article_mrr_at_5": 0.5}
    assert new["by_kind"]["single"] == {"article_hit_at_5": 0.9}
    assert new["items"][0]["scores"] == {"article_mrr_at_5": 0.25}


def test_the_chart_leaves_out_a_metric_null_everywhere() -> None:
    values = {m: 0.5 for m in UNIT_METRICS} | {"support": None}
    no_judge = {"metrics": values, "by_kind": {"single": values}}
    assert charted_metrics(no_judge) == [m for m in UNIT_METRICS if m != "support"]
    judged = {"metrics": values, "by_kind": {"single": values | {"support": 1.0}}}
    assert "support" in charted_metrics(no_judge, judged)
