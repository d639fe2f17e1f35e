"""Grounding an LLM's answer: every sentence keeps only citations whose quotes are verbatim
in the cited article (located, or repaired when unambiguous), and a sentence left without
one, or stating a figure none of its quotes holds, is removed and listed as unsupported.

Pure functions over the answer text and the numbered passages; no model is called.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from itertools import pairwise

from rag.answer.citations import REFUSAL, Span, locate, make_citation, repair
from rag.answer.conflicts import figures
from rag.answer.evidence import stems
from rag.text import normalize, paragraphs, split_sentences
from rag.types import Article, Chunk, Citation, Draft, Sentence

# [2], [2, 3], [2.3], [2.3, 4.1]: a passage, or a sentence of one, as the prompt numbered them.
_MARKER = re.compile(r"\[(\d+(?:\.\d+)?(?:\s*[,;]\s*\d+(?:\.\d+)?)*)\]")
_INLINE_QUOTE = re.compile(r"[\"“]([^\"“”]{12,}?)[\"”]")
_QUOTES_HEADER = re.compile(r"^\s*(?:quotes|sources|evidence|citations)\s*:?\s*$", re.I | re.M)
_QUOTED_LINE = re.compile(r"^\s*\[\d+(?:\.\d+)?\]\s*:?\s*[\"“].{8,}[\"”]\s*$")
_QUOTE_LINE = re.compile(r"^\s*\[(\d+)(?:\.\d+)?\]\s*:?\s*[\"“]?(.+?)[\"”]?\s*$")
_ELLIPSIS = re.compile(r"\s*(?:\.\s?\.\s?\.|…|\[\.\.\.\])\s*")
# A sentence saying the passages lack the answer, in the wordings models use.
_REFUSAL = re.compile(
    r"\b(?:(?:can ?not|can't|could not|couldn't|unable to|did not|didn't) (?:find|locate|"
    r"determine|answer|identify|confirm)|not (?:contained|found|mentioned|stated|specified|"
    r"given|provided|reported|covered|addressed|included) in (?:the|these|any of the) "
    r"(?:articles?|passages?|sources?|texts?)|(?:articles?|passages?|sources?|texts?|they) "
    r"(?:do|does|did) not (?:contain|say|mention|state|specify|provide|give|include|report|"
    r"address|answer|discuss|indicate|name|identify)|(?:articles?|passages?|sources?|texts?)"
    r" (?:don't|doesn't|didn't|make no|contain no|give no|provide no|offer no)|(?:there is|"
    r"there's|i have|with) no (?:information|mention|data|details?|record)|no information|"
    r"not enough information|none of the (?:articles|passages|sources)|i don't know)\b",
    re.I)


def is_refusal(sentence: str) -> bool:
    """Does the sentence say the articles do not hold the answer (in any usual wording)?

    Example: is_refusal("The passages do not specify who fired the rocket.") is True
    """
    return bool(_REFUSAL.search(sentence))


@dataclass(frozen=True)
class Numbered:
    """Passage n as the prompt showed it, its sentences numbered n.1, n.2, ..."""

    n: int
    article: Article
    chunk: Chunk

    @cached_property
    def sentences(self) -> list[Sentence]:
        return split_sentences(self.chunk.text, base=self.chunk.start)


@dataclass
class GroundingState:
    citations: list[Citation] = field(default_factory=list)
    by_span: dict[tuple[str, int, int], int] = field(default_factory=dict)

    def cite(self, p: Numbered, span: Span) -> int:
        """The citation number for this span, one per span: overlapping sentences of one
        article are never quoted twice (a span overlapping a cited one reuses its number)."""
        for (aid, start, end), n in self.by_span.items():
            if aid == p.article.id and span.start < end and start < span.end:
                return n
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


def sentence_span(article: Article, span: Span) -> Span:
    """The whole sentence or sentences of the article around a span: what a citation shows,
    and what a claim's figures and dates are checked against.

    Example: sentence_span(art("A b. It rained on May 3. C."), Span(8, 14)) == Span(5, 24)
    """
    para = next(((s, e) for s, e in paragraphs(article.text) if s <= span.start < e),
                (span.start, span.end))
    start, end = span.start, span.end
    for s in split_sentences(article.text[para[0]:para[1]], base=para[0]):
        if s.end > span.start and s.start < span.end:
            start, end = min(start, s.start), max(end, s.end)
    return Span(start, end)


def _supporting_sentence(claim: str, p: Numbered, min_share: float) -> Span | None:
    """The sentence of the passage sharing most of the claim's terms, if enough do."""
    claim_terms = stems(_MARKER.sub("", claim))
    if len(claim_terms) < 2:
        return None
    best: tuple[float, Span] | None = None
    for s in p.sentences:
        share = len(claim_terms & stems(s.text)) / len(claim_terms)
        if best is None or share > best[0]:
            best = (share, Span(s.start, s.end))
    return best[1] if best and best[0] >= min_share else None


