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
    """Run `args.set` (or compare `args.compare`), print the table, write the reports to
    `args.out`; the exit code (0: it ran and met every --fail-under gate, 3: it missed
    one; errors are raised as RagErrors)."""
    from evals.report import (
        build_report,
        compare,
        gate_failures,
        load_report,
        parse_gate,
        table_rows,
        text_table,
        write_reports,
    )
    from evals.runner import run_set

    if args.compare:
        if args.set:
            raise InputError("give either an eval set or --compare A.json B.json, not both")
        if args.fail_under:
            raise InputError("--fail-under gates a run; --compare only prints deltas")
        a_path, b_path = (Path(p) for p in args.compare)
        print(compare(load_report(a_path), load_report(b_path), str(a_path), str(b_path)))
        return 0
    if not args.set:
        raise InputError("give an eval set (rag eval SET.jsonl) or --compare A.json B.json")
    out = Path(args.out) if args.out else DEFAULT_OUT
    gates = [parse_gate(g) for g in args.fail_under or []]  # bad gates fail before the run
    run = run_set(Path(args.set), settings, docs=Path(args.docs) if args.docs else None,
                  limit=args.limit, progress=_progress_bar())
    report = build_report(run)
    print(text_table(table_rows(report)))
    paths = write_reports(report, out)
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
