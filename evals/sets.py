"""Eval sets: JSONL files of questions with their gold answers, sources and evidence.

One JSON object a line (blank lines are skipped):
`id, question, answer, must_include, sources, evidence, kind, answerable, history`.
A set is checked whole before anything runs, and every problem is reported at once with
its line number, so a team fixes a broken set in one pass instead of one error per run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

from rag.errors import InputError
from rag.types import Turn

KINDS = ("single", "multi", "conflict", "followup", "unanswerable")
REQUIRED = ("id", "question", "kind", "answerable")
# Optional fields and their defaults: an unanswerable question needs no answer or sources.
OPTIONAL: dict[str, Any] = {"answer": "", "must_include": [], "sources": [], "evidence": [],
                            "history": []}
_ROLES = ("user", "assistant", "system")
_MAX_SHOWN = 30  # problems listed in one error; a wholly wrong file would print thousands


@dataclass(frozen=True)
class EvalItem:
    """One question of a set, validated."""

    line: int
    id: str
    question: str
    kind: str
    answerable: bool
    answer: str = ""
    must_include: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    history: tuple[Turn, ...] = ()


@dataclass(frozen=True)
class EvalSet:
    name: str
    path: Path
    items: tuple[EvalItem, ...]


def source_name(where: str) -> str:
    """The file name an article is known by in eval sets: the last path segment of its
    origin or URL, without a query or a `#record` suffix.

    Example: source_name("/data/a/001.txt") == "001.txt"; source_name("/d/x.jsonl#3") == "x.jsonl"
    """
    if not where:
        return ""
    path = urlparse(where).path if "://" in where else where.split("#", 1)[0]
    return PurePosixPath(path.replace("\\", "/")).name


def corpus_names(docs: Path) -> set[str]:
    """File names under `docs` (a folder, searched recursively, or one file), as the gold
    `sources` of a set name them; hidden files are skipped like the loaders skip them."""
    if docs.is_file():
        return {docs.name}
    if not docs.is_dir():
        raise InputError(f"--docs {docs}: no such folder")
    return {p.name for p in docs.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in
                                       p.relative_to(docs).parts)}


def load_set(path: Path, corpus: Collection[str] | None = None) -> EvalSet:
    """Read and validate a set; with `corpus` (file names), every gold source must be in it.
    Raises one InputError listing every problem by line number."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"eval set {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"eval set {path}: cannot read it ({exc})") from None
    items: list[EvalItem] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        item, errs = parse_line(line, lineno)
        problems += [f"line {lineno}: {e}" for e in errs]
        if item is None:
            continue
        if item.id in seen:
            problems.append(f"line {lineno}: id {item.id!r} already used on line "
                            f"{seen[item.id]}")
        seen.setdefault(item.id, lineno)
        items.append(item)
    if corpus is not None:
        problems += missing_sources(items, corpus)
    if not items and not problems:
        problems.append("the set has no questions")
    if problems:
        raise InputError(_summary(path, problems))
    return EvalSet(name=path.stem, path=path, items=tuple(items))


def check_sources(eval_set: EvalSet, corpus: Collection[str]) -> None:
    """Raise one InputError naming, by line, every gold source the corpus does not hold."""
    problems = missing_sources(eval_set.items, corpus)
    if problems:
        raise InputError(_summary(eval_set.path, problems))


def missing_sources(items: Iterable[EvalItem], corpus: Collection[str]) -> list[str]:
    """One problem per gold source not among `corpus`'s file names.

    Example: missing_sources([EvalItem(3, "q1", "Who?", "single", True, sources=("a.txt",))],
                             {"b.txt"}) == ["line 3: source 'a.txt' is not in the corpus"]
    """
    return [f"line {it.line}: source {s!r} is not in the corpus"
            for it in items for s in it.sources if s not in corpus]


