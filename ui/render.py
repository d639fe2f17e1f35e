"""Plain-text rendering for the terminal (ingest summaries, answers)."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from index.pipeline import IngestSummary
    from rag.types import Answer


def ingest_summary(s: IngestSummary) -> str:
    lines = [f"{s.added} added, {s.updated} updated, {s.unchanged} unchanged, "
             f"{s.removed} removed, {len(s.skipped)} skipped; "
             f"{s.chunks_embedded} chunks embedded in {s.seconds:.1f}s "
             f"(store: {s.articles} articles, {s.chunks} chunks)"]
    for skip in s.skipped:
        lines.append(f"  skipped {printable(skip['path'])}: {printable(skip['reason'])}")
    for dup in s.near_duplicates:
        lines.append(f"  near-duplicate: {printable(dup['path'])} ~ {printable(dup['of'])} "
                     f"({dup['similarity']:.0%} shared text)")
    if s.interrupted:
        lines.append("  interrupted: what was stored is intact; run the same command to finish")
    return "\n".join(lines)


def printable(text: str) -> str:
    """A file name or message on one line of a terminal: newlines, tabs and escape
    sequences in it are shown escaped instead of acted on.

    Example: printable("two\\nlines.txt") == "two\\\\nlines.txt"
    """
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


def answer_text(a: Answer, width: int = 88) -> str:
    """The answer, then each source: title, publisher, date, quote, link."""
    out = [textwrap.fill(a.answer, width) if "\n" not in a.answer else a.answer]
    for conflict in a.conflicts:
        out += ["", textwrap.fill(f"Sources disagree on {conflict.summary}", width)]
    if a.citations:
        out.append("")
        out.append("Sources")
    for c in a.citations:
        meta = " · ".join(x for x in (c.source, c.date) if x)
        out.append(f"[{c.n}] {c.title}" + (f" ({meta})" if meta else ""))
        out.append(textwrap.indent(textwrap.fill(f"“{c.quote}”", width - 4), "    "))
        out.append(f"    {link(c.url, c.start, c.end)}")
    return "\n".join(out)


def link(url: str, start: int, end: int) -> str:
    """Where a citation opens: a web URL, or the file with the quote's character range."""
    if url.startswith(("http://", "https://")):
        return url
    return f"{url}#chars={start}-{end}"
