"""What a loader yields (an Article, or a Skip saying why not) and the small helpers every
loader shares (index/loaders.py for files, index/web.py for pages and feeds)."""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from rag.types import Article


@dataclass(frozen=True)
class Skip:
    """Something that could not be ingested, and why."""

    where: str
    reason: str


Loaded = Article | Skip


def megabytes(n: int) -> str:
    """A byte count in MB, precise enough to tell a small limit from zero.

    Example: megabytes(20_000_000) == "20 MB" and megabytes(1500) == "0.0015 MB"
    """
    return f"{n / 1e6:.3g} MB"


def bom_encoding(data: bytes) -> str | None:
    """The UTF-16 or UTF-32 encoding a byte order mark announces (their text is full of NUL
    bytes, so it must be recognised before the binary test).

    Example: bom_encoding("\ufeffhi".encode("utf-16")) == "utf-16"
    """
    for bom, name in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                      (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return name
    return None


def nonempty(article: Article) -> Loaded:
    """The article, or a Skip when cleaning left no text."""
    if not article.text.strip():
        return Skip(article.origin, "empty article: no text after cleaning")
    return article
