"""The extractive answerer's composition: the best-supported sentences, quoted verbatim and
cited. No model beyond the embedder. The refusal gate and conflicts are shared with the LLM
answerer (rag/answer/base.py, rag/answer/conflicts.py)."""

from __future__ import annotations

import re
from bisect import bisect_right

from rag.answer.citations import REFUSAL, Span, make_citation
from rag.answer.conflicts import find_conflicts
from rag.answer.evidence import Evidence, items_end, present, stems
from rag.answer.language.agency import action, known, mentions
from rag.answer.language.answer_match import HOLDS, Match, announces_list, enumeration, match
from rag.answer.language.question import Ask, analyse
from rag.answer.language.specifics import (
    compass_clash,
    compass_named,
    missing_figures,
    pinned_terms,
)
from rag.retrieve.context import article_paragraphs, article_sentences
from rag.text import content_terms, is_heading, split_sentences, words
from rag.types import Article, Draft


def _redundant(e: Evidence, chosen: list[Evidence]) -> bool:
    mine = set(words(e.text))
    for c in chosen:
        theirs = set(words(c.text))
        if len(mine & theirs) / max(1, min(len(mine), len(theirs))) > 0.7:
            return True
    return False


def list_end(article: Article, end: int) -> int:
    """Where the list a sentence announces ends: "... if specific conditions are met." is
    followed, within the next paragraph, by the sentence that lists them. `end` when the
    next sentences list nothing.

    Example: list_end(art("Terms apply: \\n\\nA, B, C and D."), 12) == 29
    """
    for s in split_sentences(article.text[end:end + 800], base=end)[:2]:
        if len(enumeration(s.text)) >= 3:
            return s.end
    return items_end(article, end)


PROMISE_REACH = 1500  # how far after "if specific conditions are met" its list may come


def promised(e: Evidence) -> Evidence | None:
    """The sentence that gives the list `e` only promises ("... if specific conditions are
    met."), when the next sentences do not and one further on, within PROMISE_REACH
    characters and the next six sentences, enumerates three items or more.

    Example: promised(ev("Hamas will stop if conditions are met.")).text
             == "Israel must withdraw, free prisoners and let aid in."
    """
    end = max(e.end, e.ext_end)
    if not announces_list(e.article.text[e.start:end]) or list_end(e.article, end) > end:
        return None
    sentences = article_sentences(e.article)
    i = bisect_right(sentences, end - 1, key=lambda s: s.start)
    for s in sentences[i:i + 6]:
        if s.end - end > PROMISE_REACH:
            break
        if len(enumeration(s.text)) >= 3:
            return Evidence(e.article, e.chunk_id, s.text, s.start, s.end, e.passage, s.end,
                            score=e.score)
    return None


# Types whose answer a sentence visibly holds or lacks (a number of the counted thing, a
# name the question lacks, a place, a date, quoted speech, an enumeration, a cause: "because
# the default level is WARNING"); open and yes/no questions take the best relevant sentence.
TYPED = frozenset({"quantity", "person", "organisation", "place", "date", "said", "list",
                   "reason"})
TYPE_MARGIN = 0.15  # how far below the best sentence one of the asked type may score
# When none within TYPE_MARGIN lists the items a list question asks for, the best that does
# within this margin answers ("These are debug, info, warning, error and critical." below
# "The logging functions are named after the level ..."). Other types are refused instead.
WIDE_MARGIN = 0.25
# Below the factoid floor a sentence of the asked type must also hold this share of the
# question's terms (idf-weighted): a new name alone does not answer "who replaced X".
TYPED_TERMS = 0.5
SEVERAL = 3
# Types whose absence is told reliably: no number of the counted thing, no new name. For the
# others (a date may be "until it is destroyed", a reaction need not be quoted) the best
# relevant sentence stands when none shows the type.
AGENT_TYPES = frozenset({"person", "organisation"})  # who did it (rag/answer/language/agency.py)
# A sentence naming the doer and the deed answers this far below the relevance floor.
DOER_MARGIN = 0.15
DOER_LEAD = 200  # "Sorting HOW TO\n\nAuthor: ...": what a doer's line is about may come first
REFUSE_UNFIT = frozenset({"quantity", "person", "organisation"})