def _locate_in(quote: str, p: Numbered) -> Span | None:
    """A quote verbatim in the passage, allowing what capable models change: punctuation
    and whitespace at its edges, curly vs straight quote marks, and an ellipsis joining two
    verbatim parts (then the span runs from the first part to the last)."""
    near = (p.chunk.start, p.chunk.end)
    parts = [x.strip(" \t\n\"'“”‘’.,;:!?") for x in _ELLIPSIS.split(quote)]
    parts = [x for x in parts if x]
    if not parts or any(len(x) < 3 for x in parts):
        return None  # a part too short to place ("no") is not silently left out
    spans = []
    for part in parts:
        found = locate(part, p.article.text, near)
        if found is None or not (near[0] <= found.start and found.end <= near[1]):
            return None
        spans.append(found)
    if any(b.start < a.end for a, b in pairwise(spans)):
        return None  # parts out of order: not one quote
    if spans[-1].end - spans[0].start > 400:
        return None  # an ellipsis skips a few words, not paragraphs
    return Span(spans[0].start, spans[-1].end)


def _quote_span(quote: str, p: Numbered, passages: list[Numbered], listed: bool = False
                ) -> tuple[Numbered, Span] | None:
    """Where a quote attributed to passage p sits: in p, or, when the marker named the
    wrong passage, in the one other passage that holds it verbatim. A quote from a trailing
    Quotes list (never shown) may also be repaired to the sentence that carries it."""
    span = _locate_in(quote, p)
    if span:
        return p, span
    if other := _unique(quote, [o for o in passages if o.n != p.n]):
        return other
    fixed = repair(quote, p.article.text, (p.chunk.start, p.chunk.end)) if listed else None
    return (p, fixed) if fixed else None


_DATE = re.compile(r"\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?\s+\d{1,2}"
                   r"(?:st|nd|rd|th)?\b"
                   r"|\b\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|"
                   r"Oct|Nov|Dec)[a-z]*\b"
                   r"|\b(?:1[89]|20)\d\d\b")


def _dates(text: str) -> set[str]:
    """Dates and years, folded: "Sept. 27" and "September 27" compare equal.

    Example: _dates("on Sept. 27, 2024") == {"sep 27", "2024"}
    """
    out = set()
    for m in _DATE.finditer(text):
        tokens = re.findall(r"\d+|[A-Za-z]+", re.sub(r"(?<=\d)(?:st|nd|rd|th)|\bof\b", "",
                                                     m.group()))
        month = [t[:3].lower() for t in tokens if t.isalpha()]
        out.add(" ".join(month + [t for t in tokens if t.isdigit()]))
    return out


def _facts_hold(sentence: str, sources: list[str]) -> bool:
    """Every figure and date the sentence states appears in the sentences it cites (whole
    sentences, not only the quoted words: "in a Sept. 27 airstrike" is supported by a cited
    sentence that says Sept. 27 outside the quoted phrase).

    Example: _facts_hold("97 remain [1]", ["the remaining 97 hostages"]) is True
    """
    claim = _MARKER.sub("", sentence)
    said = {f.value for f in figures(claim)}
    held = {f.value for q in sources for f in figures(q)}
    return said <= held and _dates(claim) <= {d for q in sources for d in _dates(q)}


