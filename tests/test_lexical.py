"""The lexical (BM25) index: updated by the change, it ranks as a full rebuild does; deleting
an article removes its terms; a damaged or missing file is rebuilt from the store at load and
reported by /healthz instead of failing every question."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import bm25s
import pytest
from fastapi.testclient import TestClient

from index.chunking import chunk_article
from index.loaders import load_paths
from rag.retrieve import lexical
from rag.service import RagService
from rag.settings import Settings, load_settings
from rag.types import Article
from tests.conftest import SAMPLE, cli_env
from tests.test_ingest import models, rag_command  # noqa: F401

SETS = sorted((Path(__file__).parent.parent / "evals" / "sets").glob("*.jsonl"))
QUESTIONS = [json.loads(line)["question"] for p in SETS for line in p.read_text().splitlines()
             if line.strip()]
KNOWN = "How many hostages remain held in Gaza?"

Rows = list[tuple[str, str, str]]


def sample_rows() -> dict[str, Rows]:
    """The sample corpus's chunks, per article, cut as the pipeline cuts them."""
    s = load_settings()
    out: dict[str, Rows] = {}
    for a in load_paths([str(SAMPLE)], 10**8, 5.0):
        if isinstance(a, Article):
            out[a.id] = [(c.id, c.article_id, c.text) for c in chunk_article(
                a, s.chunk_tokens, s.chunk_overlap, lambda t: len(t.split()) < 200)]
    return out


def built(path: Path, *steps: Callable[[lexical.LexicalIndex], object]) -> lexical.LexicalIndex:
    idx = lexical.LexicalIndex(path)
    for step in steps:
        step(idx)
        idx.refresh()  # each step lands as its own segment or deletion mask
    return idx


def test_an_index_updated_piece_by_piece_ranks_as_a_fresh_build(tmp_path: Path) -> None:
    rows = sample_rows()
    first, *rest = rows
    edited = [(cid + "x", "edited", text.replace("Blinken", "Zanzibar"))
              for cid, _, text in rows[first]]
    # One article at a time, then the first replaced by an edited copy.
    grown = built(tmp_path / "grown.sqlite3",
                  *[lambda idx, a=a: idx.add(rows[a]) for a in rows],
                  lambda idx: idx.remove_articles([first]), lambda idx: idx.add(edited))
    fresh = built(tmp_path / "fresh.sqlite3",
                  lambda idx: idx.add([r for a in rest for r in rows[a]] + edited))
    for q in [*QUESTIONS, "Zanzibar", "Blinken"]:
        got, want = grown.search(q, 10), fresh.search(q, 10)
        assert [c for c, _ in got] == [c for c, _ in want], q
        assert [x for _, x in got] == pytest.approx([x for _, x in want]), q
    # A deleted article's terms are gone: a word only it had finds nothing.
    assert grown.doc_freq("zanzibar") > 0
    grown.remove_articles(["edited"])
    grown.refresh()
    only_old = {t for _, _, text in rows[first] for t in lexical.tokenize([text])[0]} - {
        t for a in rest for _, _, text in rows[a] for t in lexical.tokenize([text])[0]}
    assert "zanzibar" not in only_old and grown.doc_freq("zanzibar") == 0
    assert only_old and all(grown.doc_freq(t) == 0 for t in only_old)
    assert grown.search(" ".join(sorted(only_old)[:5]), 10) == []


def test_the_ranking_matches_the_previous_full_bm25s_rebuild(tmp_path: Path) -> None:
    """Every shipped eval question gets the same top 10 as bm25s built over every chunk,
    up to ties (bm25s scores in float32, so near-equal scores may swap)."""
    rows = [r for rs in sample_rows().values() for r in rs]
    old = bm25s.BM25()
    old.index(lexical.tokenize([t for _, _, t in rows]), show_progress=False)
    new = built(tmp_path / "lex.sqlite3", lambda idx: idx.add(rows))
    for q in QUESTIONS:
        tokens = [t for t in lexical.tokenize([q])[0] if t in old.vocab_dict]
        if not tokens:
            assert new.search(q, 10) == []
            continue
        docs, scores = old.retrieve([tokens], k=min(10, len(rows)), show_progress=False)
        want = {rows[int(d)][0]: float(s) for d, s in zip(docs[0], scores[0], strict=True)
                if s > 0}
        got = dict(new.search(q, 10))
        assert len(got) == len(want), q
        floor = min(want.values())
        for cid, score in got.items():
            if cid in want:
                assert score == pytest.approx(want[cid], rel=0.01), (q, cid)
            else:  # a tie at the cut
                assert score == pytest.approx(floor, rel=0.01), (q, cid)


def healthz(settings: Settings, service: RagService) -> dict[str, object]:
    from ui.api import create_app

    with TestClient(create_app(settings, service)) as client:
        body: dict[str, object] = client.get("/healthz").json()
    service.lexical.close()
    return body


