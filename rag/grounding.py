"""Grounding an LLM's answer: every sentence keeps only citations whose quotes are verbatim
in the cited article (located, or repaired when unambiguous), and a sentence left without
one, or stating a figure none of its quotes holds, is removed and listed as unsupported.

Pure functions over the answer text and the numbered passages; no model is called.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.citations import REFUSAL, Span, locate, make_citation, repair
from rag.conflicts import figures
from rag.evidence import stems

from rag.text import split_sentences
from rag.types import Article, Chunk, Citation, Draft

_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_INLINE_QUOTE = re.compile(r"[\"“]([^\"“”]{12,}?)[\"”]")
_QUOTES_HEADER = re.compile(r"^\s*(?:quotes|sources|evidence|citations)\s*:?\s*$", re.I | re.M)
_QUOTED_LINE = re.compile(r"^\s*\[\d+\]\s*:?\s*[\"“].{8,}[\"”]\s*$")
_QUOTE_LINE = re.compile(r"^\s*\[(\d+)\]\s*:?\s*[\"“]?(.+?)[\"”]?\s*$")
_REFUSAL = re.compile(r"\b(?:cannot find|can't find|could not find|not (?:contained |found )?in "
                      r"the (?:articles|passages)|(?:articles|passages) do not (?:contain|say|"
                      r"mention)|no information)\b", re.I)


@dataclass(frozen=True)
class Numbered:
    """Passage n as the prompt showed it."""

    n: int
    article: Article
    chunk: Chunk


@dataclass
class GroundingState:
    citations: list[Citation] = field(default_factory=list)
    by_span: dict[tuple[str, int, int], int] = field(default_factory=dict)

    def cite(self, p: Numbered, span: Span) -> int:
        key = (p.article.id, span.start, span.end)
        if key not in self.by_span:
            n = len(self.citations) + 1
            self.citations.append(make_citation(n, p.article, p.chunk.id, span))
            self.by_span[key] = n
        return self.by_span[key]


def split_quotes_section(text: str) -> tuple[str, dict[int, list[str]]]:
    """Separate a trailing 'Quotes:' list (`[n] "quote"` lines) from the answer body.

    Example: split_quotes_section('A [1].\\nQuotes:\\n[1] "x y z"') == ("A [1].", {1: ["x y z"]})
    """
    m = _QUOTES_HEADER.search(text)
    body, tail = (text[:m.start()], text[m.end():]) if m else (text, "")
    quotes: dict[int, list[str]] = {}
    lines = tail.splitlines() if m else []
    if not m:  # a trailing block of `[n] "quote"` lines, without a header
        all_lines = text.splitlines()
        cut = len(all_lines)
        while cut > 0 and _QUOTED_LINE.match(all_lines[cut - 1]):
            cut -= 1
        if cut > 0:  # never take the whole answer for its quotes
            lines = all_lines[cut:]
            body = "\n".join(all_lines[:cut])
    for line in lines:
        q = _QUOTE_LINE.match(line)
        if q:
            quotes.setdefault(int(q.group(1)), []).append(q.group(2))
    return body.strip(), quotes


def _supporting_sentence(claim: str, p: Numbered, min_share: float) -> Span | None:
    """The sentence of the passage sharing most of the claim's terms, if enough do."""
    claim_terms = stems(_MARKER.sub("", claim))
    if len(claim_terms) < 2:
        return None
    best: tuple[float, Span] | None = None
    for s in split_sentences(p.chunk.text, base=p.chunk.start):
        share = len(claim_terms & stems(s.text)) / len(claim_terms)
        if best is None or share > best[0]:
            best = (share, Span(s.start, s.end))
    return best[1] if best and best[0] >= min_share else None


def _quote_span(quote: str, p: Numbered) -> Span | None:
    near = (p.chunk.start, p.chunk.end)
    return locate(quote, p.article.text, near) or repair(quote, p.article.text, near)


def _figures_hold(sentence: str, quotes: list[str]) -> bool:
    """Every figure the sentence states appears in one of its quotes.

    Example: _figures_hold("97 remain [1]", ["the remaining 97 hostages"]) is True
    """
    said = {f.value for f in figures(_MARKER.sub("", sentence))}
    held = {f.value for q in quotes for f in figures(q)}
    return said <= held


def ground(text: str, passages: list[Numbered], state: GroundingState | None = None) -> Draft:
    """Keep what the passages support, with verbatim citations; drop the rest. Pass one
    `state` to ground an answer piece by piece with consistent citation numbers."""
    body, listed = split_quotes_section(text)
    if not body or (_REFUSAL.search(body) and len(body) < 200):
        return Draft(REFUSAL, [], True)
    by_n = {p.n: p for p in passages}
    state = state if state is not None else GroundingState()
    kept: list[str] = []
    unsupported: list[str] = []
    for s in split_sentences(body):
        sentence = s.text
        marks = [int(x) for m in _MARKER.finditer(sentence) for x in m.group(1).split(",")]
        inline = _INLINE_QUOTE.findall(sentence)
        new_marks: list[int] = []
        quotes: list[str] = []
        for n in dict.fromkeys(marks):
            p = by_n.get(n)
            if p is None:
                continue  # a marker pointing at no passage
            span = None
            for quote in inline + listed.get(n, []):
                span = _quote_span(quote, p)
                if span:
                    break
            span = span or _supporting_sentence(sentence, p, 0.5)
            if span:
                new_marks.append(state.cite(p, span))
                quotes.append(p.article.text[span.start:span.end])
        if not marks:  # unmarked: keep it only if one passage plainly says it
            for p in passages:
                span = _supporting_sentence(sentence, p, 0.8)
                if span:
                    new_marks.append(state.cite(p, span))
                    quotes.append(p.article.text[span.start:span.end])
                    break
        clean = re.sub(r"\s+([.,;:!?])", r"\1", _MARKER.sub("", sentence)).strip()
        if not new_marks or not _figures_hold(clean, quotes):
            unsupported.append(clean)
            continue
        marks_text = "".join(f" [{n}]" for n in dict.fromkeys(new_marks))
        kept.append(_attach(clean, marks_text))
    if not kept:
        return Draft(REFUSAL, [], True, unsupported=unsupported)
    return Draft(" ".join(kept), state.citations, False, unsupported=unsupported)


def _attach(sentence: str, marks: str) -> str:
    """Put markers before the sentence's closing punctuation.

    Example: _attach("It rained.", " [1]") == "It rained [1]."
    """
    m = re.search(r"[.!?…]+[\"'”’)]*$", sentence)
    if not m:
        return sentence + marks
    return sentence[:m.start()] + marks + sentence[m.start():]
