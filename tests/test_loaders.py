"""Loaders: every supported format becomes an Article with the right title, source, url and
date and only its main text; every bad input becomes a Skip that names the file (and line) and
says why, while the rest of the batch still loads. No model, no store."""

from __future__ import annotations

import codecs
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from index.loaders import Loaded, Skip, load_paths
from rag.settings import Settings
from rag.types import Article
from tests.conftest import SAMPLE

BODY = ("Negotiators from Egypt and Qatar met the Hamas delegation in Cairo on Thursday. "
        "They discussed a phased ceasefire and the release of hostages held in Gaza. "
        "Israel's spy chief was expected to join the talks later in the week.")

ARTICLE_HTML = """<!doctype html><html><head>
<title>Cairo talks resume | Example News</title>
<meta property="og:site_name" content="Example News">
<meta property="article:published_time" content="2024-10-22T08:00:00Z">
<style>.promo { color: red } STYLETEXT</style>
<script>var tracking = "SCRIPTTEXT";</script>
</head><body>
<nav><a href="/">Home</a> <a href="/world">NAVTEXT World</a> <a href="/sport">Sport</a></nav>
<article>
<h1>Cairo talks resume</h1>
<p>Negotiators from Egypt and Qatar met the Hamas delegation in Cairo on Thursday, officials
said, as mediators pressed for a phased ceasefire in the year-long war in Gaza.</p>
<p>The talks covered the release of hostages held in Gaza and the return of displaced people
to the north of the territory, according to two people briefed on the discussions.</p>
<p>Israel's spy chief was expected to join the talks later in the week, the officials said,
adding that no agreement had yet been reached on the sequence of the first phase.</p>
</article>
<footer>FOOTERTEXT Copyright Example News. All rights reserved.</footer>
</body></html>"""


def _load(*paths: Path | str, max_bytes: int = 20_000_000) -> list[Loaded]:
    return list(load_paths([str(p) for p in paths], max_bytes, 5.0))


def _one(path: Path) -> Article:
    got = _load(path)
    assert len(got) == 1 and isinstance(got[0], Article), got
    return got[0]


def _skips(items: list[Loaded]) -> dict[str, str]:
    return {s.where: s.reason for s in items if isinstance(s, Skip)}


# --- formats ------------------------------------------------------------------------------------
def test_plain_text_keeps_its_clean_text_and_path(tmp_path: Path) -> None:
    path = tmp_path / "story.txt"
    path.write_text(BODY + "  \r\n\r\n\r\n\r\nSecond paragraph here.\r\n", encoding="utf-8")
    a = _one(path)
    assert a.text == BODY + "\n\nSecond paragraph here."
    assert a.url == a.origin == str(path.resolve())
    assert a.title == "Negotiators from Egypt and Qatar met the Hamas delegation in Cairo on " \
                      "Thursday."
    assert a.source == "" and a.date is None


def test_markdown_loses_its_markup_but_not_its_paragraphs(tmp_path: Path) -> None:
    path = tmp_path / "story.md"
    path.write_text("# Cairo talks resume\n\nMediators met in **Cairo** on Thursday, "
                    "[officials said](https://example.com/x).\n\n## Next steps\n\nMore talks "
                    "are planned.\n")
    a = _one(path)
    assert a.title == "Cairo talks resume"
    assert a.text == ("Cairo talks resume\n\nMediators met in Cairo on Thursday, officials "
                      "said.\n\nNext steps\n\nMore talks are planned.")


