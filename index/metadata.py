"""Pure steps that turn raw text plus what is known about it into an Article."""

from __future__ import annotations

import re
from urllib.parse import urlparse

from index.chunking import article_id
from rag.text import shown_safe, split_sentences
from rag.types import Article

_SOURCE_LINE = re.compile(r"^\s*\[\s*source\s*:\s*([^\]\n]+?)\s*\]\s*$", re.I | re.M)
_DATE_LINE = re.compile(r"^\s*(?:date|published|updated)\s*:\s*(.+?)\s*$", re.I | re.M)
_MD_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)
_MD_SETEXT = re.compile(r"^([^\n]*\S[^\n]*)\n[ \t]{0,3}(?:=+|-{2,})[ \t]*$", re.M)
# A link's URL may hold balanced parentheses (Wikipedia's "Mercury_(planet)").
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\((?:[^()\s]|\([^()\s]*\))*(?:\s+\"[^\"]*\")?\s*\)")
_MD_EMPH = re.compile(r"(\*\*|__|\*|`)(?=\S)(.+?)(?<=\S)\1")


def clean_text(text: str) -> str:
    """Normalise line endings, drop control characters, trim trailing spaces and blank runs.

    Example: clean_text("a \\r\\n\\n\\n\\nb\\x00") == "a\\n\\nb"
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", text)
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def strip_markdown(text: str) -> str:
    """Markdown to plain prose: headings lose their hashes and stand as paragraphs of their
    own (a heading is never glued to the sentence after it and quoted with it), links keep
    their text.

    Example: clean_text(strip_markdown("# T\\nSee [x](http://y) **now**")) == "T\\n\\nSee x now"
    """
    text = _MD_SETEXT.sub(r"\1\n\n", text)
    text = _MD_HEADING.sub(r"\n\1\n\n", text)
    text = _MD_LINK.sub(r"\1", text)
    return _MD_EMPH.sub(r"\2", text)


def pop_source_line(text: str) -> tuple[str, str | None]:
    """Take a `[Source: X]` line out of the text and return (text, X).

    Example: pop_source_line("[Source: Reuters]\\n\\nBody") == ("Body", "Reuters")
    """
    m = _SOURCE_LINE.search(text[:2000])
    if not m:
        return text, None
    return clean_text(text[:m.start()] + text[m.end():]), m.group(1)


def pop_date_line(text: str) -> tuple[str, str | None]:
    """Take a leading `Date: ...` / `Published: ...` line out of the text.

    Example: pop_date_line("Date: 2024-10-22\\nBody") == ("Body", "2024-10-22")
    """
    m = _DATE_LINE.search(text[:500])
    if not m or m.start() > 300:
        return text, None
    return clean_text(text[:m.start()] + text[m.end():]), m.group(1)


def guess_title(text: str) -> str:
    """A headline first line (short, no closing full stop, followed by more text), else the
    first sentence, shortened to 120 characters at a clause or word boundary.

    Example: guess_title("Big news\\n\\nIt happened. Then more.") == "Big news"
    """
    first, _, rest = text.partition("\n")
    first = first.strip()
    if rest.strip() and 0 < len(first) <= 150 and first[-1] not in ".!?:;,":
        return first
    sentences = split_sentences(text[:1000])
    return shorten_title(sentences[0].text if sentences else text[:1000])


# Words a cut title must not end on: "…arrived in Israel this…" reads as a broken phrase.
_DANGLING = frozenset(
    ["a", "an", "the", "this", "that", "these", "those", "and", "or", "but", "nor", "of", "in",
     "on", "at", "by", "for", "to", "with", "from", "as", "into", "onto", "about", "over",
     "under", "after", "before", "since", "while", "than", "its", "his", "her", "their", "our",
     "your", "my", "is", "are", "was", "were", "be", "been", "being", "has", "have", "had",
     "will", "would", "can", "could", "which", "who", "whose", "whom", "where", "when", "amid",
     "among", "between", "both", "either", "each", "every", "some", "any", "no", "not", "so"])
_CLAUSE_END = re.compile(r"(?:[,;:]|\s[-–—])\s")


def shorten_title(sentence: str, limit: int = 120) -> str:
    """A sentence as a title of at most `limit` characters: whole if it fits, else cut at
    the last clause boundary (comma, semicolon, colon, dash) in its second half, else at a
    word, never after a dangling word ("the", "with", "this"), and marked with "…".

    Example: shorten_title("Talks began in Cairo, with hope", 26) == "Talks began in Cairo…"
    """
    sentence = " ".join(sentence.split())
    if len(sentence) <= limit:
        return sentence
    head = sentence[:limit]
    clauses = [m.start() for m in _CLAUSE_END.finditer(head) if m.start() >= limit * 0.4]
    if clauses:
        head = head[:clauses[-1]]
    elif sentence[limit] != " ":
        head = head.rsplit(" ", 1)[0]  # the last word was cut through
    words = head.split()
    while len(words) > 3 and words[-1].lower().strip(",;:–—-") in _DANGLING:
        words.pop()
    return " ".join(words).rstrip(",;:–—- ") + "…"


def host_of(url: str) -> str:
    """Publisher fallback: the URL's host without `www.`.

    Example: host_of("https://www.reuters.com/x") == "reuters.com"
    """
    host = urlparse(url).hostname or ""
    return host.removeprefix("www.")


def make_article(text: str, *, origin: str, url: str | None = None, title: str | None = None,
                 source: str | None = None, date: str | None = None) -> Article:
    """Build an Article from raw text and whatever metadata is known; the text is cleaned
    and metadata lines are taken out of it.

    Example: make_article("[Source: AP]\\nHi.", origin="a.txt").source == "AP"
    """
    text = clean_text(text)
    text, line_source = pop_source_line(text)
    text, line_date = pop_date_line(text)
    url = url or origin
    is_web = url.startswith(("http://", "https://"))
    return Article(
        id=article_id(text),
        text=text,
        title=shown_safe((title or "").strip() or guess_title(text)),
        source=shown_safe((source or "").strip() or line_source or
                          (host_of(url) if is_web else "")),
        url=url,
        date=shown_safe((date or "").strip() or line_date or "") or None,
        origin=origin,
    )