def _quote_end(e: Evidence, listing: bool) -> int:
    end = max(e.end, e.ext_end)
    if listing and announces_list(e.article.text[e.start:end]):
        return list_end(e.article, end)  # the list itself, not its promise
    return end


def _complete(ask: Ask, e: Evidence) -> bool:
    """Does the sentence alone hold an answer of the asked type, as a whole sentence (no
    quotation left open, no heading or colon waiting for what follows)? Then the sentence
    leaning on it ("This marks ...") adds words, not the answer."""
    text = e.text.rstrip()
    return ask.type in TYPED and ask.type != "list" and e.ext_end > e.end and \
        text[-1:] in ".!" and text.count("“") == text.count("”") and \
        text.count('"') % 2 == 0 and match(ask, text).score >= HOLDS


def _fit(ask: Ask, e: Evidence) -> Match:
    return match(ask, e.article.text[e.start:_quote_end(e, ask.type == "list")])


def compose(question: str, ranked: list[Evidence], floor: float, max_evidence: int,
            typed_floor: float = 0.0) -> Draft:
    """Stitch the answer from the best sentences (`ranked` is non-empty and its best passed
    the refusal gate): both sides first when sources give different figures; else, for a
    question whose answer has a visible type (how many, who, where, when, what did X say,
    which conditions), the best sentence that holds an answer of that type, within
    TYPE_MARGIN of the best (for a list, WIDE_MARGIN when none closer lists), with those close
    to it that also hold one; a refusal when none does (an on-topic sentence of another type is
    not the answer); for open questions the
    best sentence and those close to it that add something. Below `typed_floor` a typed
    question is answered only by a sentence of its type. Refused outright when the context
    never mentions a figure or the subject the question pins down (`unpinned`); a sentence
    about another part of the place or, for what X said about Y, never about Y is not
    quoted (`elsewhere`); "who did it" takes the sentences naming the doer (`_doers`)."""
    ask = analyse(question)
    typed = ask.type in TYPED
    if unpinned(question, ask, ranked):
        return Draft(REFUSAL, [], True)
    # a question quoted without its answer (a link to an FAQ entry) answers nothing
    ranked = [e for e in ranked if not elsewhere(question, ask, e) and
              not e.quote.rstrip(" \"'”’)").endswith("?")]
    doers = _doers(question, ask, ranked, floor - DOER_MARGIN)
    if not ranked or (ranked[0].score < floor and not doers):
        return Draft(REFUSAL, [], True)
    conflicts = find_conflicts(question, ranked)
    if conflicts:
        chosen = [conflicts[0].a, conflicts[0].b]
    else:
        close = [e for e in ranked if e.score >= max(floor, ranked[0].score - TYPE_MARGIN)]
        if not close and not doers:  # nothing above the floor (a caller without the gate)
            return Draft(REFUSAL, [], True)
        fits = {id(e): _fit(ask, e) for e in close} if typed else {}
        fitting = [e for e in close if fits[id(e)].score >= HOLDS] if typed else close
        if ask.type == "list" and not fitting:  # none close lists: one a little further may
            wide = [e for e in ranked if e.score >= max(floor, ranked[0].score - WIDE_MARGIN)
                    and id(e) not in fits]
            fits.update({id(e): _fit(ask, e) for e in wide})
            fitting = [e for e in wide if fits[id(e)].score >= HOLDS][:1]
        if ask.type in AGENT_TYPES:
            # "who killed 17 people": the sentence about those 17; a doer of the act done to
            # something else ("the attack by Hamas" for the attack on a home) is not one; nor,
            # for an act of known wordings, a name in a sentence that never tells of the act
            # ("Gantz resigned" for who replaced him)
            act = action(question)
            fitting = [e for e in fitting if not missing_figures(question, e.quote) and
                       (act is None or e in doers or (not fits[id(e)].agent and
                        (not known(act) or mentions(act, e.quote))))]
        if doers:
            fitting = doers
        elif ranked[0].score < typed_floor:  # weak evidence: the type and the question's terms
            # a sentence naming several of the asked things ("traveling to Israel, Jordan, and
            # Qatar") shows its type beyond doubt: half as many of the terms will do
            fitting = [e for e in fitting if e.about >= TYPED_TERMS or (
                ask.plural and len({f.lower() for f in fits[id(e)].found}) >= SEVERAL and
                e.about >= TYPED_TERMS / 2)]
        if not fitting and (ask.type in REFUSE_UNFIT or ranked[0].score < typed_floor or
                            _speaker_absent(ask, close)):
            return Draft(REFUSAL, [], True)
        pool = fitting or close
        best = pool[0]
        chosen = [best]
        for e in pool[1:]:
            if len(chosen) >= max_evidence:
                break
            # every doer named answers ("funded by Microsoft", "also funded by Bloomberg")
            if (not doers and e.score < max(floor, best.score - 0.1)) or _redundant(e, chosen):
                continue
            chosen.append(e)
        if ask.type == "list":
            chosen += [x for e in chosen if (x := promised(e)) and
                       not any(c.article.id == x.article.id and c.start == x.start
                               for c in chosen)][:1]
    spans = merged([(e, Span(e.start, e.end if _complete(ask, e) else
                              _quote_end(e, ask.type == "list"))) for e in chosen])
    citations = [make_citation(n, e.article, e.chunk_id, span)
                 for n, (e, span) in enumerate(spans, 1)]
    return Draft(" ".join(f"{c.quote} [{c.n}]" for c in citations), citations, False)


