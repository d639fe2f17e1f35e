"""What changed between two eval reports (A, then B): metric deltas overall and by kind,
latency deltas weighed against the runs' own spread, and the questions whose pass,
refusal or citations flipped, with both answers."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evals.metrics import COUNTS, LOWER_IS_BETTER, METRICS, RENAMED, percentile
from evals.sets import source_name
from evals.tables import fmt, text_table
from rag.errors import InputError

Report = dict[str, Any]
RESAMPLES = 2000  # bootstrap resamples of the per-question latencies
_ANSWER_CHARS = 300  # of each answer shown beside a flip


def load_report(path: Path) -> Report:
    """A report.json written by `rag eval` (older names upgraded, see upgrade()); anything
    else is an InputError saying why."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such report") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable report.json ({exc})") from None
    if not (isinstance(report, dict) and isinstance(report.get("metrics"), dict)
            and isinstance(report.get("by_kind"), dict)):
        raise InputError(f"{path}: not a report.json from `rag eval` (no metrics/by_kind)")
    return upgrade(report)


def upgrade(report: Report) -> Report:
    """A report with metrics renamed since it was written given today's names (in place);
    metrics it never had are simply absent, and compare shows them as n/a.

    Example: upgrade({"metrics": {"retrieval_hit_at_5": 1.0}, "by_kind": {}})["metrics"]
             == {"article_hit_at_5": 1.0}
    """
    tables = [report["metrics"], *report["by_kind"].values(),
              *(it["scores"] for it in report.get("items", []) if isinstance(it, dict)
                and isinstance(it.get("scores"), dict))]
    for table in tables:
        for old, new in RENAMED.items():
            if old in table and new not in table:
                table[new] = table.pop(old)
    return report


# --- latency noise ----------------------------------------------------------------------------
def latency_interval(a: Sequence[float], b: Sequence[float], q: float, *, paired: bool,
                     resamples: int = RESAMPLES, seed: int = 0) -> tuple[float, float] | None:
    """95% bootstrap interval of percentile_q(B) − percentile_q(A) over per-question times:
    resampling the questions shows how far the percentile moves by chance alone. `paired`
    (the same questions in the same order) resamples one set of indices for both runs, so
    question difficulty cancels. None with fewer than two times on either side.

    Example: latency_interval([100, 110, 90], [101, 111, 91], 50, paired=True) == (1.0, 1.0)
    """
    if len(a) < 2 or len(b) < 2 or (paired and len(a) != len(b)):
        return None
    rng = random.Random(seed)
    diffs = []
    for _ in range(resamples):
        if paired:
            idx = [rng.randrange(len(a)) for _ in a]
            sa, sb = [a[i] for i in idx], [b[i] for i in idx]
        else:
            sa, sb = rng.choices(a, k=len(a)), rng.choices(b, k=len(b))
        diffs.append(_pct(sb, q) - _pct(sa, q))
    return round(_pct(diffs, 2.5), 1), round(_pct(diffs, 97.5), 1)


def _pct(values: Sequence[float], q: float) -> float:
    value = percentile(values, q)
    assert value is not None
    return value


def _latencies(report: Report, kind: str | None = None) -> dict[str, float]:
    out = {}
    for it in report.get("items", []):
        ms = it.get("scores", {}).get("latency_ms")
        if ms is not None and (kind is None or it.get("kind") == kind):
            out[str(it.get("id"))] = float(ms)
    return out


def noise(a: Report, b: Report, metric: str, kind: str | None = None
          ) -> tuple[float, float] | None:
    """The bootstrap interval for a latency metric's delta, from the reports' items (paired
    when both ran the same questions); None for other metrics or without items."""
    if metric not in LOWER_IS_BETTER:
        return None
    la, lb = _latencies(a, kind), _latencies(b, kind)
    if not la or not lb:
        return None  # reports without items: the delta is all there is
    if len(la) < 2 or len(lb) < 2:
        return (-math.inf, math.inf)  # one question's time cannot tell noise from change
    q = 95 if metric.endswith("p95_ms") else 50
    if la.keys() == lb.keys():
        ids = list(la)
        return latency_interval([la[i] for i in ids], [lb[i] for i in ids], q, paired=True)
    return latency_interval(list(la.values()), list(lb.values()), q, paired=False)


