"""The layout a newcomer relies on: no module imports one that imports it, the service
reaches answerers only through their interface, and the read path imports no UI framework.
Read from the source (lazy imports inside functions included), so a circle or a reach into an
answerer's internals fails here before it confuses a reader."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("rag", "index", "ui", "evals")


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            out[name.removesuffix(".__init__")] = path
    return out


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every project module `path` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in modules else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {m: {d for d in _imports(p, modules) if d in modules and d != m}
            for m, p in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(u: str) -> None:
        state[u] = 1
        stack.append(u)
        for v in sorted(graph[u]):
            if state.get(v) == 1:
                cycles.append([*stack[stack.index(v):], v])
            elif v not in state:
                visit(v)
        stack.pop()
        state[u] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    return cycles


def test_no_module_imports_one_that_imports_it() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_check_sees_a_circle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_the_service_reaches_answerers_only_through_their_interface() -> None:
    own = ("rag.answer.extractive", "rag.answer.llm")
    reached = [m for m in _graph()["rag.service"] if m.startswith(own)]
    assert reached == []


def test_the_read_and_write_paths_import_no_ui_framework() -> None:
    frameworks = ("gradio", "fastapi", "click", "uvicorn", "starlette")
    for pkg in ("rag", "index"):
        for path in (ROOT / pkg).rglob("*.py"):
            tree = ast.parse(path.read_text())
            names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
                     for a in n.names}
            names |= {n.module.split(".")[0] for n in ast.walk(tree)
                      if isinstance(n, ast.ImportFrom) and n.module}
            assert not names & set(frameworks), path


def test_each_room_holds_what_its_name_says() -> None:
    """Told "the BM25 index", "the refusal threshold" or "how quotes are checked", a reader
    opens rag/retrieve/, rag/answer/ or rag/answer/llm/ first."""
    where = {"rag/retrieve/lexical.py": "BM25",
             "rag/answer/extractive/scorer.py": "threshold",
             "rag/answer/llm/grounding.py": "verbatim",
             "rag/answer/citations.py": "def verified"}
    for path, text in where.items():
        assert text in (ROOT / path).read_text(), path