def _refs(sentence: str) -> list[tuple[int, int | None]]:
    """The passage (and sentence) numbers a sentence cites, in order, once each.

    Example: _refs("A [2.3] b [1, 2.1].") == [(2, 3), (1, None), (2, 1)]
    """
    out: list[tuple[int, int | None]] = []
    for m in _MARKER.finditer(sentence):
        for ref in re.split(r"\s*[,;]\s*", m.group(1)):
            n, _, k = ref.partition(".")
            item = (int(n), int(k) if k else None)
            if item not in out:
                out.append(item)
    return out


def _cite_sentence(sentence: str, refs: list[tuple[int, int | None]], inline: list[str],
                   listed: dict[int, list[str]], passages: list[Numbered]
                   ) -> list[tuple[Numbered, Span]]:
    """The spans a sentence's markers point at: a numbered sentence, a passage's sentence
    that holds one of the quotes, or the passage sentence that plainly states the claim."""
    by_n = {p.n: p for p in passages}
    found: list[tuple[Numbered, Span]] = []
    for n, k in refs:
        p = by_n.get(n)
        if p is None:  # a marker pointing at no passage: a quote may still say which
            hit = next((h for q in inline + listed.get(n, []) if (h := _unique(q, passages))),
                       None)
            if hit:
                found.append(hit)
            continue
        if k is not None:
            if 1 <= k <= len(p.sentences):
                numbered = p.sentences[k - 1]
                found.append((p, Span(numbered.start, numbered.end)))
            else:  # a sentence the passage does not have: as if unmarked
                found += _cite_sentence(sentence, [], inline, listed, passages)
            continue
        quotes = [(q, False) for q in inline] + [(q, True) for q in listed.get(n, [])]
        hit = next((h for q, tail in quotes if (h := _quote_span(q, p, passages, tail))), None)
        if hit is None and (span := _supporting_sentence(sentence, p, 0.5)):
            hit = (p, span)
        if hit:
            found.append(hit)
    if not refs:  # unmarked: cite it only if one passage plainly says it
        for q in [*inline, _MARKER.sub("", sentence).strip()]:
            if len(q.split()) >= 4 and (hit := _unique(q, passages)):
                return [hit]
        for p in passages:
            if span := _supporting_sentence(sentence, p, 0.8):
                return [(p, span)]
    return found


def _unique(quote: str, passages: list[Numbered]) -> tuple[Numbered, Span] | None:
    """The one place among the passages that holds the quote verbatim, if exactly one does."""
    hits = [(p, at) for p in passages if (at := _locate_in(quote, p))]
    return hits[0] if len({(p.article.id, at.start) for p, at in hits}) == 1 else None


_CLAIMS_MORE = re.compile(r"\b(?:but|however|although|though|yet|instead|while|whereas|except|"
                          r"because|since|so|as|only)\b|[;:(]", re.I)


_MISSING_WORDS = frozenset(stems("passages articles sources texts information mention say "
                                 "state specify give provide name report include contain "
                                 "detail whether exactly specific"))


def _only_says_missing(sentence: str, question: str) -> bool:
    """A sentence that only says what the passages lack, uncited: short, no figure or date,
    no second clause, and no word the question and a refusal would not use, so it cannot
    carry a claim of its own.

    Example: _only_says_missing("The passages do not name the city.", "Which city?") and
             not _only_says_missing("They do not say why Blinken was arrested.", "Why?")
    """
    extra = stems(sentence) - stems(question) - _MISSING_WORDS
    return (len(sentence.split()) <= 25 and not figures(sentence) and not _dates(sentence)
            and not _CLAIMS_MORE.search(sentence) and not extra)


_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget)\b[^.]{0,40}\b(?:instructions?|rules|prompts?)\b|"
    r"\b(?:system prompt|you are now|as an ai|reply (?:only )?with)\b", re.I)
_NEGATION = re.compile(r"(?:\b(?:not|no|never|nor|denied|denies|deny|refused|refuses|refuse|"
                       r"rejected|rejects|without)\b|n't\b)", re.I)