def delta(a: float | None, b: float | None, metric: str,
          interval: tuple[float, float] | None = None) -> str:
    """B minus A, signed, marked ▲ when B is better and ▼ when worse (lower latency is
    better; a count such as context_tokens has no direction); ≈ when `interval`, the
    delta's bootstrap interval, holds 0, so noise is not read as a change; n/a when either
    is null.

    Example: delta(0.5, 0.75, "answer_pass_rate") == "+0.250 ▲"
             delta(400, 430, "latency_p50_ms", (-20, 70)) == "+30 ≈"
    """
    if a is None or b is None:
        return "n/a"
    places = 0 if metric in LOWER_IS_BETTER else 1 if metric in COUNTS else 3
    d = round(b - a, places) + 0.0  # + 0.0 turns -0.0 into 0.0
    if d == 0 or metric in COUNTS:
        return f"{d:+.{places}f}"
    if interval is not None and interval[0] <= 0 <= interval[1]:
        return f"{d:+.{places}f} ≈"
    better = (d < 0) if metric in LOWER_IS_BETTER else (d > 0)
    return f"{d:+.{places}f} {'▲' if better else '▼'}"


# --- flipped questions ------------------------------------------------------------------------
@dataclass(frozen=True)
class Flip:
    """A question whose outcome changed from A to B."""

    id: str
    kind: str
    question: str
    changes: tuple[str, ...]
    worse: bool  # a pass or a right refusal lost
    answer_a: str
    answer_b: str


def _cited(item: dict[str, Any]) -> dict[str, str]:
    return {c["article_id"]: source_name(c.get("url") or "") or c.get("title", "")
            for c in item.get("citations", [])}


def flips(a: Report, b: Report) -> list[Flip]:
    """The questions (matched by id) whose pass, refusal or cited articles differ between
    A and B, the ones that got worse first, then in A's order.

    Example: flips(a, b)[0].changes == ("pass → fail",)  # s05 lost a must_include pattern
    """
    in_b = {it["id"]: it for it in b.get("items", [])}
    out = []
    for ia in a.get("items", []):
        ib = in_b.get(ia["id"])
        if ib is None:
            continue
        changes, worse = [], False
        pa, pb = ia["scores"].get("answer_pass_rate"), ib["scores"].get("answer_pass_rate")
        if pa is not None and pb is not None and pa != pb:
            changes.append("fail → pass ▲" if pb > pa else "pass → fail ▼")
            worse |= pb < pa
        if ia["refused"] != ib["refused"]:
            right = ib["scores"]["refusal_accuracy"] > ia["scores"]["refusal_accuracy"]
            changes.append(("answered → refused" if ib["refused"] else "refused → answered")
                           + (" ▲" if right else " ▼"))
            worse |= not right
        ca, cb = _cited(ia), _cited(ib)
        if ca.keys() != cb.keys() and ca and cb:  # citations gained or lost show as refusal
            changes.append(f"cited {', '.join(sorted(ca.values()))} → "
                           f"{', '.join(sorted(cb.values()))}")
        if changes:
            out.append(Flip(ia["id"], ia.get("kind", ""), ia.get("question", ""),
                            tuple(changes), worse, _short(ia["answer"]), _short(ib["answer"])))
    return sorted(out, key=lambda f: not f.worse)


def _short(answer: str) -> str:
    text = " ".join(answer.split())
    return text if len(text) <= _ANSWER_CHARS else text[:_ANSWER_CHARS - 1] + "…"


