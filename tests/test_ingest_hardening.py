"""Ingest that one bad or huge file cannot sink: every file isolated, cost bounded, links
kept inside the folder, text read from markup the extractor gives up on, headings never
quoted as claims, and a SIGTERM ending a run as Ctrl-C does. Real loaders, real Chroma, the
real embedder, the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from index.chunking import _pieces, chunk_article
from index.loaders import Skip, load_paths
from index.metadata import make_article
from index.pipeline import ingest
from rag.service import RagService
from rag.types import Article
from tests.conftest import cli_env

RIVER = ("The river rose by three metres on Tuesday after heavy rain in the hills. Officials "
         "said the flood would pass by Friday.\n")
DEEP_TEXT = ("The Eiffel Tower is 330 metres tall and was finished in 1889 for the World Fair "
             "in Paris.")


def _folder(root: Path) -> Path:
    folder = root / "in"
    folder.mkdir()
    for i in range(3):
        (folder / f"good{i}.txt").write_text(f"Report {i}\n\n{RIVER.replace('three', str(i + 2))}")
    (folder / "plain.html").write_text(
        "<html><head><title>Moon facts</title></head><body><h1>Moon facts</h1><p>The Moon is "
        "about 384,400 kilometres from Earth. It takes about 27 days to orbit it.</p></body>"
        "</html>")
    (folder / "deep.html").write_text("<html><body>" + "<div>" * 100_000 + f"<p>{DEEP_TEXT}</p>"
                                      + "</div>" * 100_000 + "</body></html>")
    (folder / "new\nline.txt").write_text("Odd name\n\nThe harbour holds 40 boats in winter.\n")
    return folder


def test_a_folder_with_hostile_files_ingests_every_readable_one(make_settings: Any,
                                                                 tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    summary = ingest([str(folder)], make_settings())
    assert summary.added == 6 and summary.skipped == []
    service = RagService(make_settings())
    answer = service.ask("How tall is the Eiffel Tower?")
    assert not answer.refused and "330 metres" in answer.citations[0].quote


def test_an_extractor_that_raises_costs_only_its_file(make_settings: Any, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """As in a venv without lxml_html_clean: the extractor's ImportError is not the run's.
    The page is read from its markup instead; a loader that fails outright is one skip."""
    import trafilatura

    import index.loaders

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ImportError("lxml.html.clean module is now a separate project lxml_html_clean")

    monkeypatch.setattr(trafilatura, "bare_extraction", broken)
    folder = _folder(tmp_path)
    (folder / "records.jsonl").write_text('{"text": "A record."}\n')
    monkeypatch.setattr(index.loaders, "_json_records", lambda *a, **k: 1 / 0)
    summary = ingest([str(folder)], make_settings())
    assert summary.added == 6  # both HTML pages read from their markup
    assert [s["path"] for s in summary.skipped] == [str(folder / "records.jsonl")]
    assert "ZeroDivisionError" in summary.skipped[0]["reason"]


def test_html_nested_too_deep_for_the_extractor_is_read_as_plain_text(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    [article] = [a for a in load_paths([str(folder / "deep.html")], 20_000_000, 5.0)]
    assert isinstance(article, Article) and article.text == DEEP_TEXT


def test_links_out_of_the_folder_and_link_loops_are_listed_not_followed(tmp_path: Path
                                                                       ) -> None:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "ok.txt").write_text(RIVER)
    (tmp_path / "outside.txt").write_text("A secret outside the folder. The code is 1234.")
    (folder / "escape.txt").symlink_to(tmp_path / "outside.txt")
    (folder / "sub" / "loop").symlink_to(folder)
    (folder / "inside.txt").symlink_to(folder / "ok.txt")
    items = list(load_paths([str(folder)], 20_000_000, 5.0))
    skips = {s.where: s.reason for s in items if isinstance(s, Skip)}
    assert "outside" in skips[str(folder / "escape.txt")]
    assert "--follow-links" in skips[str(folder / "escape.txt")]
    assert "loop" in skips[str(folder / "sub" / "loop")]
    texts = [a.text for a in items if isinstance(a, Article)]
    assert texts.count(RIVER.strip()) == 2  # the link inside the folder is followed
    followed = list(load_paths([str(folder)], 20_000_000, 5.0, follow_links=True))
    assert any(isinstance(a, Article) and "secret" in a.text for a in followed)
    assert any(isinstance(s, Skip) and "loop" in s.reason for s in followed)


def test_skipped_paths_have_the_form_the_user_named(make_settings: Any, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    folder = Path("in")
    folder.mkdir()
    (folder / "a.txt").write_text(RIVER)
    (folder / "b.txt").write_text(RIVER)  # the same text: a duplicate, named by its origin
    (folder / "c.bin").write_bytes(b"\x00\x01")
    summary = ingest(["in"], make_settings())
    assert sorted(s["path"] for s in summary.skipped) == ["in/b.txt", "in/c.bin"]


def test_a_symlinked_input_keeps_its_name_in_the_summary(make_settings: Any, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    monkeypatch.chdir(tmp_path)
    Path("real").mkdir()
    Path("link").symlink_to("real")
    Path("real/a.txt").write_text(RIVER)
    Path("real/b.txt").write_text(RIVER)
    Path("real/c.bin").write_bytes(b"\x00")
    summary = ingest(["link"], make_settings())
    assert sorted(s["path"] for s in summary.skipped) == ["link/b.txt", "link/c.bin"]


def test_a_bad_url_costs_only_itself(make_settings: Any, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(RIVER)
    summary = ingest([str(tmp_path / "a.txt"), "http://a\tb/"], make_settings())
    assert summary.added == 1 and summary.skipped[0]["path"] == "http://a\tb/"


def test_markup_without_a_closed_head_or_inside_a_form_is_read() -> None:
    from index.htmltext import plain_text

    assert plain_text("<html><head><title>T</title><body><p>The tower is tall.</p>") == \
        "The tower is tall."
    assert plain_text("<body><form action=x><p>Inside a form.</p></form></body>") == \
        "Inside a form."


def test_a_short_claim_on_a_line_of_its_own_is_still_quoted(make_settings: Any,
                                                             tmp_path: Path) -> None:
    (tmp_path / "jobs.txt").write_text(
        "Jobs report\n\nUnemployment fell to 4.1%\nEconomists had expected a smaller fall, "
        "and wages rose faster than prices for the third month.\n")
    ingest([str(tmp_path / "jobs.txt")], make_settings())
    answer = RagService(make_settings()).ask("What did unemployment fall to?")
    assert any("4.1%" in c.quote for c in answer.citations), answer.answer


def test_a_long_line_with_no_sentence_break_is_cut_in_linear_time() -> None:
    calls = 0

    def count(text: str) -> int:
        nonlocal calls
        calls += 1
        return len(text.split())

    text = " ".join(f"w{i}" for i in range(20_000))
    spans = _pieces(text, 0, len(text), 100, count)
    assert len(spans) == 200 and all(count(text[a:b]) <= 100 for a, b in spans)
    assert " ".join(text[a:b] for a, b in spans) == text
    assert calls < 200 * 20 + 200  # a few counts per span, not one per word (20,000)


def test_a_file_over_the_chunk_cap_is_stored_cut_and_reported(make_settings: Any,
                                                               tmp_path: Path) -> None:
    article = make_article(" ".join(f"word{i}" for i in range(30_000)), origin="big.txt")
    assert len(chunk_article(article, 200, 40, limit=5)) == 5
    # Text of many characters per token (a padded table): the cap still fills its chunks.
    padded = make_article("\n".join(f"row {i}" + " " * 200 + "=" * 60 for i in range(3000)),
                          origin="table.txt")
    assert len(chunk_article(padded, 200, 40, limit=50)) == 50
    (tmp_path / "big.txt").write_text(article.text)
    summary = ingest([str(tmp_path / "big.txt")], make_settings(max_chunks_per_file=5))
    assert summary.added == 1 and summary.chunks == 5
    assert "RAG_MAX_CHUNKS_PER_FILE" in summary.truncated[0]["reason"]


def test_sigterm_ends_an_ingest_with_its_summary_and_a_consistent_store(tmp_path: Path
                                                                       ) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(150):
        (folder / f"a{i:03d}.txt").write_text(
            f"Bulletin {i}\n\n" + " ".join(f"On day {i} the council number {j} met about "
                                            f"bridge {i * j}." for j in range(30)))
    store = tmp_path / "store"
    env = cli_env(RAG_STORE_DIR=str(store))
    proc = subprocess.Popen([sys.executable, "-m", "ui.cli", "ingest", str(folder), "--json"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Wait for the first batch to land in Chroma (its file grows), however loaded the machine.
    db = store / "chroma.sqlite3"
    deadline = time.monotonic() + 300
    while not (db.exists() and db.stat().st_size > 1_500_000) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    t0 = time.monotonic()
    out, err = proc.communicate(timeout=60)
    assert time.monotonic() - t0 < 30
    summary = json.loads(out)
    assert summary["interrupted"] and proc.returncode == 130, err
    assert 0 < summary["added"] < 150
    # What was stored is whole: every article counted is in the store, with its chunks.
    stats = json.loads(subprocess.run([sys.executable, "-m", "ui.cli", "stats", "--json"],
                                      env=env, capture_output=True, text=True,
                                      timeout=120).stdout)
    assert stats["articles"] == summary["added"] == summary["articles"]
    assert stats["chunks"] == summary["chunks_embedded"] == summary["chunks"]


def test_a_markdown_heading_is_never_quoted_with_the_sentence_after_it(
        make_settings: Any, tmp_path: Path) -> None:
    (tmp_path / "eiffel.md").write_text(
        "# The Eiffel Tower\nThe Eiffel Tower is a wrought-iron lattice tower in Paris. It is "
        "330 metres tall, about the height of an 81-storey building.\n\n## History\nIt was "
        "built for the 1889 World Fair.\n")
    ingest([str(tmp_path / "eiffel.md")], make_settings())
    answer = RagService(make_settings()).ask("How tall is the Eiffel Tower?")
    assert answer.citations and answer.citations[0].title == "The Eiffel Tower"
    assert all(not c.quote.startswith("The Eiffel Tower\n") and "History" not in c.quote
               for c in answer.citations)
    assert "330 metres" in answer.answer


@pytest.mark.skipif(os.name != "posix", reason="file names with newlines")
def test_rag_ask_prints_no_raw_newline_or_override_from_a_file_name(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "new\nline\u202etxt.txt").write_text(
        "The harbour holds 40 boats in winter and 90 boats in summer.\n")
    env = cli_env(RAG_STORE_DIR=str(tmp_path / "store"))
    subprocess.run([sys.executable, "-m", "ui.cli", "ingest", str(folder)], env=env,
                   check=True, capture_output=True, timeout=300)
    out = subprocess.run([sys.executable, "-m", "ui.cli", "ask",
                          "How many boats does the harbour hold in winter?"], env=env,
                         capture_output=True, text=True, timeout=300).stdout
    assert "40 boats" in out and "\u202e" not in out
    [link] = [line for line in out.splitlines() if "line" in line and ".txt" in line]
    assert "new\\nline\\u202etxt.txt" in link


def test_titles_and_publishers_cannot_carry_overrides_or_line_breaks_to_any_surface() -> None:
    """Escaped once, at ingest, so the API's JSON, the chat and the widget show them as text."""
    article = make_article("Quarterly\u202eTROPER\n\nSales rose 4% in May.",
                           origin="a.txt", source="Acme\nNews")
    assert article.title == "Quarterly\\u202eTROPER" and article.source == "Acme\\nNews"
    assert make_article("x", origin="a", title="Paris\xa0: la tour").title == "Paris\xa0: la tour"
    assert article.text.startswith("Quarterly\u202eTROPER")  # the quoted text stays verbatim
