"""Web pages and feeds: fetch with httpx, extract the article with trafilatura, read RSS/Atom
with feedparser. Every failure is a Skip for that URL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import httpx

from index.loaders import Loaded, Skip, _nonempty, megabytes
from index.metadata import host_of, make_article

MIN_ARTICLE_CHARS = 200  # less than this after extraction is a menu, a login wall, an index
_HEADERS = {"User-Agent": "rag-articles/0.1 (+article ingestion)",
            "Accept": "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,"
                      "application/xml;q=0.9,*/*;q=0.5"}


def article_from_html(html: str, *, origin: str, url: str | None) -> Loaded:
    """Main text and metadata of an HTML page (no scripts, styles, navigation)."""
    import trafilatura

    doc = trafilatura.bare_extraction(html, url=url, with_metadata=True, include_comments=False,
                                      include_tables=True, favor_precision=True)
    data: dict[str, Any] = (doc.as_dict() if doc is not None and hasattr(doc, "as_dict")
                            else dict(doc or {}))
    text = (data.get("text") or "").strip()
    if len(text) < MIN_ARTICLE_CHARS:
        return Skip(origin, "no article text found on the page (navigation, index or empty)")
    # One paragraph per line from trafilatura: make paragraph breaks explicit.
    text = "\n\n".join(line.strip() for line in text.splitlines() if line.strip())
    source = data.get("sitename") or (host_of(url) if url else None)
    return _nonempty(make_article(text, origin=origin, url=url, title=data.get("title"),
                                  source=source, date=data.get("date")))


def _fetch(client: httpx.Client, url: str, max_bytes: int) -> tuple[str, str] | Skip:
    try:
        resp = client.get(url)
    except httpx.TimeoutException:
        return Skip(url, f"timed out after {client.timeout.read}s (RAG_FETCH_TIMEOUT)")
    except httpx.HTTPError as exc:
        return Skip(url, f"could not fetch: {type(exc).__name__}: {exc}")
    if resp.status_code >= 400:
        return Skip(url, f"HTTP {resp.status_code} {resp.reason_phrase}")
    if len(resp.content) > max_bytes:
        return Skip(url, f"response is {megabytes(len(resp.content))}, over the "
                         f"{megabytes(max_bytes)} limit (RAG_MAX_FILE_MB)")
    ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype and not any(t in ctype for t in ("html", "xml", "text", "rss", "atom", "json")):
        return Skip(url, f"not a web page or feed (content-type {ctype})")
    return resp.text, ctype


def _is_feed(body: str, ctype: str) -> bool:
    head = body.lstrip()[:500].lower()
    return any(t in ctype for t in ("rss", "atom")) or (
        ("xml" in ctype or head.startswith("<?xml")) and ("<rss" in head or "<feed" in head))


def load_url(url: str, timeout: float, max_bytes: int) -> Iterator[Loaded]:
    """One article from a page URL, or every item of an RSS/Atom feed URL."""
    with httpx.Client(timeout=timeout, follow_redirects=True, headers=_HEADERS) as client:
        got = _fetch(client, url, max_bytes)
        if isinstance(got, Skip):
            yield got
            return
        body, ctype = got
        if not _is_feed(body, ctype):
            yield article_from_html(body, origin=url, url=url)
            return
        yield from _feed_items(client, url, body, max_bytes)


def _feed_items(client: httpx.Client, url: str, body: str, max_bytes: int) -> Iterator[Loaded]:
    import feedparser

    feed = feedparser.parse(body)
    if not feed.entries:
        yield Skip(url, "feed has no items")
        return
    publisher = feed.feed.get("title") or host_of(url)
    for entry in feed.entries:
        link = entry.get("link")
        if not link:
            yield Skip(f"{url} item {entry.get('title', '?')!r}", "feed item has no link")
            continue
        page = _fetch(client, link, max_bytes)
        item: Loaded
        if isinstance(page, Skip):
            item = _from_entry(entry, link, publisher) or page
        else:
            item = article_from_html(page[0], origin=link, url=link)
            if isinstance(item, Skip):
                item = _from_entry(entry, link, publisher) or item
        if not isinstance(item, Skip):
            # The feed knows the title and date better than page guesswork, and its title
            # names the publisher better than a bare host does (the page's own site name,
            # when it has one, is better still).
            page_source = None if _only_host(item.source, link) else item.source
            item = make_article(item.text, origin=link, url=link,
                                title=entry.get("title") or item.title,
                                source=page_source or publisher,
                                date=entry_date(entry) or item.date)
        yield item


def _only_host(name: str, url: str) -> bool:
    """Whether a page's 'site name' is just its URL's host (trafilatura's fallback, with or
    without the port), not a publisher's name."""
    netloc = urlparse(url).netloc.lower().removeprefix("www.")
    return name.lower().removeprefix("www.") in {netloc, host_of(url)}


def entry_date(entry: Any) -> str | None:
    """A feed item's publication (else update) date as YYYY-MM-DD, the form trafilatura gives
    for pages; the raw string when feedparser could not parse it.

    Example: entry_date({"published": "Tue, 22 Oct 2024 10:00:00 GMT",
                         "published_parsed": time.strptime("2024-10-22", "%Y-%m-%d")})
             == "2024-10-22"
    """
    for key in ("published", "updated"):
        parsed = entry.get(f"{key}_parsed")
        if parsed:
            return time.strftime("%Y-%m-%d", parsed)
        if entry.get(key):
            return str(entry[key])
    return None


def _from_entry(entry: Any, link: str, publisher: str) -> Loaded | None:
    """The item's own content when its page cannot be had (full-text feeds)."""
    import trafilatura

    parts = entry.get("content") or []
    html = parts[0].get("value") if parts else entry.get("summary", "")
    text = trafilatura.extract(html) if html and "<" in html else html
    if not text or len(text) < MIN_ARTICLE_CHARS:
        return None
    return make_article(text, origin=link, url=link, title=entry.get("title"), source=publisher,
                        date=entry_date(entry))
