"""Web pages and feeds, served on loopback by a real http.server in this process: a page keeps
its url, title, publisher and date; RSS and Atom feeds ingest their items; a 404, a timeout
and a page with no article are each reported for their own URL."""

from __future__ import annotations

import gzip
import html
import json
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from index.loaders import Skip, load_paths
from rag.retrieve.embeddings import MINILM_NAME, model_cache_dir
from rag.retrieve.store import open_store
from rag.settings import load_settings
from rag.types import Article
from tests.conftest import cli_env
from tests.test_ingest import assert_clean_stderr, rag_command, run_rag

STORIES = {
    "page": ("Ceasefire talks resume in Cairo",
             ["Negotiators from Egypt and Qatar met a Hamas delegation in Cairo on Thursday, "
              "officials said, as mediators pressed for a phased ceasefire in Gaza.",
              "The talks covered the release of hostages and the return of displaced people to "
              "the north of the territory, according to two people briefed on them.",
              "Israel's spy chief was expected to join later in the week; no agreement had yet "
              "been reached on the sequence of the first phase."]),
    "story-1": ("Flood defences approved for the river town",
                ["The county council approved a new flood wall along the river on Monday after "
                 "three winters of flooding closed the high street for weeks at a time.",
                 "Engineers said the wall would be built in stages, starting with the stretch "
                 "beside the old mill, and finished before the autumn rains next year.",
                 "Shop owners welcomed the decision but asked for help with insurance costs "
                 "that had tripled since the first flood."]),
    "story-2": ("Library reopens after a two-year refit",
                ["The central library reopened on Saturday with a rooftop reading room, a "
                 "makerspace and twice as many computers as before the refit began.",
                 "Hundreds of residents queued in the rain for the opening, and the first "
                 "book borrowed was a well-thumbed atlas, the head librarian said.",
                 "The refit ran six months late because asbestos was found in the ceiling of "
                 "the children's section during the first week of work."]),
    "story-3": ("Orchestra announces a free summer season in the park",
                ["The city orchestra will play twelve free concerts in the park this summer, "
                 "its director announced, funded by a grant from a local foundation.",
                 "The programme mixes film scores with symphonies, and every concert ends with "
                 "an open rehearsal where children can sit among the players.",
                 "Organisers expect crowds of several thousand on warm evenings and have asked "
                 "visitors to come by bicycle or tram rather than by car."]),
    "story-4": ("Volunteers count a record number of nesting swifts",
                ["Volunteers counted more than four hundred nesting swifts in the old town "
                 "this year, the highest number since the survey began two decades ago.",
                 "The birds favour gaps under the eaves of stone houses, and a scheme to fit "
                 "nest boxes during roof repairs appears to be paying off, the group said.",
                 "The swifts leave for Africa in early August, so the count takes place over "
                 "three weekends in June and July each year."]),
}
FULL_TEXT_ITEM = ("Harbour ferry timetable changes from next month",
                  ["The harbour ferry will run every twenty minutes instead of every half hour "
                   "from next month, the port authority said on Wednesday.",
                   "Two new electric boats join the fleet in the spring, and the late-evening "
                   "service will be extended to midnight on Fridays and Saturdays.",
                   "Season tickets bought before the change remain valid until they expire."])


def page_html(title: str, paragraphs: list[str], *, site: str | None = None,
              date: str | None = None) -> str:
    meta = ""
    if site:
        meta += f'<meta property="og:site_name" content="{site}">'
    if date:
        meta += f'<meta property="article:published_time" content="{date}">'
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return (f"<!doctype html><html><head><title>{title}</title>{meta}"
            "<script>var ads = 'SCRIPTTEXT';</script></head><body>"
            "<nav><a href='/'>Home</a> <a href='/news'>NAVTEXT</a></nav>"
            f"<article><h1>{title}</h1>{body}</article>"
            "<footer>FOOTERTEXT</footer></body></html>")


def nav_html() -> str:
    links = "".join(f"<li><a href='/section-{i}'>Section {i}</a></li>" for i in range(40))
    return ("<html><head><title>Sections</title></head><body>"
            f"<nav><ul>{links}</ul></nav></body></html>")