def flip_lines(a: Report, b: Report) -> list[str]:
    """The flipped questions as text, each with its changes and both answers."""
    found = flips(a, b)
    common = len({it["id"] for it in a.get("items", [])}
                 & {it["id"] for it in b.get("items", [])})
    if not common:
        return ["No question is in both reports (matched by id): nothing to flip."]
    if not found:
        return [f"No question flipped: pass, refusal and cited articles are the same for all "
                f"{common} questions in both."]
    lines = [f"{len(found)} of {common} questions flipped "
             f"({sum(f.worse for f in found)} got worse):"]
    for f in found:
        lines += ["", f"{f.id} ({f.kind}): {f.question}", f"  {'; '.join(f.changes)}",
                  f"  A: {f.answer_a}", f"  B: {f.answer_b}"]
    return lines


# --- the comparison ---------------------------------------------------------------------------
def overall_rows(a: Report, b: Report) -> list[list[str]]:
    """Rows of the overall table: metric, A, B, B − A."""
    rows = [["metric", "A", "B", "B − A"]]
    for m in METRICS:
        va, vb = a["metrics"].get(m), b["metrics"].get(m)
        rows.append([m, fmt(va, m), fmt(vb, m), delta(va, vb, m, noise(a, b, m))])
    return rows


def kind_rows(a: Report, b: Report) -> list[list[str]]:
    """Rows of B − A by kind, for the kinds in both reports (none: no rows)."""
    kinds = [k for k in b["by_kind"] if k in a["by_kind"]]
    if not kinds:
        return []
    rows = [["B − A by kind", *kinds]]
    for m in METRICS:
        rows.append([m, *(delta(a["by_kind"][k].get(m), b["by_kind"][k].get(m), m,
                                noise(a, b, m, k)) for k in kinds)])
    return rows


def noise_lines(a: Report, b: Report) -> list[str]:
    """How the latency deltas were judged, with their intervals."""
    out = []
    for m in sorted(LOWER_IS_BETTER):
        interval, va, vb = noise(a, b, m), a["metrics"].get(m), b["metrics"].get(m)
        if interval is None or va is None or vb is None or math.isinf(interval[0]):
            continue
        verdict = ("within the runs' own spread: not a change" if interval[0] <= 0 <= interval[1]
                   else "outside the runs' own spread")
        out.append(f"{m}: B − A {vb - va:+.0f} ms, 95% bootstrap interval "
                   f"{interval[0]:+.0f}..{interval[1]:+.0f} ms ({verdict})")
    if out:
        out.append(f"(≈: the interval from {RESAMPLES} resamples of the per-question times "
                   "holds 0, or a kind has one question)")
    loads = [r.get("config", {}).get("load_avg_1m") for r in (a, b)]
    if all(x is not None for x in loads):
        out.append(f"load average when each run started: A {loads[0]}, B {loads[1]} (the "
                   "interval covers the spread between questions, not a busier machine)")
    return out


def compare(a: Report, b: Report, a_name: str = "A", b_name: str = "B") -> str:
    """Deltas (B − A) overall, with both values, then per kind present in both, the latency
    noise, and the flipped questions."""
    lines = [f"A: {a_name}  ({describe(a)})", f"B: {b_name}  ({describe(b)})", "",
             text_table(overall_rows(a, b))]
    if rows := kind_rows(a, b):
        lines += ["", text_table(rows)]
    lines += ["", *noise_lines(a, b)]
    if a.get("set") != b.get("set") or a.get("questions") != b.get("questions"):
        lines += ["", "note: the two reports ran different sets or numbers of questions"]
    lines += ["", *flip_lines(a, b)]
    return "\n".join(lines)


def describe(report: Report) -> str:
    cfg = report.get("config", {})
    return (f"set {report.get('set')}, {report.get('questions')} questions, "
            f"backend {cfg.get('backend')}, retrieval {cfg.get('retrieval_mode')}, "
            f"top_k {cfg.get('top_k')}")
