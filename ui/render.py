"""Plain-text rendering for the terminal (ingest summaries, answers)."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from rag.text import shown_safe as printable
from ui.viewer import text_fragment_url

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
    for cut in s.truncated:
        lines.append(f"  cut short {printable(cut['path'])}: {printable(cut['reason'])}")
    for dup in s.near_duplicates:
        lines.append(f"  near-duplicate: {printable(dup['path'])} ~ {printable(dup['of'])} "
                     f"({dup['similarity']:.0%} shared text)")
    if s.interrupted:
        lines.append("  interrupted: what was stored is intact; run the same command to finish")
    return "\n".join(lines)


def answer_text(a: Answer, width: int = 88) -> str:
    """The answer, then each source: title, publisher, date, quote, link."""
    out = [textwrap.fill(a.answer, width) if "\n" not in a.answer else a.answer]
    for conflict in a.conflicts:
        out += ["", textwrap.fill(f"Sources disagree on {conflict.summary}", width)]
    if a.citations:
        out.append("")
        out.append("Sources")
    for c in a.citations:
        meta = " · ".join(printable(x) for x in (c.source, c.date) if x)
        out.append(f"[{c.n}] {printable(c.title)}" + (f" ({meta})" if meta else ""))
        out.append(textwrap.indent(textwrap.fill(f"“{c.quote}”", width - 4), "    "))
        out.append(f"    {printable(link(c.url, c.quote, c.start))}")
    return "\n".join(out)


def link(url: str, quote: str, start: int) -> str:
    """Where a citation opens: the web page at the quote (a text fragment), or the file at
    the quote as `path:line:column` (which editors and terminals open there) with the
    quote's character range in the file. The Answer's offsets are into the cleaned text
    (a stripped `[Source: …]` line shifts them), so the quote is looked up in the file."""
    if url.startswith(("http://", "https://")):
        return text_fragment_url(url, quote) or url
    path = Path(re.sub(r"#\d+$", "", url))  # a JSON record: "file.jsonl#3"
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return str(path)
    span = locate(raw, quote, start)
    if span is None:  # markup between the words (HTML, Markdown): the file, not a place in it
        return str(path)
    line = raw.count("\n", 0, span[0]) + 1
    column = span[0] - (raw.rfind("\n", 0, span[0]) + 1) + 1
    return f"{path}:{line}:{column} (characters {span[0]}-{span[1]} of the file)"


def locate(raw: str, quote: str, near: int) -> tuple[int, int] | None:
    """The quote's [start, end) in the file's text: verbatim, else with any whitespace
    between its words (re-wrapped lines); of several places, the one nearest `near`.

    Example: locate("[Source: X]\n\nA b.\nC d.", "b. C", 0) == (15, 19)
    """
    words = quote.split()
    if not words:
        return None
    pattern = re.compile(r"\s+".join(re.escape(w) for w in words))
    found = [(m.start(), m.end()) for m in pattern.finditer(raw)]
    return min(found, key=lambda s: abs(s[0] - near)) if found else None