def rss(base: str) -> str:
    def item(slug: str, day: str) -> str:
        return (f"<item><title>{STORIES[slug][0]} (feed title)</title>"
                f"<link>{base}/{slug}.html</link>"
                f"<pubDate>{day} Oct 2024 09:30:00 GMT</pubDate></item>")

    full = "".join(f"<p>{p}</p>" for p in FULL_TEXT_ITEM[1])
    return ("<?xml version='1.0' encoding='UTF-8'?><rss version='2.0' "
            "xmlns:content='http://purl.org/rss/1.0/modules/content/'><channel>"
            f"<title>Loopback Gazette</title><link>{base}/</link><description>News</description>"
            + item("story-1", "Mon, 21") + item("story-2", "Tue, 22") +
            f"<item><title>{FULL_TEXT_ITEM[0]}</title><link>{base}/gone.html</link>"
            "<pubDate>Wed, 23 Oct 2024 07:00:00 GMT</pubDate>"
            f"<content:encoded><![CDATA[{full}]]></content:encoded></item>"
            "</channel></rss>")


def atom(base: str) -> str:
    def entry(slug: str, when: str) -> str:
        return (f"<entry><title>{STORIES[slug][0]}</title><id>urn:{slug}</id>"
                f"<link href='{base}/{slug}.html'/><updated>{when}</updated></entry>")

    return ("<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
            "<title>Loopback Atom Desk</title><id>urn:desk</id><updated>2024-11-02T00:00:00Z"
            "</updated>" + entry("story-3", "2024-11-01T12:00:00Z") +
            entry("story-4", "2024-11-02T08:00:00Z") + "</feed>")


class Site(BaseHTTPRequestHandler):
    slow_seconds = 3.0

    def do_GET(self) -> None:
        base = f"http://{self.headers['Host']}"
        path = self.path.split("?")[0]
        routes: dict[str, tuple[str, str]] = {
            "/page.html": ("text/html", page_html(*STORIES["page"], site="Loopback Herald",
                                                  date="2024-10-22T08:00:00Z")),
            "/nav.html": ("text/html", nav_html()),
            "/feed.rss": ("application/rss+xml", rss(base)),
            "/feed.atom": ("application/atom+xml", atom(base)),
            "/empty.rss": ("application/rss+xml",
                           "<?xml version='1.0'?><rss version='2.0'><channel><title>Empty"
                           "</title></channel></rss>"),
            "/data.bin": ("application/octet-stream", "\x00\x01" * 200),
        }
        for slug in ("story-1", "story-2", "story-3", "story-4"):
            routes[f"/{slug}.html"] = ("text/html", page_html(*STORIES[slug]))
        try:
            if path == "/slow.html":
                time.sleep(self.slow_seconds)
                routes[path] = ("text/html", page_html(*STORIES["page"]))
            if path not in routes:
                self.send_error(404, "Not Found")
                return
            ctype, body = routes[path]
            data = body.encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", f"{ctype}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (the timeout test)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A real HTTP server on a free loopback port, in a thread; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with serving(Site) as base:
        yield base


def load(*urls: str, timeout: float = 5.0) -> list[Article | Skip]:
    return list(load_paths(list(urls), 20_000_000, timeout))


# --- through the command line -------------------------------------------------------------------
@pytest.fixture(scope="module")
def models(sample_store: Path) -> Path:
    """The ONNX embedder the session's sample ingest exported, reused by the CLI run."""
    return model_cache_dir(load_settings(store_dir=sample_store))


