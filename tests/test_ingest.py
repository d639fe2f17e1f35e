"""Ingestion end to end: the real `rag` command (exit codes, messages, no tracebacks) and
index.pipeline.ingest in-process (idempotence, updates, prune, duplicates, a kill -9 mid-run),
on a real Chroma store in tmp_path and the real bundled embedder."""

from __future__ import annotations

import json
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from index.chunking import chunk_article
from index.loaders import load_paths
from index.pipeline import IngestSummary, ingest
from rag.errors import StoreError
from rag.retrieve import lexical
from rag.retrieve.embeddings import MINILM_NAME, get_embedder, model_cache_dir
from rag.retrieve.sentences import vectors_path
from rag.retrieve.stats import store_stats
from rag.retrieve.store import Store, open_store
from rag.settings import Settings, load_settings
from rag.types import Article, Chunk
from tests.conftest import SAMPLE, cli_env

SUMMARY_KEYS = {"added", "updated", "unchanged", "removed", "skipped", "chunks_embedded",
                "seconds"}
STATS_KEYS = {"articles", "chunks", "embed_model", "store", "bytes"}
MakeSettings = Callable[..., Settings]
Ingest = Callable[..., IngestSummary]
EDITED = "002_87a8e70946c86064.txt"  # the short sample with a headline line


# --- helpers --------------------------------------------------------------------------------
def rag_command() -> list[str]:
    script = Path(sys.executable).with_name("rag")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ui.cli"]


def run_rag(*args: str, cwd: Path, models: Path, timeout: float = 300,
            **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*rag_command(), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout,
                          env=cli_env(RAG_MODEL_CACHE=str(models), **env))