def _doers(question: str, ask: Ask, ranked: list[Evidence], floor: float) -> list[Evidence]:
    """For "who killed X": the sentences above `floor` that name the doer ("Israel's killing
    of X", "Author: A. Dalke") and tell of what was done to (the subject's words in the
    quote, in its paragraph when the quote refers back ("on this"), or for a credit line in
    the DOER_LEAD characters before it; the question's figures in the quote; all
    the subject's words in the article; "howto" as "HOW TO"), best first. They answer even
    when their wording is far from the question's."""
    act = action(question) if ask.type in AGENT_TYPES else None
    if act is None:
        return []
    subject = [(w, stems(w)) for w in pinned_terms(ask)]
    out = []
    for e in ranked:
        if e.score < floor:
            break
        if not mentions(act, e.quote) or not _fit(ask, e).agent:
            continue
        # "who killed 17 people in central Gaza": the sentence itself tells of that act
        whole = f"{e.article.title} {e.article.text}"
        # a credit line ("Author: A. Dalke") is about the heading just above it
        credit = re.match(r"\W*(\w+)\s*:", e.quote)
        lead = DOER_LEAD if credit and credit.group(1).lower() in act.words else 0
        near = e.article.text[max(0, e.start - lead):max(e.end, e.ext_end)]
        if _REFERS_BACK.search(e.quote):  # "funded by Microsoft to work on this full-time"
            near = _paragraph(e)
        if _mentions_all(near, subject) and not missing_figures(question, e.quote) and \
                _mentions_all(whole, subject):  # the whole article last: the dearest read
            out.append(e)
    return out


# a demonstrative standing for what the paragraph named: "to work on this full-time" (not
# "this week"; "its", "their" refer to the doer as often as to the subject)
_REFERS_BACK = re.compile(r"\b(?:this|these)\b(?!\s+(?:week|month|year|morning|afternoon|"
                          r"evening|night|weekend|time|summer|spring|autumn|fall|winter)\b)",
                          re.I)


def _mentions_all(text: str, subject: list[tuple[str, set[str]]]) -> bool:
    """Every word of the subject in the text, by its stems or with the text's spaces gone
    ("howto" in "Sorting HOW TO"); the text is read once."""
    if not subject:
        return True
    have, squeezed = stems(text), re.sub(r"\W+", "", text.lower())
    return all(any(present(x, have) for x in word_stems) or word in squeezed
               for word, word_stems in subject)


SPEAKER_REACH = 600


