"""The fixed split of a development set into a fitting part and a reporting part.

Questions that share their first gold source (one SQuAD paragraph, one news page) fall in
the same part, so the reporting part never asks about a passage the scorer was fitted on;
an unanswerable question (no source) is placed by its own id. The part is a pure function
of that key and SEED: it never changes when a set grows or is reordered.

    python -m evals.split ../shared/evals/external/rtqa-2023/questions.jsonl --out runs/splits

writes `rtqa-2023.fit.jsonl` and `rtqa-2023.report.jsonl` (the set's own lines, unchanged)
outside the project: the external data is never committed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Literal

SEED = "rag-split-2026-12"
REPORT_SHARE = 0.5  # of the groups, by hash

Part = Literal["fit", "report"]


def part_of(record: dict[str, object]) -> Part:
    """The part a question of an eval set belongs to, from its first source or its id.

    Example: part_of({"id": "q1", "sources": ["Rhine_003.txt"]}) \
             == part_of({"id": "q2", "sources": ["Rhine_003.txt"]})
    """
    sources = record.get("sources") or []
    key = str(sources[0]) if isinstance(sources, list) and sources else f"id:{record.get('id')}"
    digest = hashlib.sha256(f"{SEED}\0{key}".encode()).digest()
    return "report" if int.from_bytes(digest[:8], "big") / 2**64 < REPORT_SHARE else "fit"


def split_lines(lines: list[str]) -> dict[Part, list[str]]:
    """The set's non-blank lines, each in its part, in their order."""
    out: dict[Part, list[str]] = {"fit": [], "report": []}
    for line in lines:
        if line.strip():
            out[part_of(json.loads(line))].append(line.rstrip("\n"))
    return out


def set_name(path: Path) -> str:
    """A set's name: its file's stem, or its folder's for `questions.jsonl`."""
    return path.parent.name if path.stem == "questions" else path.stem


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.split", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("sets", nargs="+", type=Path, help="eval sets (.jsonl)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the parts")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for path in args.sets:
        try:
            parts = split_lines(path.read_text(encoding="utf-8").splitlines())
        except (OSError, ValueError) as exc:
            print(f"{path}: cannot split it ({exc})", file=sys.stderr)
            return 2
        for name, lines in parts.items():
            (args.out / f"{set_name(path)}.{name}.jsonl").write_text(
                "".join(f"{line}\n" for line in lines), encoding="utf-8")
        print(f"{set_name(path)}: fit {len(parts['fit'])}, report {len(parts['report'])}",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