@pytest.mark.parametrize("damage", ["garbage", "missing", "truncated"])
def test_a_damaged_or_missing_lexical_file_is_rebuilt_from_the_store_and_reported(
        damage: str, sample_settings: Callable[..., Settings]) -> None:
    settings = sample_settings(llm="extractive")
    path = next((settings.store_dir / "aux").rglob("lexical.sqlite3"))
    if damage == "garbage":
        path.write_bytes(b"\x00garbage, not an index" * 100)
    elif damage == "missing":
        path.unlink()
    else:
        path.write_bytes(path.read_bytes()[:3000])
    service = RagService(settings)
    answer = service.ask(KNOWN)
    assert answer.citations and not answer.refused
    assert any(h.bm25 for h in service.passages(KNOWN)[1])  # BM25 finds passages again
    health = healthz(settings, service)
    report = health["lexical"]
    assert isinstance(report, dict) and report["state"] == "ok"
    assert "lexical.sqlite3" in str(report["repaired"]) or "no index file" in str(
        report["repaired"])
    assert report["chunks"] == health["chunks"]


def test_the_cli_answers_over_a_garbage_lexical_file(
        sample_settings: Callable[..., Settings], tmp_path: Path, models: Path,  # noqa: F811
        ) -> None:
    settings = sample_settings()
    path = next((settings.store_dir / "aux").rglob("lexical.sqlite3"))
    path.write_text("garbage")
    proc = subprocess.run([*rag_command(), "ask", KNOWN, "--store", str(settings.store_dir)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env=cli_env(RAG_MODEL_CACHE=str(models)))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "[1]" in proc.stdout
    assert list(path.parent.glob("lexical.sqlite3.damaged-*"))  # kept for a post-mortem


def test_a_merged_index_reopens_mapped_from_disk_and_ranks_the_same(tmp_path: Path) -> None:
    """A merge publishes the segment; a new process maps it instead of rebuilding, and what
    changed after the merge (an added article, a deleted one) is caught up from the file."""
    from rag.retrieve.postings import MappedSegment

    rows = sample_rows()
    first, second, *rest = rows
    path = tmp_path / "lexical.sqlite3"
    writer = lexical.LexicalIndex(path)
    writer.add([r for a in [first, *rest] for r in rows[a]])
    assert writer.merge_if_behind(least=0)  # as a big ingest ends
    assert not writer.merge_if_behind(least=0)  # nothing new since
    writer.add(rows[second])
    writer.remove_articles([first])

    reopened = lexical.LexicalIndex(path)
    reopened.refresh()
    assert isinstance(reopened.snapshot.segments[0], MappedSegment)
    assert len(reopened.snapshot.segments) == 2  # the mapped merge and the tail after it
    fresh = built(tmp_path / "fresh.sqlite3",
                  lambda idx: idx.add([r for a in [second, *rest] for r in rows[a]]))
    for q in [*QUESTIONS, "Blinken"]:
        got, want = reopened.search(q, 10), fresh.search(q, 10)
        assert [c for c, _ in got] == [c for c, _ in want], q
        assert [x for _, x in got] == pytest.approx([x for _, x in want]), q
    assert len(reopened) == len(fresh)

    # A merge in the serving process publishes too, and serves the mapped copy.
    reopened.refresh(merge=True)
    assert [type(s) for s in reopened.snapshot.segments] == [MappedSegment]
    assert len(list((tmp_path / "lexical.sqlite3.segments").iterdir())) == 1  # older ones go
    assert reopened.search(KNOWN, 5) == fresh.search(KNOWN, 5)


def test_an_unreadable_merged_segment_is_rebuilt_from_the_file(tmp_path: Path) -> None:
    from rag.retrieve.postings import MappedSegment

    rows = sample_rows()
    path = tmp_path / "lexical.sqlite3"
    writer = lexical.LexicalIndex(path)
    writer.add([r for a in rows for r in rows[a]])
    writer.merge_if_behind(least=0)
    (seg,) = (tmp_path / "lexical.sqlite3.segments").iterdir()
    (seg / "post_docs.npy").write_bytes(b"garbage")
    reopened = lexical.LexicalIndex(path)
    reopened.refresh()
    fresh = built(tmp_path / "fresh.sqlite3", lambda idx: idx.add([r for a in rows
                                                                    for r in rows[a]]))
    assert reopened.search(KNOWN, 5) == fresh.search(KNOWN, 5) != []
    (seg,) = (tmp_path / "lexical.sqlite3.segments").iterdir()  # written again, whole
    again = lexical.LexicalIndex(path)
    again.refresh()
    assert isinstance(again.snapshot.segments[0], MappedSegment)