@pytest.fixture(scope="module")
def web_ingest(site: str, models: Path,
               tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("web")
    urls = [f"{site}/{p}" for p in ("page.html", "feed.rss", "feed.atom", "missing.html",
                                    "slow.html", "nav.html")]
    proc = run_rag("ingest", *urls, "--json", "--store", str(base / "store"), cwd=base,
                   models=models, RAG_FETCH_TIMEOUT="1")
    assert proc.returncode == 0, proc.stderr
    assert_clean_stderr(proc)
    store = open_store(load_settings(store_dir=base / "store"), MINILM_NAME, 384)
    got = store.articles.get(include=["documents", "metadatas"])
    articles = {m["url"]: (doc, m) for doc, m in zip(got["documents"], got["metadatas"],
                                                     strict=True)}
    return {"summary": json.loads(proc.stdout), "articles": articles}


def test_a_page_keeps_its_url_title_publisher_and_date(site: str,
                                                       web_ingest: dict[str, Any]) -> None:
    text, meta = web_ingest["articles"][f"{site}/page.html"]
    assert meta["title"] == "Ceasefire talks resume in Cairo"
    assert meta["source"] == "Loopback Herald"
    assert meta["date"] == "2024-10-22"
    assert meta["origin"] == f"{site}/page.html"
    assert "phased ceasefire in Gaza" in text and "first phase." in text
    assert not any(junk in text for junk in ("SCRIPTTEXT", "NAVTEXT", "FOOTERTEXT"))


def test_feeds_ingest_their_items_with_the_feeds_titles_dates_and_publisher(
        site: str, web_ingest: dict[str, Any]) -> None:
    articles = web_ingest["articles"]
    expected = {
        f"{site}/story-1.html": (f"{STORIES['story-1'][0]} (feed title)", "Loopback Gazette",
                                 "2024-10-21"),
        f"{site}/story-2.html": (f"{STORIES['story-2'][0]} (feed title)", "Loopback Gazette",
                                 "2024-10-22"),
        f"{site}/gone.html": (FULL_TEXT_ITEM[0], "Loopback Gazette", "2024-10-23"),
        f"{site}/story-3.html": (STORIES["story-3"][0], "Loopback Atom Desk", "2024-11-01"),
        f"{site}/story-4.html": (STORIES["story-4"][0], "Loopback Atom Desk", "2024-11-02"),
    }
    for url, (title, publisher, date) in expected.items():
        text, meta = articles[url]
        assert (meta["title"], meta["source"], meta["date"]) == (title, publisher, date), url
        assert len(text) > 200
    # The item whose page is gone came from the feed's own full text.
    assert articles[f"{site}/gone.html"][0].startswith("The harbour ferry will run")
    assert web_ingest["summary"]["added"] == 1 + 3 + 2
    assert sorted(articles) == sorted([f"{site}/page.html", *expected])


def test_each_failing_url_is_reported_on_its_own(site: str,
                                                 web_ingest: dict[str, Any]) -> None:
    reasons = {s["path"]: s["reason"] for s in web_ingest["summary"]["skipped"]}
    assert reasons == {
        f"{site}/missing.html": "HTTP 404 Not Found",
        f"{site}/slow.html": "timed out after 1.0s (RAG_FETCH_TIMEOUT)",
        f"{site}/nav.html": "no article text found on the page (navigation, index or empty)",
    }


# --- the loader on its own ----------------------------------------------------------------------
def test_a_feed_without_items_and_a_binary_response_are_reported(site: str) -> None:
    got = load(f"{site}/empty.rss", f"{site}/data.bin", f"{site}/page.html")
    skips = {s.where: s.reason for s in got if isinstance(s, Skip)}
    assert skips == {f"{site}/empty.rss": "feed has no items",
                     f"{site}/data.bin": "not a web page or feed "
                                         "(content-type application/octet-stream)"}
    assert [a.title for a in got if isinstance(a, Article)] == [STORIES["page"][0]]


def test_an_unreachable_host_is_reported_not_raised() -> None:
    # Port 9 (discard) on loopback: nothing listens there, the connection is refused.
    (skip,) = load("http://127.0.0.1:9/article.html", timeout=2.0)
    assert isinstance(skip, Skip) and skip.where == "http://127.0.0.1:9/article.html"
    assert skip.reason.startswith("could not fetch: ConnectError")


# --- hostile servers: limits hold while downloading -----------------------------------------------
BOMB_BYTES = 1 << 30  # what the gzip bomb inflates to: 1 GiB of zeros
CAP_MB = 2  # RAG_MAX_FILE_MB for the hostile run
HUGE_BYTES = 300_000_000
DRIP_BYTES = 200  # one a second: over three minutes for a client that waits for them all
LATIN1_PAGE = page_html("Café owners protest “unfair” rent rises",
                        ["Owners of the café quarter said on Monday that rents had risen by a "
                         "third in two years, and that the “temporary” surcharge had become "
                         "permanent without notice to tenants.",
                         "The council’s spokesperson said the rises reflected the market and "
                         "that a review would be published before the summer recess.",
                         "Several owners said they would close their terraces in protest "
                         "on Saturday, the busiest day of the week in the quarter."])


def gzip_bomb(size: int) -> bytes:
    """A valid gzip stream of `size` zero bytes (a multiple of 1 MiB), built in a second:
    after a full flush a compressed 1 MiB block no longer depends on what came before, so one
    block is repeated instead of compressing a gigabyte."""
    block = bytes(1 << 20)
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    first = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    again = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(size >> 20):
        crc = zlib.crc32(block, crc)
    final_empty_block = b"\x03\x00"
    return (first + again * ((size >> 20) - 1) + final_empty_block
            + struct.pack("<II", crc, size & 0xFFFFFFFF))


class Hostile(BaseHTTPRequestHandler):
    """Pages that drip, never end, unpack to a gigabyte, or omit their charset. Each records
    how many bytes it managed to send before the client hung up."""

    sent: ClassVar[dict[str, int]] = {}
    bomb = b""

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        self.sent[path] = 0
        try:
            if path == "/drip-body.html":
                self._head("text/html")
                self._drip(b"<p>" * DRIP_BYTES, path)
            elif path == "/drip-headers.html":
                self._drip(b"HTTP/1.1 200 OK\r\nX-Padding: " + b"a" * DRIP_BYTES, path)
            elif path == "/huge.html":
                self._head("text/html")
                self._stream(path, HUGE_BYTES)
            elif path == "/declared-huge.html":
                self._head("text/html", length=HUGE_BYTES)
                self._stream(path, HUGE_BYTES)
            elif path == "/bomb.html":
                self._head("text/html", length=len(self.bomb), encoding="gzip")
                self.wfile.write(self.bomb)
                self.sent[path] = len(self.bomb)
            elif path == "/gzipped.html":
                data = gzip.compress(page_html(*STORIES["story-1"]).encode())
                self._head("text/html; charset=utf-8", length=len(data), encoding="gzip")
                self.wfile.write(data)
            elif path == "/latin1.html":  # no charset anywhere: not in the header, nor the page
                data = LATIN1_PAGE.encode("cp1252")
                self._head("text/html", length=len(data))
                self.wfile.write(data)
            else:
                self.send_error(404, "Not Found")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up: what the limits are for

    def _head(self, ctype: str, length: int | None = None, encoding: str | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        if length is not None:
            self.send_header("Content-Length", str(length))
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.end_headers()

    def _drip(self, data: bytes, path: str) -> None:
        for i in range(len(data)):
            self.wfile.write(data[i:i + 1])
            self.sent[path] += 1
            time.sleep(1.0)

    def _stream(self, path: str, total: int) -> None:
        block = b"<p>" + b"x" * 65532 + b"\n"
        while self.sent[path] < total:
            self.wfile.write(block)
            self.sent[path] += len(block)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def hostile_site() -> Iterator[str]:
    Hostile.bomb = gzip_bomb(BOMB_BYTES)
    with serving(Hostile) as base:
        yield base


_MEASURE = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[2:]).returncode; "
            "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN)"
            ".ru_maxrss)); sys.exit(code)")


