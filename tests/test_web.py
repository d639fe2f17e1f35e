"""Web pages and feeds, served on loopback by a real http.server in this process: a page keeps
its url, title, publisher and date; RSS and Atom feeds ingest their items; a 404, a timeout
and a page with no article are each reported for their own URL."""

from __future__ import annotations

import html
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from index.loaders import Skip, load_paths
from rag.embeddings import MINILM_NAME, model_cache_dir
from rag.settings import load_settings
from rag.store import open_store
from rag.types import Article
from tests.test_ingest import assert_clean_stderr, run_rag

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


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


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