def _speaker_absent(ask: Ask, close: list[Evidence]) -> bool:
    """For "what did X say": is X named in none of the close sentences, nor in the
    SPEAKER_REACH characters before each ("As Guido said:" and his points (a), (b) ...)? An
    unquoted reaction may answer; a sentence far from any mention of the speaker does not."""
    if ask.type != "said":
        return False
    speaker = {w for w in content_terms(ask.focus) if len(w) > 2}
    return bool(speaker) and not any(speaker & set(content_terms(
        e.article.text[max(0, e.start - SPEAKER_REACH):max(e.end, e.ext_end)])) for e in close)


def _paragraph(e: Evidence) -> str:
    """The paragraph (or paragraphs) holding the quote."""
    end = max(e.end, e.ext_end)
    spans = [p for p in article_paragraphs(e.article) if p[0] < end and p[1] > e.start]
    return e.article.text[spans[0][0]:spans[-1][1]] if spans else e.quote


def _with_previous(e: Evidence) -> str:
    """The quote with the sentence before it in its paragraph (a speaker's words run on)."""
    sentences = article_sentences(e.article)
    i = bisect_right(sentences, e.start, key=lambda s: s.start) - 1
    start = e.start
    if i > 0 and "\n\n" not in e.article.text[sentences[i - 1].end:e.start]:
        start = sentences[i - 1].start
    return e.article.text[start:max(e.end, e.ext_end)]


def elsewhere(question: str, ask: Ask, e: Evidence) -> bool:
    """Is the quote, read with the sentence before it in its paragraph (a speaker's words run
    on), about something else than asked: the question's place in another part of it
    ("central Gaza" for "northern gaza"), or, for "what did X say about Y", never Y?"""
    text = _with_previous(e)
    # the quote's own part of the place decides; the sentence before only when it names none
    if compass_clash(question, e.quote) or (
            not compass_named(question, e.quote) and compass_clash(question, text)):
        return True
    about = {w.rstrip("s") for w in content_terms(ask.qualifier)} if ask.type == "said" else set()
    # words as written: a stem would take "operations" for "operator"
    return bool(about) and not about & {w.rstrip("s") for w in content_terms(text)}


def unpinned(question: str, ask: Ask, ranked: list[Evidence]) -> list[str]:
    """What the question pins down (rag/answer/language/specifics.py: its figures, what a
    who-question asks
    about) that no sentence of the context mentions, nor an article's title: the articles
    are about something else.

    Example: unpinned("who funds the pypy project", ask, evidence_about_cpython) == ["pypy"]
    """
    seen: set[str] = set()
    parts = []
    for e in ranked:
        parts.append(e.quote)
        if e.article.id not in seen:
            seen.add(e.article.id)
            parts.append(e.article.title)
    text = " ".join(parts)
    have = stems(text)
    return missing_figures(question, text) + [
        w for w in pinned_terms(ask) if not any(present(t, have) for t in stems(w))]


def _heading(text: str, span: Span) -> bool:
    return is_heading(text, span.start, span.end)


def merged(quotes: list[tuple[Evidence, Span]]) -> list[tuple[Evidence, Span]]:
    """The quotes with those of one article that overlap or touch joined into one, in the
    first one's place: no sentence is quoted twice. A headline and the sentence under it stay
    two quotes: the heading is no part of the sentence's claim.

    Example: [s for _, s in merged([(e1, Span(0, 40)), (e2, Span(20, 90))])] == [Span(0, 90)]
    """
    out: list[tuple[Evidence, Span]] = []
    for e, span in quotes:
        out.append((e, span))
        changed = True
        while changed:  # a widened span may now reach another: merge until none does
            changed = False
            for i in range(len(out)):
                for j in range(i + 1, len(out)):
                    (f, a), (g, b) = out[i], out[j]
                    # overlapping spans leave an empty gap; touching ones only whitespace
                    gap = f.article.text[min(a.end, b.end):max(a.start, b.start)]
                    if f.article.id == g.article.id and not gap.strip() and not (
                            "\n" in gap and (_heading(f.article.text, a)
                                              or _heading(f.article.text, b))):
                        out[i] = (f, Span(min(a.start, b.start), max(a.end, b.end)))
                        del out[j]
                        changed = True
                        break
                if changed:
                    break
    return out
