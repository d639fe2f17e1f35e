"""Eval sets: JSONL files of questions with their gold answers, sources and evidence.

One JSON object a line (blank lines are skipped), validated by the `EvalRecord` model:
`id, question, answer, must_include, sources, evidence, kind, answerable, history`.
A set is checked whole before anything runs, and every problem is reported at once with
its line number, so a team fixes a broken set in one pass instead of one error per run.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Annotated, Literal, get_args
from urllib.parse import urlparse

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from rag.errors import InputError
from rag.types import Turn

Kind = Literal["single", "multi", "conflict", "followup", "unanswerable"]
KINDS: tuple[str, ...] = get_args(Kind)
_MAX_SHOWN = 30  # problems listed in one error; a wholly wrong file would print thousands


def _non_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("blank", "must not be blank")
    return value


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise PydanticCustomError("pattern", "pattern does not compile: {error}",
                                  {"error": str(exc)}) from None
    return pattern


Text = Annotated[str, StringConstraints(min_length=1), AfterValidator(_non_blank)]
Pattern = Annotated[str, StringConstraints(min_length=1), AfterValidator(_compiles)]
_STRICT = ConfigDict(extra="forbid", strict=True, frozen=True)


class HistoryTurn(BaseModel):
    """An earlier turn of a follow-up's conversation."""

    model_config = _STRICT
    role: Literal["user", "assistant", "system"]
    content: str


class EvalRecord(BaseModel):
    """One line of a set as written: the schema every line is validated against. Unknown
    fields are errors (a typo such as `must_inlcude` would silently drop a check), and
    values keep their JSON types (no "yes" for true)."""

    model_config = _STRICT
    id: Text
    question: Text
    kind: Kind
    answerable: bool
    # Optional: an unanswerable question needs no answer, patterns or sources.
    answer: str = ""
    must_include: tuple[Pattern, ...] = Field(
        default=(), description="case-insensitive regexes the answer must contain")
    sources: tuple[Text, ...] = Field(default=(), description="gold articles' file names")
    evidence: tuple[Text, ...] = Field(default=(), description="verbatim gold quotes")
    history: tuple[HistoryTurn, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> EvalRecord:
        """What the metrics rely on: refusal scoring reads `answerable`, retrieval and
        citation scoring read `sources`; a contradiction would silently skew them."""
        if (self.kind == "unanswerable") == self.answerable:
            raise PydanticCustomError(
                "kind", "kind 'unanswerable' goes with answerable false, and only with it")
        if self.answerable and not self.sources:
            raise PydanticCustomError(
                "sources", "an answerable question needs at least one gold source in 'sources'")
        if not self.answerable and (self.sources or self.must_include):
            raise PydanticCustomError(
                "sources", "an unanswerable question cannot have 'sources' or 'must_include'")
        return self


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
        record = EvalRecord.model_validate_json(line)
    except ValidationError as exc:
        return None, problems(exc)
    return EvalItem(line=lineno, id=record.id, question=record.question, kind=record.kind,
                    answerable=record.answerable, answer=record.answer,
                    must_include=record.must_include, sources=record.sources,
                    evidence=record.evidence,
                    history=tuple(Turn(role=t.role, content=t.content)
                                  for t in record.history)), []


def problems(exc: ValidationError) -> list[str]:
    """pydantic's errors for one line as a person reads them: unknown fields together,
    then each other problem with its field and the value given.

    Example: problems(<kind 'trivia'>) == ["field 'kind': Input should be 'single', ...
             (got 'trivia')"]
    """
    out: list[str] = []
    unknown = [str(e["loc"][0]) for e in exc.errors() if e["type"] == "extra_forbidden"
               and len(e["loc"]) == 1]
    if unknown:
        out.append(f"unknown field{'s' if len(unknown) > 1 else ''} "
                   f"{', '.join(map(repr, unknown))} "
                   f"(expected: {', '.join(EvalRecord.model_fields)})")
    missing = [str(e["loc"][0]) for e in exc.errors() if e["type"] == "missing"
               and len(e["loc"]) == 1]
    if missing:
        out.append(f"missing required field{'s' if len(missing) > 1 else ''} "
                   f"{', '.join(map(repr, missing))}")
    for e in exc.errors(include_url=False):
        if len(e["loc"]) == 1 and e["type"] in ("extra_forbidden", "missing"):
            continue
        if e["type"] == "json_invalid":
            out.append(f"not valid JSON ({e.get('ctx', {}).get('error', e['msg'])})")
        elif e["type"] == "model_type":
            out.append(f"expected a JSON object, got {_json_type(e['input'])}")
        elif not e["loc"]:  # a check across fields
            out.append(e["msg"])
        else:
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"])
            shown = e["input"]
            got = (f" (got {shown!r})" if isinstance(shown, str | int | float | bool)
                   and len(repr(shown)) <= 60 else "")
            out.append(f"field {where[1:]!r}: {e['msg']}{got}")
    return out


def _json_type(value: object) -> str:
    names = {list: "list", str: "string", int: "number", float: "number", bool: "boolean",
             type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _summary(path: Path, problems: list[str]) -> str:
    shown = problems[:_MAX_SHOWN]
    more = len(problems) - len(shown)
    tail = f"\n  … and {more} more" if more else ""
    return (f"eval set {path} has {len(problems)} problem{'s' if len(problems) > 1 else ''}:\n  "
            + "\n  ".join(shown) + tail)
