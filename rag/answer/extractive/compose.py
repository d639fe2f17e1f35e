"""The extractive answerer's composition: the sentences the fitted scorer rates likeliest to
answer, quoted verbatim and cited, or a refusal below its calibrated threshold. No model
beyond the embedder. Conflicts are shared with the LLM answerer (rag/answer/conflicts.py)."""

from __future__ import annotations

from bisect import bisect_right

from rag.answer.citations import REFUSAL, Span, make_citation
from rag.answer.conflicts import find_conflicts
from rag.answer.evidence import Evidence, items_end
from rag.answer.extractive import scorer
from rag.answer.language.answer_match import HOLDS, announces_list, enumeration, match
from rag.answer.language.question import Ask, analyse
from rag.retrieve.context import article_sentences
from rag.text import is_heading, split_sentences, words
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
    return ask.type in scorer.TYPED and ask.type != "list" and e.ext_end > e.end and \
        text[-1:] in ".!" and text.count("“") == text.count("”") and \
        text.count('"') % 2 == 0 and match(ask, text).score >= HOLDS


def compose(question: str, ranked: list[Evidence], max_evidence: int,
            model: scorer.Scorer | None = None) -> Draft:
    """The answer: the sentences `select` chooses, quoted (`quoted`), or a refusal."""
    chosen = select(question, ranked, max_evidence, model or scorer.load())
    return quoted(question, chosen) if chosen else Draft(REFUSAL, [], True)


def select(question: str, ranked: list[Evidence], max_evidence: int, model: scorer.Scorer
           ) -> list[Evidence]:
    """The sentences to quote, by the fitted scorer (rag/answer/extractive/scorer.py): none
    (a refusal) when its refusal model's probability that they answer is below its calibrated
    threshold; both sides when sources give different figures; else the sentence likeliest
    to answer and those within the model's `also` share of its probability that add
    something, at most `max_evidence`."""
    top = ranked[:scorer.LIMIT]
    x = scorer.features(question, top)
    p = model.probabilities(x)
    if not top or model.answers(x, p) < model.threshold:
        return []
    conflicts = find_conflicts(question, ranked)
    if conflicts:
        return [conflicts[0].a, conflicts[0].b]
    chosen: list[Evidence] = []
    for i in scorer.within(p, model.also):
        if len(chosen) >= max_evidence:
            break
        if not _redundant(top[i], chosen):
            chosen.append(top[i])
    return chosen


def quoted(question: str, chosen: list[Evidence]) -> Draft:
    """The chosen sentences quoted and cited, in order: each with what it leans on or
    announces (`_quote_end`: a list question's list, not its promise; the list only promised
    further on, `promised`), a sentence that alone holds the asked answer without its
    follower, and quotes of one article that overlap or touch joined (`merged`)."""
    ask = analyse(question)
    listing = ask.type == "list"
    if listing:
        chosen = chosen + [more for e in chosen if (more := promised(e)) and
                           not any(c.article.id == more.article.id and c.start == more.start
                                   for c in chosen)][:1]
    spans = merged([(e, Span(e.start, e.end if _complete(ask, e) else _quote_end(e, listing)))
                    for e in chosen])
    citations = [make_citation(n, e.article, e.chunk_id, span)
                 for n, (e, span) in enumerate(spans, 1)]
    return Draft(" ".join(f"{c.quote} [{c.n}]" for c in citations), citations, False)


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
