"""Eval sets: the shipped seed set loads; broken sets are refused whole, every problem named
by its line, before anything runs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from evals.sets import KINDS, corpus_names, load_set, source_name
from index.loaders import load_paths
from rag.errors import InputError
from rag.types import Article
from tests.conftest import ROOT, SAMPLE, SEED, cli_env

SETS = sorted((ROOT / "evals" / "sets").glob("*.jsonl"))
CORPORA = ROOT / "evals" / "corpora"


def _corpus_of(set_path: Path) -> Path:
    """A set over a shipped corpus is named after its folder; the news sets use the sample."""
    folder = CORPORA / set_path.stem
    return folder if folder.is_dir() else SAMPLE

GOOD = {"id": "q1", "question": "Who met Sisi in Cairo?", "answer": "Blinken.",
        "must_include": ["Blinken"], "sources": ["002_87a8e70946c86064.txt"],
        "evidence": ["meeting with Egyptian President"], "kind": "single",
        "answerable": True, "history": []}


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _line(**changes: object) -> str:
    obj = {**GOOD, **changes}
    return json.dumps({k: v for k, v in obj.items() if v is not ...})


def test_seed_set_is_valid_against_the_sample_corpus() -> None:
    eval_set = load_set(SEED, corpus_names(SAMPLE))
    assert len(eval_set.items) == 28
    assert {it.kind for it in eval_set.items} == set(KINDS)
    followups = [it for it in eval_set.items if it.kind == "followup"]
    assert followups and all(it.history for it in followups)
    assert all(not it.answerable for it in eval_set.items if it.kind == "unanswerable")


@pytest.mark.parametrize("set_path", SETS, ids=[p.stem for p in SETS])
def test_every_shipped_set_is_grounded_in_its_corpus(set_path: Path) -> None:
    """Each gold evidence quote is verbatim in the text a named source is ingested as, and
    each must_include pattern matches the gold answer: a set whose gold data is wrong would
    score the product against a typo."""
    docs = _corpus_of(set_path)
    eval_set = load_set(set_path, corpus_names(docs))
    texts = {Path(a.origin).name: a.text for a in load_paths([str(docs)], 10**8, 5)
             if isinstance(a, Article)}
    problems = []
    for it in eval_set.items:
        problems += [f"{it.id}: evidence not verbatim in {list(it.sources)}: {e!r}"
                     for e in it.evidence if not any(e in texts[s] for s in it.sources)]
        problems += [f"{it.id}: {p!r} is not in the gold answer {it.answer!r}"
                     for p in it.must_include if not re.search(p, it.answer, re.IGNORECASE)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", ["news-typed", "pydocs"])
def test_the_typed_sets_cover_what_people_ask(name: str) -> None:
    """The generalisation sets hold at least 40 questions, mostly typed in lowercase, with
    follow-ups that carry their conversation and unanswerable near-misses (issue 11)."""
    set_path = ROOT / "evals" / "sets" / f"{name}.jsonl"
    eval_set = load_set(set_path)
    texts = {Path(a.origin).name: a.text for a in load_paths([str(_corpus_of(set_path))],
                                                             10**8, 5) if isinstance(a, Article)}
    # Every gold source holds some of the evidence, so citing it is citing support.
    assert not [(it.id, s) for it in eval_set.items for s in it.sources
                if not any(e in texts[s] for e in it.evidence)]
    kinds = [it.kind for it in eval_set.items]
    assert len(kinds) >= 40
    assert kinds.count("followup") >= 5 and kinds.count("unanswerable") >= 8
    assert all(it.history for it in eval_set.items if it.kind == "followup")
    assert sum(it.question == it.question.lower() for it in eval_set.items) >= 20


@pytest.mark.parametrize(("bad_line", "message"), [
    ('{"id": "q2", "question": ', "not valid JSON"),
    ('["a list"]', "expected a JSON object"),
    (_line(id="q2", difficulty="hard"), "unknown field 'difficulty'"),
    (_line(id="q2", question=...), "missing required field 'question'"),
    (_line(id="q2", answerable="yes"), "field 'answerable': Input should be a valid boolean"),
    (_line(id="q2", must_include="Blinken"), "field 'must_include': Input should be a valid "
                                             "array (got 'Blinken')"),
    (_line(id="q2", must_include=["(unclosed"]), "field 'must_include[0]': pattern does not "
                                                 "compile"),
    (_line(id="q2", kind="trivia"), "field 'kind': Input should be 'single', 'multi'"),
    (_line(id="q2", history=[{"role": "bot", "content": "hi"}]),
     "field 'history[0].role': Input should be 'user', 'assistant' or 'system' (got 'bot')"),
    (_line(id="q2", evidence=[""]), "field 'evidence[0]': String should have at least 1"),
    (_line(id="q2", question="  "), "field 'question': must not be blank"),
    (_line(id=7), "field 'id': Input should be a valid string (got 7)"),
    (_line(id="q2", kind="unanswerable"), "kind 'unanswerable' goes with answerable false"),
    (_line(id="q2", sources=[]), "needs at least one gold source"),
    (_line(), "id 'q1' already used on line 1"),
])
def test_a_bad_line_is_reported_with_its_line_number(tmp_path: Path, bad_line: str,
                                                      message: str) -> None:
    path = _write(tmp_path, [_line(), "", bad_line])  # the blank line still counts
    with pytest.raises(InputError) as exc:
        load_set(path)
    text = str(exc.value)
    assert re.search(rf"line 3: [^\n]*{re.escape(message)}", text), text
    assert "1 problem:" in text


def test_every_problem_of_a_set_is_reported_at_once(tmp_path: Path) -> None:
    path = _write(tmp_path, ["{not json", _line(id="q2"), _line(id="q3", extra=1),
                             _line(id="q4", must_include=["[a-"])])
    with pytest.raises(InputError) as exc:
        load_set(path)
    text = str(exc.value)
    assert "3 problems" in text
    assert "line 1: not valid JSON" in text
    assert "line 3: unknown field 'extra'" in text
    assert "line 4: field 'must_include[0]': pattern does not compile" in text
    assert "line 2" not in text


def test_every_problem_of_one_line_is_reported_with_that_line(tmp_path: Path) -> None:
    bad = _line(id="q2", kind="trivia", answerable="yes", extra=1, must_include=["(x"],
                history=[{"role": "user"}])
    path = _write(tmp_path, [_line(), bad, _line(id="q3", question=...)])
    with pytest.raises(InputError) as exc:
        load_set(path)
    lines = str(exc.value).splitlines()
    assert lines[0].endswith("has 6 problems:")
    assert [line.split(":")[0].strip() for line in lines[1:]] == ["line 2"] * 5 + ["line 3"]
    assert "line 2: unknown field 'extra' (expected: id, question, kind" in lines[1]
    assert {"field 'kind'", "field 'answerable'", "field 'must_include[0]'",
            "field 'history[0].content'"} <= {line.split(": ")[1] for line in lines[2:6]}
    assert "line 3: missing required field 'question'" in lines[6]


def test_sources_missing_from_the_docs_corpus_are_named(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "sub" / "a.txt").write_text("Blinken met Sisi in Cairo.")
    path = _write(tmp_path, [_line(sources=["a.txt"]), _line(id="q2", sources=["a.txt", "b.txt"])])
    with pytest.raises(InputError) as exc:
        load_set(path, corpus_names(docs))
    assert "line 2: source 'b.txt' is not in the corpus" in str(exc.value)
    assert "line 1" not in str(exc.value)


def test_a_missing_or_empty_set_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_set(tmp_path / "nope.jsonl")
    with pytest.raises(InputError, match="no questions"):
        load_set(_write(tmp_path, ["", "  "]))


@pytest.mark.parametrize(("where", "name"), [
    ("/data/articles/001.txt", "001.txt"),
    ("/data/feed.jsonl#7", "feed.jsonl"),
    ("https://example.org/news/story.html?page=2#top", "story.html"),
    ("", ""),
])
def test_source_name_is_the_file_name_a_set_uses(where: str, name: str) -> None:
    assert source_name(where) == name


def test_rag_eval_rejects_a_bad_set_before_running_anything(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Blinken met Sisi in Cairo on Monday.")
    path = _write(tmp_path, [_line(sources=["a.txt"]), _line(id="q2", sources=["gone.txt"]),
                             _line(id="q3", must_include=["(x"])])
    out, store = tmp_path / "out", tmp_path / "store"
    proc = subprocess.run(
        [sys.executable, "-m", "ui.cli", "eval", str(path), "--docs", str(docs),
         "--out", str(out)],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
        env=cli_env(RAG_STORE_DIR=str(store), TMPDIR=str(tmp_path)))
    assert proc.returncode == 1
    assert "line 2: source 'gone.txt' is not in the corpus" in proc.stderr
    assert "line 3: field 'must_include[0]': pattern does not compile" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists() and not store.exists()
    assert not list(tmp_path.glob("rag-eval-*"))  # nothing was ingested