def parse_line(line: str, lineno: int) -> tuple[EvalItem | None, list[str]]:
    """One line of a set: the item, or None and what is wrong with it (all of it).

    Example: parse_line("[1]", 4) == (None, ["expected a JSON object, got list"])
    """
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, [f"not valid JSON ({exc.msg} at column {exc.colno})"]
    if not isinstance(obj, dict):
        return None, [f"expected a JSON object, got {type(obj).__name__}"]
    errs: list[str] = []
    unknown = sorted(set(obj) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        errs.append(f"unknown field{'s' if len(unknown) > 1 else ''} "
                    f"{', '.join(map(repr, unknown))} (expected: "
                    f"{', '.join((*REQUIRED, *OPTIONAL))})")
    missing = [f for f in REQUIRED if f not in obj]
    if missing:
        errs.append(f"missing required field{'s' if len(missing) > 1 else ''} "
                    f"{', '.join(map(repr, missing))}")
    for name in ("id", "question"):
        if name in obj and not (isinstance(obj[name], str) and obj[name].strip()):
            errs.append(f"field {name!r} must be a non-empty string")
    if "answer" in obj and not isinstance(obj["answer"], str):
        errs.append("field 'answer' must be a string")
    if "kind" in obj and obj["kind"] not in KINDS:
        errs.append(f"field 'kind' must be one of {', '.join(KINDS)} (got {obj['kind']!r})")
    if "answerable" in obj and not isinstance(obj["answerable"], bool):
        errs.append("field 'answerable' must be true or false")
    for name in ("must_include", "sources", "evidence"):
        value = obj.get(name, [])
        if not (isinstance(value, list) and all(isinstance(v, str) and v for v in value)):
            errs.append(f"field {name!r} must be a list of non-empty strings")
    errs += _pattern_errors(obj.get("must_include"))
    history, history_errs = _history(obj.get("history", []))
    errs += history_errs
    if not errs:
        errs += _consistency(obj)
    if errs:
        return None, errs
    return EvalItem(line=lineno, id=obj["id"], question=obj["question"], kind=obj["kind"],
                    answerable=obj["answerable"], answer=obj.get("answer", ""),
                    must_include=tuple(obj.get("must_include", [])),
                    sources=tuple(obj.get("sources", [])),
                    evidence=tuple(obj.get("evidence", [])), history=history), []


def _pattern_errors(patterns: object) -> list[str]:
    if not isinstance(patterns, list):
        return []
    errs = []
    for p in patterns:
        if not isinstance(p, str):
            continue
        try:
            re.compile(p, re.IGNORECASE)
        except re.error as exc:
            errs.append(f"must_include pattern {p!r} does not compile: {exc}")
    return errs


def _history(value: object) -> tuple[tuple[Turn, ...], list[str]]:
    if not isinstance(value, list):
        return (), ["field 'history' must be a list of {role, content} turns"]
    turns, errs = [], []
    for i, turn in enumerate(value):
        ok = (isinstance(turn, dict) and set(turn) == {"role", "content"}
              and turn["role"] in _ROLES and isinstance(turn["content"], str))
        if ok:
            turns.append(Turn(role=turn["role"], content=turn["content"]))
        else:
            errs.append(f"history[{i}] must be {{\"role\": {'|'.join(_ROLES)}, "
                        "\"content\": string}")
    return tuple(turns), errs


def _consistency(obj: dict[str, Any]) -> list[str]:
    """What the metrics rely on: refusal scoring reads `answerable`, retrieval and citation
    scoring read `sources`; a contradiction here would silently skew them."""
    if (obj["kind"] == "unanswerable") == obj["answerable"]:
        return ["kind 'unanswerable' goes with answerable false, and only with it"]
    if obj["answerable"] and not obj.get("sources"):
        return ["an answerable question needs at least one gold source in 'sources'"]
    if not obj["answerable"] and (obj.get("sources") or obj.get("must_include")):
        return ["an unanswerable question cannot have 'sources' or 'must_include'"]
    return []


def _summary(path: Path, problems: list[str]) -> str:
    shown = problems[:_MAX_SHOWN]
    more = len(problems) - len(shown)
    tail = f"\n  … and {more} more" if more else ""
    return (f"eval set {path} has {len(problems)} problem{'s' if len(problems) > 1 else ''}:\n  "
            + "\n  ".join(shown) + tail)
