"""Web pages and feeds: fetch with httpx, extract the article with trafilatura, read RSS/Atom
with feedparser. Every failure is a Skip for that URL."""

from __future__ import annotations

import codecs
import contextlib
import re
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import httpx

from index.htmltext import html_title, plain_text
from index.loaded import Loaded, Skip, bom_encoding, megabytes, nonempty
from index.metadata import host_of, make_article

MIN_ARTICLE_CHARS = 200  # less than this after extraction is a menu, a login wall, an index
_HEADERS = {"User-Agent": "rag-articles/0.1 (+article ingestion)",
            "Accept-Encoding": "gzip, deflate",  # the ones _read can inflate with a cap
            "Accept": "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,"
                      "application/xml;q=0.9,*/*;q=0.5"}


def article_from_html(html: str, *, origin: str, url: str | None) -> Loaded:
    """Main text and metadata of an HTML page (no scripts, styles, navigation). When the
    extractor finds nothing or fails (a page nested 100,000 deep, a missing optional package),
    the page's plain text is read instead (index/htmltext.py), so no readable text is lost."""
    data: dict[str, Any] = {}
    failed = False
    try:
        import lxml_html_clean  # noqa: F401  (trafilatura's jusText fallback imports it)
        import trafilatura

        doc = trafilatura.bare_extraction(html, url=url, with_metadata=True,
                                          include_comments=False, include_tables=True,
                                          favor_precision=True)
        failed = doc is None
        data = doc.as_dict() if doc is not None and hasattr(doc, "as_dict") else dict(doc or {})
    except Exception:  # the fallback below reads the markup without it
        failed = True
    # One paragraph per line from trafilatura: make paragraph breaks explicit.
    text = "\n\n".join(line.strip() for line in (data.get("text") or "").splitlines()
                        if line.strip())
    # A short page from the web is a menu or a login wall (its markup is read only when the
    # extractor failed outright); a short file was put there to be read.
    least = MIN_ARTICLE_CHARS if url else 1
    if len(text) < least and (failed or not url):
        text = plain_text(html)
    if len(text) < least:
        return Skip(origin, "no article text found on the page (navigation, index or empty)")
    source = data.get("sitename") or (host_of(url) if url else None)
    return nonempty(make_article(text, origin=origin, url=url,
                                 title=data.get("title") or html_title(html),
                                 source=source, date=data.get("date")))


def _fetch(client: httpx.Client, url: str, max_bytes: int,
           seconds: float) -> tuple[str, str] | Skip:
    """The page's text and content type, or why not. RAG_FETCH_TIMEOUT is the whole
    download's deadline and RAG_MAX_FILE_MB caps the bytes read, after decompression, while
    they arrive: a server that drips bytes or sends a gzip bomb costs seconds and megabytes."""
    late = Skip(url, f"timed out after {seconds}s (RAG_FETCH_TIMEOUT)")
    with _Deadline(seconds) as deadline:
        try:
            with client.stream("GET", url, extensions={"trace": deadline.trace}) as resp:
                got = _read(resp, url, max_bytes, deadline)
        except httpx.TimeoutException:
            return late
        except httpx.HTTPError as exc:
            if deadline.expired:
                return late
            return Skip(url, f"could not fetch: {type(exc).__name__}: {exc}")
    if deadline.expired:
        return late
    if isinstance(got, Skip):
        return got
    body, ctype, declared = got
    text = decode_page(body, declared)
    if text is None:
        return Skip(url, f"not UTF-8 text ({_first_bad_byte(body)}) and no charset in the "
                         "response or the page decodes it")
    return text, ctype