def _says_the_same(claim: str, sources: list[str]) -> bool:
    """The cited sentences hold most of the claim's terms (half, as for a passage marker),
    and no term the claim states plainly is negated in them, or the other way round.

    Example: _says_the_same("Blinken met Sissi in Cairo", ["Blinken met Sissi in Cairo."])
    """
    terms = stems(claim)
    have = stems(" ".join(sources))
    if terms and len(terms & have) / len(terms) < 0.5:
        return False
    # A term negated on one side and stated plainly on the other is a flip: "resigned" is
    # not "refused to resign". Only a model reads meaning; this keeps plain flips out.
    claim = _ANSWER_WORD.sub("", claim)  # "No, Hezbollah ruled out talks": "No" answers
    if _DOUBLE_NEGATION.search(claim):
        return False  # "did not refuse": a double negative is beyond what rules can check
    src_neg = set().union(*(_negated(x) for x in sources)) if sources else set()
    claim_neg = _negated(claim)
    flipped = ((terms - claim_neg) & (src_neg - (have - src_neg))) or (
        claim_neg and not claim_neg & src_neg and claim_neg & (have - src_neg))
    return not flipped


_ANSWER_WORD = re.compile(r"^\s*(?:yes|no|not (?:really|much|yet|quite))\b\s*[,:;.–—-]\s*", re.I)
_DOUBLE_NEGATION = re.compile(rf"(?:{_NEGATION.pattern})\W+(?:\w+\W+)?(?:{_NEGATION.pattern})",
                              re.I)


def _negated(text: str) -> set[str]:
    """The stemmed terms within three words after a negation ("refused to resign",
    "did not formulate a plan"), up to the end of its clause: in "alleged without evidence
    that Hezbollah hid money" only "evidence" is negated.

    Example: _negated("He refused to resign on Monday.") == {"resign"}
    """
    out: set[str] = set()
    for m in _NEGATION.finditer(text):
        after = text[m.end():m.end() + 60].split()[:3]
        if m.group().lower() in ("without", "no"):
            # "without evidence that Hezbollah hid money": the noun is negated, not the
            # clause that follows it.
            scope: list[str] = []
            for word in after:
                if word.lower().strip("\"'“”‘’") in _CLAUSE_START:
                    break
                scope.append(word)
            after = scope
        out |= stems(" ".join(after))
    return out


_CLAUSE_START = frozenset({"that", "which", "who", "whom", "whose", "but", "and", "or",
                           "because", "while", "when", "where", "whereas", "although",
                           "though", "after", "before", "since", "as", "if", "unless"})


def _quoted_in(quote: str, sources: list[str]) -> bool:
    """A quotation the answer shows is verbatim in one of its cited sentences (quote marks,
    dashes and spacing folded, edge punctuation aside).

    Example: _quoted_in("about 120 hostages,", ["Officials said “about 120 hostages” were"])
    """
    q = normalize(quote).strip(" \t\"'.,;:!?").lower()
    return not q or any(q in normalize(x).lower() for x in [*sources, " ".join(sources)])


_LOOSE_MARKER = re.compile(r"([.!?…]+)([\"'”’)]*)\s*((?:\[\d+(?:\.\d+)?(?:\s*[,;]\s*\d+"
                           r"(?:\.\d+)?)*\]\s*)+)(?=\s|$)")


def _markers_inside(text: str) -> str:
    """Markers written after a sentence's full stop belong to that sentence.

    Example: _markers_inside('In Cairo. [1.1] He said "go." [1.2]')
             == 'In Cairo [1.1]. He said "go" [1.2].'
    """
    return _LOOSE_MARKER.sub(lambda m: m.group(2) + " " + m.group(3).strip() + m.group(1), text)


