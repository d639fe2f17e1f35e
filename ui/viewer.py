"""The article viewer: where every citation link lands. One server-rendered page shows the
article with the cited span in <mark id="quote"> (the `#quote` fragment scrolls it into
view without script), and a link that opens the original at the quote through a URL text
fragment. Everything from the store is escaped, and the page's CSP allows no script."""

from __future__ import annotations

import hashlib
import hmac
from html import escape
from urllib.parse import quote as urlquote
from urllib.parse import urlsplit, urlunsplit

from rag.errors import InputError
from rag.types import Article

# No script at all, not even our own: a payload that slipped past escaping still cannot run.
VIEWER_CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
              "form-action 'none'; frame-ancestors 'self'")


def link_signature(token: str, article_id: str, start: int | None, end: int | None) -> str:
    """What lets a citation link open the viewer when RAG_API_TOKEN is set: a browser tab
    cannot send a bearer header, so the link carries an HMAC of exactly this span instead
    of the token (a leaked link shows one article, and never reveals the token).

    Example: len(link_signature("t", "a1", 0, 5)) == 32
    """
    msg = f"{article_id}:{'' if start is None else start}:{'' if end is None else end}"
    return hmac.new(token.encode(), msg.encode(), hashlib.sha256).hexdigest()[:32]


def viewer_path(article_id: str, start: int | None = None, end: int | None = None,
                token: str | None = None) -> str:
    """The viewer's path for an article, highlighting [start, end) when given.

    Example: viewer_path("a1", 3, 9) == "/articles/a1?start=3&end=9#quote"
    """
    query = []
    if start is not None and end is not None:
        query += [f"start={start}", f"end={end}"]
    if token:
        query.append(f"sig={link_signature(token, article_id, start, end)}")
    path = f"/articles/{urlquote(article_id, safe='')}"
    highlight = start is not None and end is not None
    return path + ("?" + "&".join(query) if query else "") + ("#quote" if highlight else "")


def public_url(url: str | None) -> str | None:
    """The address a reader may see: an http(s) URL, else None (a server path, a
    `javascript:` URL or nothing).

    Example: public_url("/srv/data/a.txt") is None and public_url("https://x.org/a") == "https://x.org/a"
    """
    return url if url and url.startswith(("http://", "https://")) else None


def _fragment_part(text: str) -> str:
    # quote() leaves "-" alone, but the text-fragment syntax reserves "-", "," and "&".
    return urlquote(text, safe="").replace("-", "%2D")


def text_fragment_url(url: str, quote: str, words: int = 6) -> str | None:
    """A link that opens the original web page scrolled to the quote (a URL text fragment,
    `#:~:text=`); None unless the article has an http(s) URL. Long quotes become
    `start,end` so small differences in the middle of the page's text still match.

    Example: text_fragment_url("https://x.org/a#top", "A - b") == "https://x.org/a#:~:text=A%20%2D%20b"
    """
    if not url.startswith(("http://", "https://")):
        return None
    base = urlunsplit(urlsplit(url)._replace(fragment=""))
    parts = quote.split()
    if not parts:
        return base
    if len(parts) <= 2 * words:
        directive = _fragment_part(" ".join(parts))
    else:
        directive = (_fragment_part(" ".join(parts[:words])) + ","
                     + _fragment_part(" ".join(parts[-words:])))
    return f"{base}#:~:text={directive}"


def check_span(article: Article, start: int | None, end: int | None) -> None:
    """Both offsets or neither, inside the article, non-empty; else an InputError."""
    if start is None and end is None:
        return
    if start is None or end is None:
        raise InputError("give both start and end, or neither")
    if not 0 <= start < end <= len(article.text):
        raise InputError(f"start and end must satisfy 0 <= start < end <= {len(article.text)} "
                         "(the article's length)")


def render_article(article: Article, start: int | None = None, end: int | None = None,
                   asset_prefix: str = "") -> str:
    """The viewer page: title, publisher, date, a link to the original (at the quote when
    it is a web page), and the article text with [start, end) marked.

    Example: "<mark id=\"quote\">" in render_article(Article("a", "Hi there.", "T", "", ""), 0, 2)
    """
    check_span(article, start, end)
    text = article.text
    if start is not None and end is not None:
        body = (escape(text[:start]) + '<mark id="quote">' + escape(text[start:end])
                + "</mark>" + escape(text[end:]))
    else:
        body = escape(text)
    meta = [escape(x) for x in (article.source, article.date or "") if x]
    if article.url.startswith(("http://", "https://")):
        target = (text_fragment_url(article.url, text[start:end])
                  if start is not None and end is not None else article.url)
        label = "Open the original at this quote" if start is not None else "Open the original"
        meta.append(f'<a href="{escape(target or article.url)}" target="_blank" '
                    f'rel="noopener noreferrer">{label} ↗</a>')
    title = escape(article.title or "Untitled article")
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<meta name=\"referrer\" content=\"no-referrer\">"
        f"<title>{title}</title>"
        f"<link rel=\"icon\" href=\"{asset_prefix}/static/favicon.svg\" type=\"image/svg+xml\">"
        f"<link rel=\"stylesheet\" href=\"{asset_prefix}/static/viewer.css\"></head>\n"
        f"<body><header><h1>{title}</h1>"
        f"<p class=\"meta\">{' · '.join(meta)}</p></header>\n"
        f"<article>{body}</article></body></html>\n"
    )