def _read(resp: httpx.Response, url: str, max_bytes: int,
          deadline: _Deadline) -> tuple[bytes, str, str | None] | Skip:
    if resp.status_code >= 400:
        return Skip(url, f"HTTP {resp.status_code} {resp.reason_phrase}")
    ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype and not any(t in ctype for t in ("html", "xml", "text", "rss", "atom", "json")):
        return Skip(url, f"not a web page or feed (content-type {ctype})")
    too_big = Skip(url, f"response is over the {megabytes(max_bytes)} limit (RAG_MAX_FILE_MB)"
                        "; stopped reading it")
    declared_size = resp.headers.get("content-length", "")
    if declared_size.isdigit() and int(declared_size) > max_bytes:
        return Skip(url, f"response is {megabytes(int(declared_size))}, over the "
                         f"{megabytes(max_bytes)} limit (RAG_MAX_FILE_MB)")
    coding = resp.headers.get("content-encoding", "identity").strip().lower()
    if coding not in ("", "identity", "gzip", "x-gzip", "deflate"):
        return Skip(url, f"unsupported content-encoding {coding!r}")
    # httpx's own decoders inflate each network read whole (64 KB of gzip can become 64 MB,
    # and brotli far more), so the body is read raw and inflated here with an output cap.
    inflate = (zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header, told apart
               if coding not in ("", "identity") else None)
    body = bytearray()
    try:
        for raw in resp.iter_raw(65536):
            room = max_bytes + 1 - len(body)  # >= 1: asking for one byte more shows overflow
            body += inflate.decompress(raw, room) if inflate else raw
            if len(body) > max_bytes:
                if inflate:
                    return Skip(url, f"response unpacks ({coding}) to over the "
                                     f"{megabytes(max_bytes)} limit (RAG_MAX_FILE_MB); "
                                     "stopped reading it")
                return too_big
            if deadline.expired:
                break
    except zlib.error as exc:
        return Skip(url, f"response is not valid {coding} data: {exc}")
    return bytes(body), ctype, resp.charset_encoding


class _Deadline:
    """A total time limit for one fetch, redirects included. httpx's timeouts count per read,
    so a server sending a byte every few seconds never trips them; when the time is up this
    shuts the fetch's sockets, which ends the read that is waiting. The sockets come from
    httpx's `trace` request extension; connections are not kept alive, so every request
    opens (and reports) its own."""

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._over = False
        self.expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def trace(self, event: str, info: dict[str, Any]) -> None:
        if event != "connection.connect_tcp.complete":
            return
        sock = info["return_value"].get_extra_info("socket")
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            if self._over:
                return
            self.expired = True
            for sock in self._sockets:
                _shut(sock)

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._over = True
        self._timer.cancel()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)


_DECLARED = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)"""
                       rb"""|<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""", re.I)


def decode_page(data: bytes, declared: str | None) -> str | None:
    """A page's bytes as text, as browsers and trafilatura decode them: by its byte order
    mark, the charset the server declared, the one the page declares (<meta charset>,
    <?xml encoding>), UTF-8, then trafilatura's guess (charset_normalizer). None when none of
    them decodes it cleanly: a page is never stored with replacement characters.

    Example: decode_page(b"<meta charset=windows-1252>caf\xe9", None).endswith("café")
    """
    found = _DECLARED.search(data[:4096])
    in_page = (found.group(1) or found.group(2)).decode("ascii") if found else None
    bom = bom_encoding(data) or ("utf-8-sig" if data.startswith(codecs.BOM_UTF8) else None)
    tried: list[str] = []
    for encoding in (bom, declared, in_page, "utf-8"):
        if encoding and encoding not in tried:
            tried.append(encoding)
            try:
                return data.decode(encoding)
            except (LookupError, UnicodeDecodeError):
                continue
    from trafilatura.utils import detect_encoding

    for encoding in detect_encoding(data):
        try:
            return data.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            continue
    return None


def _first_bad_byte(data: bytes) -> str:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"invalid byte 0x{data[exc.start]:02x} at offset {exc.start}"
    return "no invalid byte"  # unreached: valid UTF-8 is decoded


def _is_feed(body: str, ctype: str) -> bool:
    head = body.lstrip()[:500].lower()
    return any(t in ctype for t in ("rss", "atom")) or (
        ("xml" in ctype or head.startswith("<?xml")) and ("<rss" in head or "<feed" in head))


def load_url(url: str, timeout: float, max_bytes: int) -> Iterator[Loaded]:
    """One article from a page URL, or every item of an RSS/Atom feed URL."""
    with httpx.Client(timeout=timeout, follow_redirects=True, headers=_HEADERS,
                      limits=httpx.Limits(max_keepalive_connections=0)) as client:
        got = _fetch(client, url, max_bytes, timeout)
        if isinstance(got, Skip):
            yield got
            return
        body, ctype = got
        if not _is_feed(body, ctype):
            yield article_from_html(body, origin=url, url=url)
            return
        yield from _feed_items(client, url, body, max_bytes, timeout)


def _feed_items(client: httpx.Client, url: str, body: str, max_bytes: int,
                timeout: float) -> Iterator[Loaded]:
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
        page = _fetch(client, link, max_bytes, timeout)
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