def run_measured(args: list[str], cwd: Path, timeout: float,
                 **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run `rag ARGS` and return it with its peak resident memory in MB, the kernel's count.
    A small Python process in between starts it: a child counts the peak of the process it
    was forked from (this test run, with its models loaded) as its own."""
    peak = cwd / "peak-kib.txt"
    proc = subprocess.run([sys.executable, "-c", _MEASURE, str(peak), *rag_command(), *args],
                          cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=cli_env(**env))
    return proc, int(peak.read_text()) / 1024  # KiB on Linux


@pytest.fixture(scope="module")
def hostile_ingest(hostile_site: str, models: Path,
                   tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("hostile")
    good = base / "good.txt"
    good.write_text(" ".join(STORIES["story-2"][1]))
    urls = [f"{hostile_site}/{p}" for p in ("drip-body.html", "drip-headers.html", "huge.html",
                                            "declared-huge.html", "bomb.html", "gzipped.html",
                                            "latin1.html")]
    proc, peak_mb = run_measured(["ingest", *urls, str(good), "--json",
                                  "--store", str(base / "store")], cwd=base, timeout=150,
                                 RAG_MODEL_CACHE=str(models), RAG_FETCH_TIMEOUT="3",
                                 RAG_MAX_FILE_MB=str(CAP_MB))
    assert proc.returncode == 0, proc.stderr
    assert_clean_stderr(proc)
    store = open_store(load_settings(store_dir=base / "store"), MINILM_NAME, 384)
    got = store.articles.get(include=["documents", "metadatas"])
    return {"summary": json.loads(proc.stdout), "peak_mb": peak_mb, "site": hostile_site,
            "articles": {m["url"]: doc for doc, m in zip(got["documents"], got["metadatas"],
                                                         strict=True)},
            "good": str(good.resolve())}


def test_a_server_that_drips_bytes_is_cut_off_at_the_fetch_deadline(
        hostile_ingest: dict[str, Any]) -> None:
    site = hostile_ingest["site"]
    reasons = {s["path"]: s["reason"] for s in hostile_ingest["summary"]["skipped"]}
    for path in ("/drip-body.html", "/drip-headers.html"):
        assert reasons[site + path] == "timed out after 3.0s (RAG_FETCH_TIMEOUT)"
        # RAG_FETCH_TIMEOUT counted per read let these run for DRIP_BYTES seconds.
        assert Hostile.sent[path] < DRIP_BYTES / 2, Hostile.sent


def test_a_huge_body_and_a_gzip_bomb_stop_at_the_size_limit_in_bounded_memory(
        hostile_ingest: dict[str, Any]) -> None:
    site = hostile_ingest["site"]
    reasons = {s["path"]: s["reason"] for s in hostile_ingest["summary"]["skipped"]}
    assert reasons[f"{site}/huge.html"] == (
        "response is over the 2 MB limit (RAG_MAX_FILE_MB); stopped reading it")
    assert reasons[f"{site}/declared-huge.html"] == (
        "response is 300 MB, over the 2 MB limit (RAG_MAX_FILE_MB)")
    assert reasons[f"{site}/bomb.html"] == (
        "response unpacks (gzip) to over the 2 MB limit (RAG_MAX_FILE_MB); stopped reading it")
    assert Hostile.sent["/huge.html"] < HUGE_BYTES / 10  # the client stopped reading
    # The whole run (Python, Chroma, the embedder) against a body that unpacks to 1 GiB and
    # one of 300 MB: reading either into memory would pass this on its own.
    print(f"peak RSS of the hostile run: {hostile_ingest['peak_mb']:.0f} MB")
    assert hostile_ingest["peak_mb"] < 0.6 * BOMB_BYTES / 2**20, hostile_ingest["peak_mb"]


def test_other_inputs_of_a_hostile_run_are_stored(hostile_ingest: dict[str, Any]) -> None:
    site, articles = hostile_ingest["site"], hostile_ingest["articles"]
    assert sorted(articles) == sorted([hostile_ingest["good"], f"{site}/gzipped.html",
                                       f"{site}/latin1.html"])
    assert STORIES["story-1"][1][0] in articles[f"{site}/gzipped.html"]  # gzip still reads
    assert hostile_ingest["summary"]["added"] == 3


def test_a_page_without_a_charset_is_decoded_not_stored_with_replacement_characters(
        hostile_ingest: dict[str, Any]) -> None:
    text = hostile_ingest["articles"][f"{hostile_ingest['site']}/latin1.html"]
    assert "\ufffd" not in text
    assert "Owners of the café quarter" in text and "the “temporary” surcharge" in text