def test_html_keeps_the_main_text_only(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(ARTICLE_HTML)
    a = _one(path)
    assert "phased ceasefire" in a.text and "no agreement had yet been reached" in a.text
    for boilerplate in ("SCRIPTTEXT", "STYLETEXT", "NAVTEXT", "FOOTERTEXT", "tracking",
                        "color: red"):
        assert boilerplate not in a.text
    assert a.title == "Cairo talks resume"
    assert a.source == "Example News"
    assert a.date == "2024-10-22"
    assert a.url == str(path.resolve())


def test_html_title_comes_from_the_title_tag_without_an_h1(tmp_path: Path) -> None:
    path = tmp_path / "page.htm"
    path.write_text(ARTICLE_HTML.replace("<h1>Cairo talks resume</h1>", "")
                    .replace("<title>Cairo talks resume | Example News</title>",
                             "<title>Spy chief joins Gaza talks</title>"))
    assert _one(path).title == "Spy chief joins Gaza talks"


def test_jsonl_records_with_text_body_or_content_and_their_fields(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    records = [
        {"title": "Record title", "text": BODY, "url": "https://news.example.com/a",
         "date": "2024-10-22", "source": "Wire Service"},
        {"body": "Body field article. It has two sentences."},
        {"content": "Content field article. Also two sentences.", "date": 2024},
    ]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    a, b, c = (x for x in _load(path) if isinstance(x, Article))
    assert (a.title, a.url, a.date, a.source, a.text) == (
        "Record title", "https://news.example.com/a", "2024-10-22", "Wire Service", BODY)
    assert b.text == "Body field article. It has two sentences."
    assert b.title == "Body field article."  # no title field: the first sentence
    assert b.url == f"{path.resolve()}#2"  # no url field: the file, and the record's line
    assert (c.text, c.date) == ("Content field article. Also two sentences.", "2024")


def test_json_file_with_a_list_or_an_articles_key(tmp_path: Path) -> None:
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps([{"text": "First listed article."},
                                  {"text": "Second listed article."}]))
    keyed = tmp_path / "keyed.json"
    keyed.write_text(json.dumps({"articles": [{"title": "Keyed", "content": "Keyed text."}]}))
    got = [x for x in _load(listed, keyed) if isinstance(x, Article)]
    assert [(a.title, a.text) for a in got] == [
        ("First listed article.", "First listed article."),
        ("Second listed article.", "Second listed article."),
        ("Keyed", "Keyed text.")]


# --- titles, sources, dates ---------------------------------------------------------------------
def test_headline_first_line_is_the_title() -> None:
    a = _one(SAMPLE / "002_87a8e70946c86064.txt")
    assert a.title == ("Blinken pushes for Israel-Hamas ceasefire as hostage rescue "
                       "complicates talks")


def test_without_a_headline_the_title_is_the_first_sentence_cut_to_120_chars() -> None:
    a = _one(SAMPLE / "000_425cd773bcdce057.txt")
    assert a.text.startswith("U.S. Secretary of State Antony Blinken arrived in Israel")
    assert a.title.startswith("U.S. Secretary of State Antony Blinken arrived in Israel")
    assert len(a.title) <= 120 and a.title.endswith("…")


def test_source_line_becomes_the_source_and_leaves_the_text() -> None:
    a = _one(SAMPLE / "001_0c6b4b250ced8e37.txt")
    assert a.source == "Reuters"
    assert "[Source" not in a.text and "Reuters]" not in a.text
    assert a.text.startswith("U.S. Secretary of State Antony Blinken pressed")


def test_date_line_becomes_the_date(tmp_path: Path) -> None:
    path = tmp_path / "dated.txt"
    path.write_text(f"Talks resume in Cairo\nPublished: 2024-10-22\n\n{BODY}\n")
    a = _one(path)
    assert a.date == "2024-10-22" and "Published" not in a.text
    assert a.title == "Talks resume in Cairo"


def test_a_text_that_file_calls_binary_is_read_as_text() -> None:
    path = SAMPLE / "002_87a8e70946c86064.txt"
    assert path.read_bytes().startswith(b"Blin")  # `file` says "Blink archive data"
    assert _one(path).text.startswith("Blinken pushes for Israel-Hamas ceasefire")


def test_the_sample_folder_loads_five_articles_in_a_stable_order() -> None:
    first = _load(SAMPLE)
    assert [type(x) for x in first] == [Article] * 5
    assert [a.id for a in first] == [a.id for a in _load(SAMPLE)]  # type: ignore[union-attr]


# --- bad input ----------------------------------------------------------------------------------
@pytest.fixture
def bad_batch(tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    """A folder of every kind of bad file, beside two good ones."""
    folder = tmp_path / "batch"
    folder.mkdir()
    files = {
        "good": folder / "good.txt",
        "good_md": folder / "notes.md",
        "unsupported": folder / "report.pdf",
        "no_extension": folder / "README",
        "binary": folder / "image.txt",
        "latin1": folder / "latin1.txt",
        "empty": folder / "empty.txt",
        "blank": folder / "blank.md",
        "source_only": folder / "source-only.txt",
        "big": folder / "big.txt",
        "jsonl": folder / "records.jsonl",
        "bad_json": folder / "broken.json",
        # hostile input: each is reported on its own, none stops the batch
        "deep_json": folder / "deep.json",
        "utf16": folder / "utf16.txt",
        "bad_utf16": folder / "odd-utf16.txt",
        "loop": folder / "loop-a.txt",
        "loop_back": folder / "loop-b.txt",
        "dangling": folder / "dangling.md",
        "newline_name": folder / "two\nlines.pdf",
    }
    files["good"].write_text(BODY)
    files["good_md"].write_text("# Notes\n\n" + BODY.replace("Thursday", "Friday"))
    files["unsupported"].write_bytes(b"%PDF-1.7\n")
    files["no_extension"].write_text("read me")
    files["binary"].write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    files["latin1"].write_bytes("Caf\xe9 talks in Cairo resumed on Thursday.".encode("latin-1"))
    files["empty"].write_bytes(b"")
    files["blank"].write_text("\n\n   \n\t\n")
    files["source_only"].write_text("[Source: Reuters]\n\n")
    files["big"].write_text((BODY + "\n") * 40)  # ~9 KB: over a 5 KB limit
    files["jsonl"].write_text("\n".join([
        json.dumps({"text": "A good record about the talks."}),
        '{"text": "unterminated',
        json.dumps({"title": "no text field"}),
        json.dumps(["not", "an", "object"]),
        json.dumps({"text": "   "}),
        json.dumps({"body": "Another good record about the talks."}),
        "[" * 4_000,  # json's bound is about a thousand; the file stays under 5 KB
        json.dumps({"body": "A record after the deep one."}),
    ]) + "\n")
    files["bad_json"].write_text('{"text": "missing brace"')
    files["deep_json"].write_text("[" * 4_000)
    files["utf16"].write_bytes("Talks resume in Cairo on Friday.".encode("utf-16"))  # with BOM
    files["bad_utf16"].write_bytes(codecs.BOM_UTF16_LE + b"T\x00a\x00l")  # a byte short
    files["loop"].symlink_to(files["loop_back"].name)
    files["loop_back"].symlink_to(files["loop"].name)
    files["dangling"].symlink_to("moved-away.md")
    files["newline_name"].write_bytes(b"%PDF-1.7\n")
    (folder / ".hidden.txt").write_text("hidden files are not articles")
    return folder, files


def test_every_bad_file_is_named_with_a_reason_and_the_rest_still_loads(
        bad_batch: tuple[Path, dict[str, Path]], make_settings: Callable[..., Settings]) -> None:
    folder, f = bad_batch
    settings = make_settings(max_file_mb=0.005)  # RAG_MAX_FILE_MB, set small
    items = list(load_paths([str(folder)], int(settings.max_file_mb * 1e6),
                            settings.fetch_timeout))
    titles = sorted(a.title for a in items if isinstance(a, Article))
    assert titles == ["A good record about the talks.", "A record after the deep one.",
                      "Another good record about the talks.",
                      "Negotiators from Egypt and Qatar met the Hamas delegation in Cairo on "
                      "Thursday.", "Notes", "Talks resume in Cairo on Friday."]
    skips = _skips(items)
    records = str(f["jsonl"].resolve())
    expected = {
        str(f["unsupported"]): "unsupported file type .pdf",
        str(f["no_extension"]): "unsupported file type (no extension)",
        str(f["binary"]): "binary file",
        str(f["latin1"]): "not UTF-8",
        str(f["empty"]): "empty article",
        str(f["blank"]): "empty article",
        str(f["source_only"]): "empty article",
        str(f["big"]): "over the 0.005 MB limit (RAG_MAX_FILE_MB)",
        f"{records}:2": "malformed JSON line",
        f"{records}:3": "no text, body or content",
        f"{records}:4": "not a JSON object",
        f"{records}:5": "empty article",
        str(f["bad_json"].resolve()): "malformed JSON at line 1",
        f"{records}:7": "JSON nested too deeply",
        str(f["deep_json"].resolve()): "JSON nested too deeply",
        str(f["bad_utf16"]): "starts like UTF-16 text but is not valid UTF-16",
        str(f["loop"]): "symbolic link loop",
        str(f["loop_back"]): "symbolic link loop",
        str(f["dangling"]): "broken symbolic link: it points to moved-away.md",
        str(f["newline_name"]): "unsupported file type .pdf",
    }
    assert sorted(skips) == sorted(expected)
    for where, reason in expected.items():
        assert reason in skips[where], (where, skips[where])
    assert all(".hidden" not in w for w in skips)


def test_json_nested_a_hundred_thousand_deep_is_skipped_and_the_rest_loads(
        tmp_path: Path) -> None:
    deep, lines, good = tmp_path / "deep.json", tmp_path / "lines.jsonl", tmp_path / "good.md"
    deep.write_text("[" * 100_000)
    lines.write_text("[" * 100_000 + "\n" + json.dumps({"text": BODY}) + "\n")
    good.write_text("# Notes\n\nMore talks are planned.")
    items = _load(deep, lines, good)
    reason = ("JSON nested too deeply to read (about a thousand [ or { inside each other): "
              "not an article or a list of articles")
    assert _skips(items) == {str(deep.resolve()): reason, f"{lines.resolve()}:1": reason}
    assert [a.title for a in items if isinstance(a, Article)] == [BODY.split(". ")[0] + ".",
                                                                  "Notes"]


def test_a_symlink_loop_named_on_the_command_line_is_called_a_loop(tmp_path: Path) -> None:
    loop = tmp_path / "loop.txt"
    loop.symlink_to("loop.txt")
    assert _skips(_load(loop)) == {str(loop): "symbolic link loop: the link leads back to "
                                              "itself"}


def test_a_markdown_link_whose_url_has_parentheses_leaves_no_junk(tmp_path: Path) -> None:
    path = tmp_path / "links.md"
    path.write_text("# Planets\n\nSee [Mercury](https://en.wikipedia.org/wiki/Mercury_(planet)) "
                    "and [Venus](https://example.com/v \"the title\") tonight.\n")
    assert _one(path).text == "Planets\n\nSee Mercury and Venus tonight."


def test_a_missing_path_and_an_empty_folder_are_reported(tmp_path: Path) -> None:
    empty = tmp_path / "empty-folder"
    (empty / "sub").mkdir(parents=True)
    missing = tmp_path / "nope" / "gone.txt"
    good = tmp_path / "good.txt"
    good.write_text(BODY)
    items = _load(missing, empty, good)
    assert _skips(items) == {str(missing): "no such file or folder",
                             str(empty): "empty folder: no files to ingest"}
    assert [a.text for a in items if isinstance(a, Article)] == [BODY]


def test_non_utf8_reason_says_where_and_how_to_fix(tmp_path: Path) -> None:
    path = tmp_path / "cp1252.txt"
    path.write_bytes(b"Talks \x93resumed\x94 in Cairo.")
    (skip,) = _load(path)
    assert isinstance(skip, Skip)
    assert skip.reason == ("not UTF-8 text (invalid byte 0x93 at offset 6); "
                           "re-save it as UTF-8")


def test_a_named_pipe_is_refused_instead_of_hanging_the_batch(tmp_path: Path) -> None:
    fifo = tmp_path / "stream.txt"
    os.mkfifo(fifo)
    good = tmp_path / "good.txt"
    good.write_text(BODY)
    items = _load(fifo, good)
    assert _skips(items) == {str(fifo): "not a regular file (a pipe, socket or device)"}
    assert len([a for a in items if isinstance(a, Article)]) == 1


def test_utf8_with_a_byte_order_mark_is_text(tmp_path: Path) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeff".encode() + BODY.encode())
    assert _one(path).text == BODY