def ground(text: str, passages: list[Numbered], state: GroundingState | None = None,
           question: str = "") -> Draft:
    """Keep what the passages support, with verbatim citations of whole sentences; drop
    the rest into `unsupported`. Pass one `state` to ground an answer piece by piece with
    consistent citation numbers.

    Example: ground("Blinken resigned [1.1].", [p]).refused   # 1.1 says he met Sissi
    """
    body, listed = split_quotes_section(_markers_inside(text))
    if not body:
        return Draft(REFUSAL, [], True)
    state = state if state is not None else GroundingState()
    kept: list[str] = []
    unsupported: list[str] = []
    not_found: list[str] = []
    for s in whole_quotations(body, split_sentences(body)):
        sentence = s.text
        refs = _refs(sentence)
        clean = re.sub(r"\s+([.,;:!?])", r"\1", _MARKER.sub("", sentence)).strip()
        if not clean.strip(" .,;:!?\"'“”‘’()[]"):
            continue  # only markers: nothing to show
        if is_refusal(sentence) and (not refs or _only_says_missing(clean, question)):
            not_found.append(clean)  # "The articles do not say why": kept beside an answer
            continue
        inline = _INLINE_QUOTE.findall(sentence)
        cited = _cite_sentence(sentence, refs, inline, listed, passages)
        spans = [(p, sentence_span(p.article, span)) for p, span in cited]
        spans = [(p, sp) for p, sp in spans if not _INSTRUCTION.search(
            p.article.text[sp.start:sp.end])]  # an article's injected instruction is no source
        sources = [p.article.text[sp.start:sp.end] for p, sp in spans]
        if (not spans or not _facts_hold(clean, sources) or not _says_the_same(clean, sources)
                or not all(_quoted_in(q, sources) for q in inline)):
            unsupported.append(clean)
            continue
        marks = dict.fromkeys(state.cite(p, sp) for p, sp in spans)
        kept.append(_attach(clean, "".join(f" [{n}]" for n in marks)))
    if not kept:
        return Draft(REFUSAL, [], True, unsupported=unsupported)
    # A partial answer keeps its "the passages do not say ..." sentences, uncited, when that
    # is all they say, in the question's own words; one that also claims something
    # ("..., but 500 died", "... why Blinken was arrested") is dropped.
    missing = [x for x in not_found if _only_says_missing(x, question)]
    kept += missing
    unsupported += [x for x in not_found if x not in missing]
    return Draft(" ".join(kept), state.citations, False, unsupported=unsupported)


_OPENING = re.compile(r"(?:^|(?<=[\s:(\[—–-]))[\"“](?=\w)")
_CLOSING = re.compile(r"(?<=[\w.,!?;:…])[\"”](?=[\s.,;:!?)\]]|$)")


def _open_quote(text: str) -> bool:
    """Does the text open a quotation it does not close? Only a mark that opens one counts
    (after a space, a colon or a bracket, before a word): an inch mark ('12" thick') does not.

    Example: _open_quote('He said: "They wait.') and not _open_quote('It is 12" thick.')
    """
    return len(_OPENING.findall(text)) > len(_CLOSING.findall(text))


def whole_quotations(text: str, sentences: list[Sentence]) -> list[Sentence]:
    """Sentences, with those that open a quotation joined to the ones that close it: the
    answer 'He said: "They wait. They die" [1.2].' is one claim, cited at its end.

    Example: [s.text for s in whole_quotations(t, split_sentences(t))]
             == ['He said: "They wait. They die" [1].']  # t is that text
    """
    out: list[Sentence] = []
    joined = 0  # sentences joined to the last one: a quotation runs over three at most
    for s in sentences:
        if out and joined < 2 and _open_quote(out[-1].text):
            last = out.pop()
            s = Sentence(text[last.start:s.end], last.start, s.end)
            joined += 1
        else:
            joined = 0
        out.append(s)
    return out


def _attach(sentence: str, marks: str) -> str:
    """Put markers before the sentence's closing punctuation.

    Example: _attach("It rained.", " [1]") == "It rained [1]." and
             _attach('He said "go."', " [1]") == 'He said "go" [1].'
    """
    m = re.search(r"([.!?…]+)([\"'”’)]*)$", sentence)
    if not m:
        return sentence + marks
    # 'said "go."' -> 'said "go" [1].': a marker never lands inside a quotation.
    return sentence[:m.start()] + m.group(2) + marks + m.group(1)
