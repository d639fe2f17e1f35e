"""`rag eval`: run a set and report, or compare two reports. Called by ui/cli.py, which
folds --llm/--top-k/--retrieval into the settings and turns RagErrors into one message."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rag.errors import InputError
from rag.settings import Settings

DEFAULT_OUT = Path("eval-out")
GATE_FAILED = 3  # the run worked but missed a --fail-under gate (errors exit 1)


def run_eval(args: argparse.Namespace, settings: Settings) -> int:
    """Run `args.set` (or compare `args.compare`), print the table (and the comparison with
    `args.baseline`), write the reports to `args.out`; the exit code (0: it ran and met
    every --fail-under gate, 3: it missed one; errors are raised as RagErrors)."""
    from evals.compare import compare, load_report
    from evals.report import (
        build_report,
        gate_failures,
        parse_gate,
        table_notes,
        table_rows,
        write_comparison,
        write_reports,
    )
    from evals.runner import run_set
    from evals.tables import text_table

    if args.compare:
        if args.set:
            raise InputError("give either an eval set or --compare A.json B.json, not both")
        if args.fail_under:
            raise InputError("--fail-under gates a run; --compare only prints deltas")
        if getattr(args, "baseline", None):
            raise InputError("--baseline compares a run; --compare already names both reports")
        a_path, b_path = (Path(p) for p in args.compare)
        a, b = load_report(a_path), load_report(b_path)
        print(compare(a, b, str(a_path), str(b_path)))
        if args.out:
            paths = write_comparison(a, b, str(a_path), str(b_path), Path(args.out))
            print(f"\nwrote {', '.join(str(p) for p in paths)}", file=sys.stderr)
        return 0
    if not args.set:
        raise InputError("give an eval set (rag eval SET.jsonl) or --compare A.json B.json")
    out = Path(args.out) if args.out else DEFAULT_OUT
    gates = [parse_gate(g) for g in args.fail_under or []]  # bad gates fail before the run
    base_path = getattr(args, "baseline", None)
    baseline = load_report(Path(base_path)) if base_path else None  # also before the run
    run = run_set(Path(args.set), settings, docs=Path(args.docs) if args.docs else None,
                  limit=args.limit, progress=_progress_bar())
    report = build_report(run)
    print("\n".join([text_table(table_rows(report)), *table_notes(report)]))
    if baseline is not None:
        print("\n" + compare(baseline, report, str(base_path), "this run"))
    paths = write_reports(report, out, baseline, str(base_path))
    print(f"\nwrote {', '.join(str(p) for p in paths)}", file=sys.stderr)
    failures = gate_failures(report, gates)
    for line in failures:
        print(f"rag eval: fail: {line}", file=sys.stderr)
    return GATE_FAILED if failures else 0


def _progress_bar() -> Any:
    """A tqdm bar on stderr when a person is watching; nothing in pipes and CI logs."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    def bar(items: Iterable[Any]) -> Iterable[Any]:
        return tqdm(items, desc="evaluating", unit=" question", file=sys.stderr)

    return bar