def assert_clean_stderr(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "Loading weights" not in proc.stderr, proc.stderr


def chunk_rows(store: Store) -> list[tuple[str, str, str]]:
    return list(store.iter_chunks())


def assert_consistent(store: Store) -> None:
    """No duplicate chunk texts, no chunk without its article, and a BM25 index that covers
    exactly the stored chunks."""
    rows = chunk_rows(store)
    texts = Counter(text for _, _, text in rows)
    assert [t for t, n in texts.items() if n > 1] == [], "duplicate chunk texts"
    owners = {aid for aid, _ in store.iter_article_meta()}
    assert {aid for _, aid, _ in rows} == owners, "chunks without an article, or the reverse"
    assert sorted(lexical_ids(store)) == sorted(cid for cid, _, _ in rows)
    assert vector_article_ids(store) == owners, "sentence vectors out of step with the store"


def vector_article_ids(store: Store) -> set[str]:
    """Articles whose sentence vectors are on file, read as another process would."""
    with sqlite3.connect(vectors_path(store.aux_dir())) as db:
        return {r[0] for r in db.execute("SELECT article_id FROM vecs")}


def lexical_ids(store: Store) -> list[str]:
    """Chunk ids in the lexical index file, read as another process would."""
    with sqlite3.connect(lexical.index_path(store.aux_dir())) as db:
        return [r[0] for r in db.execute("SELECT chunk_id FROM docs")]


def lexical_search(store: Store, query: str, k: int = 3) -> list[tuple[str, float]]:
    return lexical.open_index(store, store.aux_dir()).search(query, k)


def reader(settings: Settings) -> Store:
    return open_store(settings, MINILM_NAME, 384)


@pytest.fixture(scope="module")
def models(sample_store: Path) -> Path:
    """The ONNX embedder the session's sample ingest exported: CLI runs reuse it instead of
    exporting their own."""
    return model_cache_dir(load_settings(store_dir=sample_store))


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A private, writable copy of the sample articles."""
    folder = tmp_path / "articles"
    shutil.copytree(SAMPLE, folder)
    return folder


@pytest.fixture
def ingest_into(make_settings: MakeSettings) -> Ingest:
    def run(*paths: Path, prune: bool = False) -> IngestSummary:
        return ingest([str(p) for p in paths], make_settings(), prune=prune)

    return run


# --- the command line -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def cli_store(tmp_path_factory: pytest.TempPathFactory, models: Path) -> dict[str, Any]:
    """`rag ingest --json` over the sample folder plus bad inputs, with RAG_MAX_FILE_MB set
    just above the largest sample article (5.1 KB)."""
    base = tmp_path_factory.mktemp("cli")
    bad = base / "bad"
    bad.mkdir()
    (bad / "scan.pdf").write_bytes(b"%PDF-1.7\n")
    (bad / "blob.txt").write_bytes(b"\x00\x01\x02binary")
    (bad / "latin1.txt").write_bytes("Caf\xe9 society".encode("latin-1"))
    (bad / "empty.md").write_text("\n\n")
    (bad / "huge.txt").write_text("The talks went on. " * 600)  # 11 KB
    (bad / "lines.jsonl").write_text('{"title": "a record without text"}\n{oops\n'
                                     + "[" * 5_000 + "\n")  # under the 6 KB limit below
    (bad / "deep.json").write_text("[" * 5_000)  # once stopped the batch: RecursionError
    missing = base / "missing.txt"
    proc = run_rag("ingest", str(SAMPLE), str(bad), str(missing), "--json",
                   "--store", str(base / "store"), cwd=base, models=models,
                   RAG_MAX_FILE_MB="0.006")
    return {"base": base, "bad": bad, "missing": missing, "store": base / "store",
            "proc": proc}


def test_cli_ingest_adds_the_sample_and_names_every_bad_input(cli_store: dict[str, Any]) -> None:
    proc = cli_store["proc"]
    assert proc.returncode == 0, proc.stderr
    assert_clean_stderr(proc)
    summary = json.loads(proc.stdout)
    assert set(summary) >= SUMMARY_KEYS
    assert summary["added"] == 5
    assert (summary["updated"], summary["unchanged"], summary["removed"]) == (0, 0, 0)
    assert summary["chunks_embedded"] == summary["chunks"] > 5
    assert isinstance(summary["seconds"], float) and summary["seconds"] >= 0
    bad: Path = cli_store["bad"]
    reasons = {s["path"]: s["reason"] for s in summary["skipped"]}
    expected = {
        str(bad / "scan.pdf"): "unsupported file type .pdf",
        str(bad / "blob.txt"): "binary file",
        str(bad / "latin1.txt"): "not UTF-8",
        str(bad / "empty.md"): "empty article",
        str(bad / "huge.txt"): "over the 0.006 MB limit (RAG_MAX_FILE_MB)",
        f"{(bad / 'lines.jsonl').resolve()}:1": "record has no text, body or content field",
        f"{(bad / 'lines.jsonl').resolve()}:2": "malformed JSON line",
        f"{(bad / 'lines.jsonl').resolve()}:3": "JSON nested too deeply",
        str((bad / "deep.json").resolve()): "JSON nested too deeply",
        str(cli_store["missing"]): "no such file or folder",
    }
    assert sorted(reasons) == sorted(expected)
    for path, reason in expected.items():
        assert reason in reasons[path]


def test_cli_second_run_embeds_nothing_and_says_so(cli_store: dict[str, Any],
                                                   models: Path) -> None:
    proc = run_rag("ingest", str(SAMPLE), "--store", str(cli_store["store"]),
                   cwd=cli_store["base"], models=models)
    assert proc.returncode == 0, proc.stderr
    assert_clean_stderr(proc)
    first = proc.stdout.splitlines()[0]
    assert first.startswith("0 added, 0 updated, 5 unchanged, 0 removed, 0 skipped; "
                            "0 chunks embedded in ")


def test_cli_stats_reports_what_the_store_holds(cli_store: dict[str, Any],
                                                models: Path) -> None:
    proc = run_rag("stats", "--json", cwd=cli_store["base"], models=models,
                   RAG_STORE_DIR=str(cli_store["store"]))
    assert proc.returncode == 0, proc.stderr
    stats = json.loads(proc.stdout)
    assert set(stats) == STATS_KEYS
    summary = json.loads(cli_store["proc"].stdout)
    assert stats["articles"] == 5 and stats["chunks"] == summary["chunks"]
    assert stats["embed_model"] == MINILM_NAME
    assert stats["store"] == str(cli_store["store"].resolve())
    assert stats["bytes"] > 100_000


def test_cli_stats_on_a_store_never_ingested_says_what_to_do(tmp_path: Path,
                                                             models: Path) -> None:
    proc = run_rag("stats", "--store", "nowhere", cwd=tmp_path, models=models)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == "rag stats: error: no store at nowhere: run `rag ingest PATH` first\n"


def test_cli_exits_non_zero_only_when_nothing_could_be_ingested(tmp_path: Path,
                                                                models: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.docx").write_bytes(b"PK\x03\x04")
    (tmp_path / "two\nlines.docx").write_bytes(b"PK\x03\x04")
    proc = run_rag("ingest", "nothing-here.txt", "empty", "notes.docx", "two\nlines.docx",
                   "--store", "store", cwd=tmp_path, models=models)
    assert proc.returncode == 1
    assert_clean_stderr(proc)
    first, *rest = proc.stdout.splitlines()
    assert first.startswith("0 added")
    assert rest == ["  skipped nothing-here.txt: no such file or folder",
                    "  skipped empty: empty folder: no files to ingest",
                    "  skipped notes.docx: unsupported file type .docx: expected one of "
                    ".htm .html .json .jsonl .markdown .md .ndjson .txt",
                    "  skipped two\\nlines.docx: unsupported file type .docx: expected one of "
                    ".htm .html .json .jsonl .markdown .md .ndjson .txt"]


def test_cli_refuses_a_store_built_with_another_model(tmp_path: Path, models: Path,
                                                      make_settings: MakeSettings) -> None:
    settings = make_settings()
    Store(settings, create=True).bind("acme/other-embedder", 768)
    proc = run_rag("ingest", str(SAMPLE), "--store", str(settings.store_dir), cwd=tmp_path,
                   models=models)
    assert proc.returncode == 1
    assert_clean_stderr(proc)
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]  # one line
    assert proc.stderr.startswith("rag ingest: error: the store at ")
    assert "built with acme/other-embedder (768 dims)" in proc.stderr
    assert f"configured model is {MINILM_NAME} (384 dims)" in proc.stderr
    # Nothing was written under the wrong model.
    other = Store(settings)
    other.bind("acme/other-embedder", 768)
    assert other.count_chunks() == 0 and other.count_articles() == 0


def test_a_store_refuses_another_model_in_process(sample_settings: MakeSettings) -> None:
    settings = sample_settings()
    for name, dim in (("acme/other-embedder", 384), (MINILM_NAME, 768)):
        with pytest.raises(StoreError, match="was built with sentence-transformers/all-MiniLM"):
            open_store(settings, name, dim)
        with pytest.raises(StoreError, match=f"configured model is {name} \\({dim} dims\\)"):
            open_store(settings, name, dim, create=True)
    assert reader(settings).count_articles() == 5  # the refusals changed nothing


# --- in-process: idempotent and incremental ----------------------------------------------------
def test_rerun_over_the_sample_store_embeds_nothing(sample_settings: MakeSettings) -> None:
    summary = ingest([str(SAMPLE)], sample_settings())
    assert (summary.added, summary.updated, summary.unchanged) == (0, 0, 5)
    assert summary.chunks_embedded == 0 and summary.skipped == []
    assert summary.articles == 5


def test_an_unchanged_rerun_repairs_a_lexical_index_out_of_step(
        sample_settings: MakeSettings) -> None:
    """A run killed after its Chroma writes but before the lexical index took them (it
    stamps the store before writing, so the index's recorded stamp is behind)."""
    settings = sample_settings()
    store = reader(settings)
    idx = lexical.LexicalIndex(lexical.index_path(store.aux_dir()))
    idx.remove_articles(aid for aid, _ in store.iter_article_meta())
    store.bump_version()
    assert lexical_ids(store) == []
    summary = ingest([str(SAMPLE)], settings)
    assert (summary.unchanged, summary.chunks_embedded) == (5, 0)
    assert_consistent(reader(settings))
    assert lexical_search(store, "Sinwar", 1)


def test_a_changed_file_replaces_its_old_chunks(corpus: Path, make_settings: MakeSettings,
                                                ingest_into: Ingest) -> None:
    first = ingest_into(corpus)
    assert first.added == 5
    path = corpus / EDITED
    store = reader(make_settings())
    (old_id,) = store.article_ids_by_origin(str(path.resolve()))
    old_sentence = "Blinken will begin his eighth diplomatic mission to the region on Monday"
    new_sentence = "Blinken will begin his ninth diplomatic mission to Zanzibar on Monday"
    text = path.read_text()
    assert old_sentence in text
    path.write_text(text.replace(old_sentence, new_sentence))

    second = ingest_into(corpus)
    assert (second.added, second.updated, second.unchanged) == (0, 1, 4)
    (new_id,) = store.article_ids_by_origin(str(path.resolve()))
    assert new_id != old_id and store.count_articles() == 5
    assert old_id not in {aid for _, aid, _ in chunk_rows(store)}
    mine = [cid for cid, aid, _ in chunk_rows(store) if aid == new_id]
    assert second.chunks_embedded == len(mine) > 0  # only the edited article was embedded
    all_text = " ".join(t for _, _, t in chunk_rows(store))
    assert new_sentence in all_text and old_sentence not in all_text
    assert_consistent(store)
    # Keyword search sees the edit at once.
    hits = lexical_search(store, "Zanzibar")
    assert hits and hits[0][0] in mine


def test_a_deleted_file_stays_until_prune_removes_it(corpus: Path, make_settings: MakeSettings,
                                                     ingest_into: Ingest) -> None:
    ingest_into(corpus)
    (corpus / EDITED).unlink()
    kept = ingest_into(corpus)
    assert (kept.unchanged, kept.removed, kept.articles) == (4, 0, 5)
    pruned = ingest_into(corpus, prune=True)
    assert (pruned.unchanged, pruned.removed, pruned.articles) == (4, 1, 4)
    store = reader(make_settings())
    assert EDITED not in {Path(str(m["origin"])).name for _, m in store.iter_article_meta()}
    assert_consistent(store)
    assert ingest_into(corpus, prune=True).removed == 0


def test_the_same_text_under_two_names_is_stored_once(tmp_path: Path, make_settings: MakeSettings,
                                                      ingest_into: Ingest) -> None:
    folder = tmp_path / "dupes"
    folder.mkdir()
    original = folder / "a-original.txt"
    copy = folder / "b-copy.txt"
    shutil.copy(SAMPLE / EDITED, original)
    shutil.copy(SAMPLE / EDITED, copy)
    first = ingest_into(folder)
    assert (first.added, first.articles) == (1, 1)
    assert first.skipped == [{"path": str(copy.resolve()),
                              "reason": f"same text as {original.resolve()} (stored once)"}]
    again = ingest_into(folder)
    assert (again.chunks_embedded, again.unchanged, again.articles) == (0, 1, 1)
    # The original goes; the copy takes over without embedding anything again.
    original.unlink()
    moved = ingest_into(folder, prune=True)
    assert (moved.chunks_embedded, moved.unchanged, moved.removed, moved.articles) == (0, 1, 0, 1)
    (_, meta), = reader(make_settings()).iter_article_meta()
    assert meta["origin"] == str(copy.resolve())


def test_a_near_duplicate_copy_is_reported(tmp_path: Path,
                                           ingest_into: Ingest) -> None:
    folder = tmp_path / "wire"
    folder.mkdir()
    text = (SAMPLE / "000_425cd773bcdce057.txt").read_text()
    (folder / "a-ap.txt").write_text(text)
    edited = (text.replace("this week", "on Tuesday").replace("11th", "eleventh")
              .replace("tens of thousands", "more than 40,000"))
    assert edited != text
    (folder / "b-wire-copy.txt").write_text(edited)
    (folder / "c-other.txt").write_text((SAMPLE / "004_4d4d665632b5edbc.txt").read_text())
    summary = ingest_into(folder)
    assert summary.added == 3  # near-duplicates are reported, not dropped
    assert len(summary.near_duplicates) == 1
    dup = summary.near_duplicates[0]
    assert (Path(dup["path"]).name, Path(dup["of"]).name) == ("b-wire-copy.txt", "a-ap.txt")
    assert 0.8 <= dup["similarity"] < 1.0


def test_a_jsonl_record_that_moves_to_another_line_is_kept(
        tmp_path: Path, make_settings: MakeSettings, ingest_into: Ingest) -> None:
    texts = {k: (SAMPLE / name).read_text() for k, name in
             (("a", "000_425cd773bcdce057.txt"), ("b", "003_050f238d6bd52d70.txt"),
              ("c", "004_4d4d665632b5edbc.txt"))}
    path = tmp_path / "records.jsonl"
    path.write_text("".join(json.dumps({"text": texts[k]}) + "\n" for k in "ab"))
    assert ingest_into(path).added == 2
    # A new record goes on top: the old ones move down a line each.
    path.write_text("".join(json.dumps({"text": texts[k]}) + "\n" for k in "cab"))
    summary = ingest_into(path)
    assert (summary.added, summary.unchanged, summary.articles) == (1, 2, 3)
    assert summary.chunks_embedded > 0 and summary.skipped == []
    store = reader(make_settings())
    got = store.articles.get(include=["documents", "metadatas"])
    at_line = {m["origin"]: doc[:30] for doc, m in zip(got["documents"], got["metadatas"],
                                                       strict=True)}
    assert at_line == {f"{path.resolve()}#{n}": texts[k][:30] for n, k in enumerate("cab", 1)}
    assert_consistent(store)


def test_two_records_claiming_one_url_keep_the_first_and_stay_idempotent(
        tmp_path: Path, ingest_into: Ingest) -> None:
    path = tmp_path / "dump.jsonl"
    url = "https://news.example.com/ceasefire"
    path.write_text(json.dumps({"url": url, "text": (SAMPLE / EDITED).read_text()}) + "\n" +
                    json.dumps({"url": url, "text": (SAMPLE / EDITED).read_text()
                                .replace("eighth", "ninth")}) + "\n")
    first = ingest_into(path)
    assert (first.added, first.articles) == (1, 1)
    assert first.skipped == [{"path": url, "reason": "another article in this run has the same "
                                                     "url or path (kept the first)"}]
    again = ingest_into(path)
    assert (again.unchanged, again.chunks_embedded, again.articles) == (1, 0, 1)


def test_a_file_edited_to_match_another_leaves_no_stale_text(
        tmp_path: Path, make_settings: MakeSettings, ingest_into: Ingest) -> None:
    folder = tmp_path / "two"
    folder.mkdir()
    shutil.copy(SAMPLE / "003_050f238d6bd52d70.txt", folder / "a.txt")
    shutil.copy(SAMPLE / "004_4d4d665632b5edbc.txt", folder / "b.txt")
    assert ingest_into(folder).added == 2
    shutil.copy(folder / "b.txt", folder / "a.txt")
    summary = ingest_into(folder)
    assert summary.articles == 1
    store = reader(make_settings())
    all_text = " ".join(t for _, _, t in chunk_rows(store))
    assert "spy chief" not in all_text  # only in a.txt's old text (sample 003)
    assert_consistent(store)


# --- kill -9 mid-ingest ---------------------------------------------------------------------
TOWNS = ["Ashford", "Bexley", "Carlisle", "Dover", "Ely", "Frome", "Goole", "Hexham", "Ilkley",
         "Jarrow", "Kendal", "Ludlow", "Malton", "Newark", "Oakham", "Penrith", "Ripon", "Selby"]
TOPICS = ["bus lanes", "flood defences", "a new library", "school meals", "street lighting",
          "river cleaning", "parking fees", "a cycle path", "market stalls", "bin collections"]
NAMES = ["Patel", "Okafor", "Nowak", "Jensen", "Moreau", "Silva", "Kowalski", "Haddad", "Ito"]


def generate_corpus(folder: Path, n: int) -> None:
    """n distinct small articles, the same on every call."""
    folder.mkdir()
    for i in range(n):
        rng = random.Random(i)
        town, topic, other = rng.choice(TOWNS), rng.choice(TOPICS), rng.choice(TOPICS)
        name, day = rng.choice(NAMES), rng.choice(["Monday", "Tuesday", "Thursday"])
        (folder / f"{i:04d}.txt").write_text(
            f"{town} council votes on {topic} (item {i})\n\n"
            f"The council of {town} met on {day} to debate plan number {i} for {topic}. "
            f"Councillor {name} said the vote would settle a budget of {rng.randint(10, 999)} "
            f"thousand pounds. Residents asked about {other} and the timetable, and a second "
            f"meeting was set for week {rng.randint(1, 52)}.\n")


def article_rows(store_dir: Path) -> int:
    """Articles recorded so far, read from Chroma's SQLite file without opening a client
    (which would cache state across the kill)."""
    db = store_dir / "chroma.sqlite3"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.2) as con:
            row = con.execute(
                "SELECT count(*) FROM embeddings e JOIN segments s ON e.segment_id = s.id "
                "JOIN collections c ON s.collection = c.id WHERE c.name = 'articles_articles'"
            ).fetchone()
    except sqlite3.Error:
        return 0  # schema not there yet, or busy: ask again
    return int(row[0])


def chunks_of(article: Article, settings: Settings) -> list[Chunk]:
    """An article's chunks exactly as the pipeline cuts them."""
    embedder = get_embedder(settings)
    return chunk_article(article, settings.chunk_tokens, settings.chunk_overlap,
                         lambda text: embedder.count_tokens(text) <= embedder.max_tokens)


def loaded(path: Path) -> list[Article]:
    return [a for a in load_paths([str(path)], 10**9, 5.0) if isinstance(a, Article)]


def expected_chunk_ids(folder: Path, settings: Settings) -> set[str]:
    """The chunk ids a clean ingest of `folder` stores (distinct articles, nothing skipped),
    computed with the pipeline's own loader and chunker instead of embedding it all again."""
    return {c.id for a in loaded(folder) for c in chunks_of(a, settings)}


# Three flushes of 256 one-chunk articles: the signal is sent when the first flush shows,
# and two more flushes (a few seconds) remain for it to land in, even on a loaded machine.
INTERRUPTED_RUN = 700


def interrupt_ingest(tmp_path: Path, models: Path, sig: signal.Signals, n: int = 300
                     ) -> tuple[Path, Settings, int, str, str]:
    """`rag ingest --json` over n generated articles (more than one flush of 256 chunks),
    sent `sig` as soon as the first articles are stored; returns the corpus folder, the
    store's settings, and the exit code, stdout and stderr."""
    folder = tmp_path / "generated"
    generate_corpus(folder, n)
    store_dir = tmp_path / "store"
    proc = subprocess.Popen([*rag_command(), "ingest", str(folder), "--json",
                             "--store", str(store_dir)],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=cli_env(RAG_MODEL_CACHE=str(models)))
    try:
        deadline = time.monotonic() + 240
        while article_rows(store_dir) == 0:
            assert proc.poll() is None, "the ingest finished before it could be interrupted"
            assert time.monotonic() < deadline, "no articles stored after 240 s"
            time.sleep(0.05)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return folder, load_settings(store_dir=store_dir), proc.returncode, out, err


def test_kill_9_mid_ingest_then_rerun_completes_without_duplicates(
        tmp_path: Path, models: Path) -> None:
    n = INTERRUPTED_RUN
    folder, settings, code, _, _ = interrupt_ingest(tmp_path, models, signal.SIGKILL, n)
    assert code == -signal.SIGKILL
    stats = store_stats(settings)  # readable after the kill
    assert 0 < stats["articles"] < n
    # The lexical index holds its last committed state (chunks Chroma has), undamaged.
    killed = reader(settings)
    idx = lexical.LexicalIndex(lexical.index_path(killed.aux_dir()))
    assert idx.health.repaired is None
    assert set(lexical_ids(killed)) <= {
        cid for cid, _, _ in chunk_rows(killed)}
    idx.close()
    # Sentence vectors: whole articles only, each of them in the store.
    assert vector_article_ids(killed) <= {aid for aid, _ in killed.iter_article_meta()}

    resumed = ingest([str(folder)], settings)
    assert resumed.added + resumed.unchanged == n and resumed.unchanged == stats["articles"]
    assert resumed.skipped == [] and resumed.near_duplicates == []
    store = reader(settings)
    assert_consistent(store)
    expected = expected_chunk_ids(folder, settings)
    assert (resumed.articles, resumed.chunks) == (n, len(expected))
    assert {cid for cid, _, _ in chunk_rows(store)} == expected


def test_ctrl_c_mid_ingest_reports_what_was_stored_and_a_rerun_finishes(
        tmp_path: Path, models: Path) -> None:
    n = INTERRUPTED_RUN
    folder, settings, code, out, err = interrupt_ingest(tmp_path, models, signal.SIGINT, n)
    assert code == 130 and "Traceback" not in err
    summary = json.loads(out)
    assert summary["interrupted"] is True and 0 < summary["added"] < n
    assert store_stats(settings)["articles"] == summary["articles"] == summary["added"]

    resumed = ingest([str(folder)], settings)
    assert (resumed.unchanged, resumed.added) == (summary["added"], n - summary["added"])
    assert_consistent(reader(settings))
    assert resumed.chunks == len(expected_chunk_ids(folder, settings))


def test_a_rerun_repairs_what_an_interrupted_run_left_behind(
        corpus: Path, make_settings: MakeSettings, ingest_into: Ingest) -> None:
    """The two states a kill can leave: chunks written without their article record, and an
    update recorded before its old version was dropped."""
    settings = make_settings()
    embedder = get_embedder(settings)
    store = open_store(settings, embedder.name, embedder.dim, create=True)
    edited = corpus / EDITED
    origin = str(edited.resolve())
    (old,) = loaded(edited)
    edited.write_text(edited.read_text().replace("eighth", "ninth"))
    for article in [*loaded(corpus), old]:
        chunks = chunks_of(article, settings)
        vectors = embedder.embed([c.text for c in chunks])
        store.upsert_chunks(chunks, vectors)
        if article.origin == origin:  # both versions of the edited file are recorded
            store.put_article(article, vectors.mean(axis=0), len(chunks))
    assert store.count_articles() == 2 and len(store.article_ids_by_origin(origin)) == 2

    summary = ingest_into(corpus)
    assert (summary.added, summary.unchanged, summary.articles) == (4, 1, 5)
    assert summary.chunks_embedded == summary.chunks - len(chunks_of(loaded(edited)[0], settings))
    assert_consistent(store)
    assert {cid for cid, _, _ in chunk_rows(store)} == expected_chunk_ids(corpus, settings)
    assert "eighth" not in " ".join(text for _, _, text in chunk_rows(store))


def test_only_copies_of_stored_text_is_not_a_failure(tmp_path: Path, sample_settings) -> None:  # type: ignore[no-untyped-def]
    """Re-ingesting a renamed copy of a stored article stores nothing new, and that is fine."""
    from ui.cli import main

    settings = sample_settings()
    copy_dir = tmp_path / "copies"
    copy_dir.mkdir()
    first = sorted(SAMPLE.glob("*.txt"))[0]
    (copy_dir / "renamed.txt").write_bytes(first.read_bytes())
    code = main(["ingest", str(copy_dir), "--json", "--store", str(settings.store_dir)])
    assert code == 0


# --- hostile conditions: concurrent runs, a damaged store, a server that is down ---------------
def test_two_concurrent_runs_of_one_folder_do_not_both_add_it(tmp_path: Path,
                                                               models: Path) -> None:
    folder = tmp_path / "many"
    generate_corpus(folder, 120)
    cmd = [*rag_command(), "ingest", str(folder), "--json", "--store", str(tmp_path / "store")]
    env = cli_env(RAG_MODEL_CACHE=str(models))
    runs = [subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=env) for _ in range(2)]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err for _, err in outputs]
    summaries = [json.loads(out) for out, _ in outputs]
    assert sorted((s["added"], s["unchanged"]) for s in summaries) == [(0, 120), (120, 0)]
    store = reader(load_settings(store_dir=tmp_path / "store"))
    assert store.count_articles() == 120
    assert_consistent(store)


