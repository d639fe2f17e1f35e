"""HTML fragments for the chat window. Pure functions; every string that came from an
article or an answerer goes through `text()` (escaped, newlines as <br>).

Chat messages are one-line `<div>` blocks: Gradio's Markdown renderer passes an HTML block
through untouched until a blank line, so a `*` or `#` quoted from an article stays literal.
"""

from __future__ import annotations

import re
from html import escape

from rag.text import shown_safe
from rag.types import Answer, Citation
from ui.viewer import text_fragment_url, viewer_path

_MARKER = re.compile(r"(\[\d+\])")


def text(s: str) -> str:
    """Escaped text on one line.

    Example: text("a<b>\\nc") == "a&lt;b&gt;<br>c"
    """
    lines = s.replace("\r", "").split("\n")  # a title from an older store may hold overrides
    return "<br>".join(escape(shown_safe(line)) for line in lines)


def user_text(question: str) -> str:
    return f'<div class="rag-q">{text(question)}</div>'


def status(message: str) -> str:
    return f'<div class="rag-status"><span class="rag-dots"></span>{text(message)}</div>'


def notice(message: str) -> str:
    return f'<div class="rag-notice">{text(message)}</div>'


def draft(partial: str) -> str:
    return f'<div class="rag-answer rag-draft">{text(partial)}<span class="rag-caret"></span></div>'


def _cite_link(c: Citation, token: str | None) -> str:
    href = escape(viewer_path(c.article_id, c.start, c.end, token))
    return (f'<a class="rag-cite" href="{href}" title="{escape(c.title)}">{c.n}</a>')


def answer(a: Answer, token: str | None = None, index: int | None = None) -> str:
    """The final answer: markers become links to their quotes; a refusal says so plainly.
    `index` (the message's place in the chat) ties its citations to its sources.

    Example: "Not in the articles" in answer(refused_answer)
    """
    tag = "" if index is None else f' data-answer="{index}"'
    if a.refused:
        return (f'<div class="rag-answer rag-refused"{tag}><div class="rag-refused-title">'
                f'Not in the articles</div>{text(a.answer)}</div>')
    by_n = {c.n: c for c in a.citations}
    parts = []
    for piece in _MARKER.split(a.answer):
        n = int(piece[1:-1]) if _MARKER.fullmatch(piece) else None
        parts.append(_cite_link(by_n[n], token) if n in by_n else text(piece))
    extra = ""
    if a.conflicts:
        items = "".join(f"<li>{text(x.summary)}</li>" for x in a.conflicts)
        extra = (f'<div class="rag-conflicts"><strong>Sources disagree</strong>'
                 f'<ul>{items}</ul></div>')
    return f'<div class="rag-answer"{tag}>{"".join(parts)}{extra}</div>'


def publisher(c: Citation) -> str:
    """Who published it: the source, else the web host it came from, else nothing (a file
    name on the server says nothing about who wrote the article).

    Example: publisher(citation_from("/data/x.txt", source="")) == ""
    """
    if c.source:
        return c.source
    if c.url.startswith(("http://", "https://")):
        return c.url.split("/")[2]
    return ""


def sources(a: Answer | None, token: str | None = None) -> str:
    """The sources panel: each citation's number, title, publisher, date and quote."""
    if a is None or not a.citations:
        body = ('<p class="rag-empty">The quotes behind each answer appear here, '
                'with where they come from.</p>')
        return f'<div class="rag-sources"><div class="rag-panel-title">Sources</div>{body}</div>'
    items = []
    for c in a.citations:
        href = escape(viewer_path(c.article_id, c.start, c.end, token))
        meta = " · ".join(text(x) for x in (publisher(c), c.date or "") if x)
        original = text_fragment_url(c.url, c.quote)
        links = [f'<a class="rag-open" href="{href}">Show in article</a>']
        if original:
            links.append(f'<a href="{escape(original)}" target="_blank" '
                         'rel="noopener noreferrer">Original at the quote ↗</a>')
        items.append(
            f'<li class="rag-source"><div class="rag-source-head"><span class="rag-n">{c.n}'
            f'</span><a class="rag-open rag-source-title" href="{href}">{text(c.title)}</a>'
            f'</div><div class="rag-source-meta">{meta}</div>'
            f'<blockquote>{text(c.quote)}</blockquote>'
            f'<div class="rag-source-links">{" ".join(links)}</div></li>')
    return (f'<div class="rag-sources"><div class="rag-panel-title">Sources '
            f'<span class="rag-count">{len(a.citations)}</span></div>'
            f'<ol>{"".join(items)}</ol></div>')


def source_groups(panels: dict[str, str], active: str | None) -> str:
    """Every answer's sources panel, by message index, only the `active` one shown: a
    click on [n] in an older answer shows that answer's sources (the page's script swaps
    them), not the latest one's.

    Example: 'data-answer="3"' in source_groups({"3": sources(None)}, "3")
    """
    if not panels:
        return sources(None)
    return "".join(
        f'<div class="rag-source-group" data-answer="{escape(k)}"'
        f'{"" if k == active else " hidden"}>{v}</div>' for k, v in panels.items())


def viewer(c: Citation | None, token: str | None = None) -> str:
    """The source viewer: the article page in a frame that may not run script. Without
    allow-same-origin the frame is its own (opaque) origin, so its #quote jump scrolls only
    the frame, never the chat around it."""
    if c is None:
        inner = ('<div class="rag-viewer-empty">Click a numbered citation to read it in '
                 'its article, highlighted.</div>')
        src = "about:blank"
    else:
        inner = ""
        src = viewer_path(c.article_id, c.start, c.end, token)
    return ('<div class="rag-viewer"><div class="rag-panel-title">Source viewer</div>'
            f'{inner}<iframe id="rag-viewer-frame" name="rag-viewer" title="Source viewer" '
            f'src="{escape(src)}" sandbox="allow-popups allow-popups-to-escape-sandbox" '
            'referrerpolicy="no-referrer"'
            f'{" hidden" if c is None else ""}></iframe></div>')


def header(articles: int, backend: str) -> str:
    return ('<div class="rag-header"><div class="rag-logo">❝</div><div class="rag-title">'
            '<h1>Ask the articles</h1><p>Every answer is quoted from the articles, each claim '
            'linked to the sentence it came from.</p></div>'
            f'<div class="rag-badges"><span>{articles} articles</span>'
            f'<span>{text(backend)} answers</span></div></div>')


def placeholder() -> str:
    return ("### Ask about the articles\n"
            "Answers quote their sources; click a number to see the quote in its article.")


def hint() -> str:
    return ('<div class="rag-hint">Rate an answer with the thumbs under it: votes are kept '
            'on this machine.</div>')
