"""Plain text from HTML markup, for pages the article extractor (trafilatura) cannot read.

Written by hand on the standard library's HTMLParser because it is a streaming tokenizer: it
keeps no tree, so a page nested 100,000 elements deep costs its length, not a recursion
limit. Block elements end paragraphs (a heading is a paragraph of its own, never glued to the
sentence after it); scripts, styles and navigation are left out.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_HIDDEN = frozenset({"script", "style", "noscript", "template", "nav", "header", "footer",
                     "aside", "svg", "select", "button"})
# What may stand in <head>: any other tag there means the head was left open (HTML5 lets a
# page omit </head> and <body>), and the body has begun.
_HEAD_TAGS = frozenset({"head", "title", "meta", "link", "base", "script", "style",
                        "noscript", "template"})
_BLOCK = frozenset({"p", "div", "section", "article", "main", "br", "li", "ul", "ol", "dl",
                    "dt", "dd", "table", "tr", "td", "th", "blockquote", "pre", "figure",
                    "figcaption", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "body", "title"})
_VOID = frozenset({"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed",
                   "source", "track", "wbr"})


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0  # depth inside elements whose text is not the article's
        self.title: list[str] = []
        self.in_title = False
        self.in_head = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "head":
            self.in_head = True
        elif self.in_head and tag not in _HEAD_TAGS:
            self.in_head = False  # an unclosed head ends where the content starts
        if tag in _HIDDEN and tag not in _VOID:
            self.hidden += 1
        if tag == "title":
            self.in_title = True
        if tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self.in_head = False
        if tag in _HIDDEN and self.hidden:
            self.hidden -= 1
        if tag == "title":
            self.in_title = False
        if tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
        elif not self.hidden and not self.in_head:
            self.parts.append(data)


def _parse(html: str) -> _Text:
    parser = _Text()
    parser.feed(html)
    parser.close()
    return parser


def plain_text(html: str) -> str:
    """The readable text of a page, one paragraph per block element.

    Example: plain_text("<h1>Tower</h1><div><div>It is 330 m tall.</div></div>")
             == "Tower\\n\\nIt is 330 m tall."
    """
    joined = "".join(_parse(html).parts)
    paragraphs = (" ".join(p.split()) for p in re.split(r"\n\s*\n", joined))
    return "\n\n".join(p for p in paragraphs if p)


def html_title(html: str) -> str | None:
    """The page's <title>, if it has one.

    Example: html_title("<title> Tower </title><p>x</p>") == "Tower"
    """
    title = " ".join("".join(_parse(html[:200_000]).title).split())
    return title or None