def test_a_damaged_store_is_named_with_the_remedy(tmp_path: Path, models: Path,
                                                  make_settings: MakeSettings) -> None:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    # Collections that write their vector index to disk every two records (Chroma's default
    # is every thousand), so the sample's few chunks are enough to have one to damage.
    client = chromadb.PersistentClient(path=str(tmp_path / "store"),
                                       settings=ChromaSettings(anonymized_telemetry=False))
    for name in ("articles", "articles_articles"):
        client.create_collection(
            name, metadata={"embed_model": MINILM_NAME, "embed_dim": 384},
            configuration={"hnsw": {"space": "cosine", "sync_threshold": 2, "batch_size": 2}},
            embedding_function=None)
    assert ingest([str(SAMPLE)], make_settings()).added == 5
    headers = list((tmp_path / "store").glob("*/header.bin"))
    assert headers, "no vector index on disk to damage"
    for header in headers:
        header.write_bytes(b"garbage")
    (tmp_path / "new.txt").write_text("The river town council set its budget on Monday.")
    proc = run_rag("ingest", "new.txt", "--store", "store", cwd=tmp_path, models=models)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith("rag ingest: error: the store at store is damaged (")
    assert proc.stderr.endswith("): restore it from a backup, or re-ingest into a new "
                                "RAG_STORE_DIR\n")
    assert proc.stderr.count("\n") == 1

    (tmp_path / "garbage").mkdir()
    (tmp_path / "garbage" / "chroma.sqlite3").write_bytes(b"not a database" * 1000)
    proc = run_rag("ingest", "new.txt", "--store", "garbage", cwd=tmp_path, models=models)
    assert proc.returncode == 1
    assert proc.stderr == ("rag ingest: error: the store at garbage is damaged (InternalError: "
                           "error returned from database: (code: 26) file is not a database): "
                           "restore it from a backup, or re-ingest into a new RAG_STORE_DIR\n")


def test_a_chroma_server_that_is_down_is_named_with_its_settings(tmp_path: Path,
                                                                 models: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "new.txt").write_text("The river town council set its budget on Monday.")
    proc = run_rag("ingest", "new.txt", cwd=tmp_path, models=models,
                   CHROMA_HOST="127.0.0.1", CHROMA_PORT=str(port))
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith(
        f"rag ingest: error: cannot reach the Chroma server at 127.0.0.1:{port} "
        "(CHROMA_HOST/CHROMA_PORT): start it (`chroma run`) or point the settings at a "
        "running one (")
