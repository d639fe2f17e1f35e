"""Evidence sentences: the retrieved chunks cut into sentences (with article offsets) and
scored against the question by meaning (embeddings) and by the question's own terms."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from rag.answer.language.agency import action, mentions
from rag.answer.language.answer_match import match
from rag.answer.language.question import analyse
from rag.answer.language.specifics import KIND_NOUNS
from rag.retrieve.context import article_paragraphs, article_sentences, covering, next_sentence
from rag.retrieve.embeddings import Embedder
from rag.retrieve.sentences import scored_form
from rag.text import content_terms, is_heading, normalize, split_sentences, words
from rag.types import Article, Hit

_NUMBER = re.compile(r"\b\d[\d,.]*\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|"
                     r"eleven|twelve|dozens?|hundreds?|thousands?|millions?)\b", re.I)
_MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
          r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")
_DATE = re.compile(rf"\b{_MONTH}\b|\b(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|"
                   rf"Sunday|yesterday|today|last week|this week)\b|\b(?:19|20)\d\d\b")
_NAME = re.compile(r"\b[A-Z][a-z]+(?:[ -][A-Z][a-z]+)+\b")
_ANAPHOR = re.compile(r"^(?:It|Its|This|These|That|Those|They|Their|He|She|His|Her|Such|"
                      r"Under (?:this|that|the)|The (?:move|deal|proposal|plan|decision|attack|"
                      r"operation|strike|figure|toll|agreement|offer))\b")


@dataclass
class Evidence:
    """A sentence of an article that may answer the question."""

    article: Article
    chunk_id: str
    text: str
    start: int
    end: int
    passage: int  # rank of the retrieved chunk it came from (0 = best)
    ext_end: int = 0  # end of the quote: the next sentence too when it leans on this one
    semantic: float = 0.0
    lexical: float = 0.0
    about: float = 0.0  # `lexical` without the kind of answer asked ("which countries")
    score: float = 0.0
    chunk: float = 0.0  # cosine of the chunk it came from (the dense retrieval's)
    own: float = 0.0  # cosine of the sentence's own vector (stored at ingest), else `semantic`
    missing: tuple[str, ...] = ()  # names of the question the quote never mentions
    core: bool = True  # a sentence of the retrieved chunk itself, not a neighbour
    heading: str = ""  # the heading right above it: scored with it, never quoted

    @property
    def scored_text(self) -> str:
        """What the sentence is scored as: its heading (the topic it is under) and itself."""
        return f"{self.heading}\n{self.text}" if self.heading else self.text

    @property
    def quote(self) -> str:
        """The text to quote: the sentence, and its leaning follower if any."""
        return self.article.text[self.start:max(self.end, self.ext_end)]


@lru_cache(maxsize=1)
def _stem() -> Callable[[str], str]:
    import Stemmer

    return Stemmer.Stemmer("english").stemWord


def stem(word: str) -> str:
    """A lowercase word's stem, as the BM25 index stores it.

    Example: stem("hostages") == "hostag"
    """
    return _stem()(word)


def stems(text: str) -> set[str]:
    """Stemmed content terms.

    Example: stems("travelled to Beirut") == {"travel", "beirut"}
    """
    return set(_have(text).terms)


def present(term: str, have: set[str] | frozenset[str]) -> bool:
    """Is the stem in `have`, or a prefix match of at least four letters ("iran" ~
    "iranian")?

    Example: present("iran", {"iranian"}) and not present("ira", {"iranian"})
    """
    return term in have or any(len(term) >= 4 and len(h) >= 4 and (h.startswith(term) or
                                                                 term.startswith(h))
                               for h in have)


@dataclass(frozen=True)
class _Stems:
    """A text's stems, indexed for `present` without a scan: scoring asks it of every
    candidate sentence for every question term."""

    terms: frozenset[str]
    long: tuple[str, ...]  # the stems of four letters or more, sorted

    def has(self, term: str) -> bool:
        """`present(term, self.terms)`, by lookups instead of a scan."""
        if term in self.terms:
            return True
        if len(term) < 4:
            return False
        if not self.terms.isdisjoint(_prefixes(term)):
            return True  # a stem the term starts with ("iranian" has "iran")
        i = bisect_left(self.long, term)
        return i < len(self.long) and self.long[i].startswith(term)


@lru_cache(maxsize=4096)
def _prefixes(term: str) -> tuple[str, ...]:
    return tuple(term[:i] for i in range(4, len(term)))


@lru_cache(maxsize=1 << 15)
def _have(text: str) -> _Stems:
    stem = _stem()
    terms = frozenset(stem(t) for t in content_terms(text))
    return _Stems(terms, tuple(sorted(t for t in terms if len(t) >= 4)))


def coverage(question_stems: set[str], sentence: str,
             weight: Callable[[str], float] | None = None) -> float:
    """Share of the question's stemmed terms found in the sentence, each weighted by
    `weight` (idf: a rare term missing costs more than a common one); prefix matches count
    ("Iranian" ~ "Iran").

    Example: coverage({"hostag", "gaza"}, "Hostages in Gaza") == 1.0
    """
    if not question_stems:
        return 0.0
    have = _have(sentence)
    w = weight or (lambda _t: 1.0)
    total = sum(w(q) for q in question_stems)
    found = sum(w(q) for q in question_stems if have.has(q))
    return found / total if total else 0.0


_CAPITALISED = re.compile(r"(?<![\w'’])([A-Z][\w'’.-]*)")
MISSING_NAME_PENALTY = 0.25
RARE_NAME_IDF = 1.9  # BM25 idf of a term in about 15% of the chunks


Name = frozenset[str]  # the stems of one name's words ("Yoav Gallant" -> {"yoav", "gallant"})


def question_names(question: str) -> list[Name]:
    """The names the question uses: runs of capitalised words, each as the stems of its
    words. The question's first word counts only inside a run of two or more ("Benny Gantz
    resigned?", not "Explain why ..."); stopwords and short forms (US, U.N.) are left out.

    Example: question_names("Explain why Defense Minister Yoav Gallant met Berlin's mayor")
             == [{"defens", "minist", "yoav", "gallant"}, {"berlin"}]
    """
    runs: list[list[str]] = []
    last_end = -1
    for m in _CAPITALISED.finditer(question):
        if runs and question[last_end:m.start()].strip() == "":
            runs[-1].append(m.group(1))
        else:
            runs.append([m.group(1)])
        last_end = m.end()
    first = _CAPITALISED.match(question.lstrip())
    if first and runs and len(runs[0]) == 1 and runs[0][0] == first.group(1):
        runs = runs[1:]
    names = [frozenset(t for t in stems(" ".join(run)) if len(t) >= 4 and "." not in t)
             for run in runs]
    return [n for n in names if n]


def _previous_sentence(article: Article, start: int) -> str:
    para = article.text.rfind("\n\n", 0, start)
    before = split_sentences(article.text[max(para + 2 if para >= 0 else 0, start - 400):start])
    return before[-1].text if before else ""


def missing_names(names: list[Name], article: Article, start: int, end: int
                  ) -> tuple[str, ...]:
    """The question's names that the quote does not mention in full (each missing name
    counts once, however many of its words are missing). The quote counts with the
    article's title and source, and with the sentence before it when it opens on a
    pronoun ("He appointed ..." after "Edward ...").
    Evidence about Warsaw's stock exchange does not answer a question about Berlin's.

    Example: missing_names([{"berlin"}], warsaw_article, s, e) == ("berlin",)
    """
    if not names:
        return ()
    quote = article.text[start:end]
    parts = [quote, article.title, article.source]
    if _ANAPHOR.match(quote):
        parts.append(_previous_sentence(article, start))
    haves = [_have(p) for p in parts]  # the stems of the parts are those of the whole
    return tuple(" ".join(sorted(n)) for n in names
                 if not all(any(h.has(t) for h in haves) for t in n))


_NAME_ASKED = r"what(?: is|'s| was) (?:the|his|her|their|its) name"
_FACTOID = re.compile(r"^\W*(?:(?:in|on|at|from|to|for|by|with|after|before|during|since|of)"
                      r"\s+)?(?:who|whom|whose|which|when|where|how (?:many|much|long|old|far)|"
                      r"what (?:year|date|day|time|number|percentage|country|city|name)|"
                      rf"{_NAME_ASKED})\b", re.I)


def is_factoid(question: str) -> bool:
    """Does the question ask for one specific item (a person, place, date, number)?

    Example: is_factoid("In what year did X happen?") and not is_factoid("why did X quit")
    """
    return bool(_FACTOID.search(normalize(question)))


def answer_type_bonus(question: str, sentence: str) -> float:
    """A little credit when the sentence holds the kind of thing asked for.

    Example: answer_type_bonus("How many died?", "Ten died.") > 0
    """
    kind, asked = _asked_kind(question)
    if kind == "number":
        return 0.08 if _NUMBER.search(sentence) else -0.05
    if kind == "date":
        return 0.08 if _DATE.search(sentence) else -0.03
    if kind == "name":
        # The answer names someone the question does not already name.
        new = [m for m in _NAME.findall(sentence)
               if not any(w in asked for w in content_terms(m))]
        return 0.05 if new else -0.2
    return 0.0


@lru_cache(maxsize=512)  # read once per question, not once per candidate sentence
def _asked_kind(question: str) -> tuple[str, frozenset[str]]:
    q = normalize(question).lower()
    if re.search(r"\bhow (?:many|much)\b|\bwhat (?:number|percentage|share)\b|\bdeath toll\b",
                 q):
        return "number", frozenset()
    if re.search(r"\bwhen\b|\bwhat (?:date|day|year|time)\b", q):
        return "date", frozenset()
    if re.search(rf"^\W*who(?:m|se)?\b|\b{_NAME_ASKED}\b", q):
        return "name", frozenset(content_terms(question))
    return "", frozenset()


def _announces(sentence: str) -> bool:
    """A heading, a question or a line ending in a colon: what answers it comes next.

    Example: _announces("Why is it called Python?") and not _announces("It rained.")
    """
    tail = sentence.rstrip()[-1:]
    return tail in ("?", ":") or (tail not in ".!\"'”’)…" and len(sentence) < 100)


_ITEM = re.compile(r"^(?:[*•‣▪\-–]|\(?\d{1,2}[.)]|\([a-z]\))\s+")
LIST_CHARS = 1200  # the most a quoted list may run past its announcing sentence


def items_end(article: Article, end: int) -> int:
    """Where the bulleted or numbered items that follow `end` end (two items at least,
    consecutive, within LIST_CHARS); `end` when no such list follows.

    Example: items_end(art("Steps:\n* Mix.\n* Bake.\nServe."), 6) == 21
    """
    last, count = end, 0
    s = next_sentence(article, end)
    while s is not None and _ITEM.match(s.text) and s.end - end <= LIST_CHARS:
        last, count = s.end, count + 1
        s = next_sentence(article, s.end)
    return last if count >= 2 else end


def _follower_end(article: Article, start: int, end: int) -> int:
    """End of the next sentence when it leans on the one ending at `end` ("It resulted
    in ...", "Under this proposal ...", or a quotation continuing a speaker), or answers it
    (a heading, an FAQ's question, a line ending in a colon: then across a paragraph
    break); else `end`."""
    following = next_sentence(article, end)
    if following is None:
        return end
    if _announces(article.text[start:end]):
        listed = items_end(article, end) if article.text[start:end].rstrip().endswith(":") else end
        if listed > end:
            return listed  # "after its three steps:" and the steps
        return following.end if following.start - end < 800 else end
    gap = article.text[end:end + 3]
    if "\n\n" in gap:
        return end
    if _ANAPHOR.match(following.text) or following.text[:1] in "\"“":
        return following.end
    return end


_PROMISE = re.compile(r"\b(?:there are|there were|it has|this has) (?:several|many|a few|two|"
                      r"three|four|some|various) (?:possible |main |key )?(?:\w+)(?: [^.:;]{0,60})?"
                      r"\.$|^(?:yes|no|maybe|maybe not|not really|probably|probably not|it "
                      r"depends|not quite)\W*$", re.I)


def _explained_end(article: Article, end: int) -> int:
    """End of the next sentence when the quote ends on a bare answer or a promise that the
    next sentence explains ("A: Maybe not." / "There are several advantages." and then
    what they are), within 400 characters; else `end`.

    Example: for a.text == "Is it slow? Maybe not. It is 25% faster.", the quote
             a.text[12:_explained_end(a, 22)] == "Maybe not. It is 25% faster."
    """
    sentences = article_sentences(article)
    i = bisect_right(sentences, end - 1, key=lambda s: s.start) - 1
    if i < 0 or sentences[i].end != end:
        return end
    last = re.sub(r"^\W*(?:A|Answer)\s*:\s*", "", sentences[i].text.strip())
    if not _PROMISE.search(last) or i + 1 >= len(sentences) or \
            sentences[i + 1].start - end > 400:
        return end
    listed = items_end(article, end)  # "... several possible ways:" and the bullets
    return listed if listed > end else sentences[i + 1].end


def _quotation_end(article: Article, start: int, end: int) -> int:
    """When a quotation is open at `end` (counted from its paragraph's start: a speaker's
    words run on past the full stop), the end of the sentence that closes it, or of the
    closing mark itself, within the paragraph and 400 characters; else `end`. A quote
    never stops mid-quotation.

    Example: for a.text == 'He said: "They wait. They die." Later.', the quote
             a.text[0:_quotation_end(a, 0, 20)] == 'He said: "They wait. They die."'
    """
    paras = article_paragraphs(article)
    i = bisect_right(paras, start, key=lambda p: p[0]) - 1
    para_start, para_end = paras[i] if i >= 0 and start < paras[i][1] else (start, end)
    before = article.text[para_start:end]
    curly_open = before.count("“") > before.count("”")
    if not curly_open and before.count('"') % 2 == 0:
        return end
    limit = min(para_end, end + 400)
    close = article.text.find("”" if curly_open else '"', end, limit)
    if close < 0:
        return end
    for sentence in split_sentences(article.text[end:limit], base=end):
        if sentence.end > close:
            return sentence.end
    return close + 1


def candidates(hits: list[Hit], window: int = 0) -> list[Evidence]:
    """Every sentence of the retrieved chunks, grown to whole article sentences, once
    (chunks overlap), in retrieval order; then each chunk's `window` neighbouring sentences
    on either side (`core` False: they may enter the context, rag/retrieve/context.py, but do not
    rank their chunk). A sentence followed by one that leans on it carries that one in its
    quote: the answer is often split across both."""
    seen: set[tuple[str, int]] = set()
    out: list[Evidence] = []

    def take(hit: Hit, rank: int, idx: range | list[int], core: bool) -> None:
        sents = article_sentences(hit.article)
        text = hit.article.text
        for i in idx:
            s = sents[i]
            key = (hit.article.id, s.start)
            if key in seen or scored_form(text, sents, i) is None:
                continue  # a label ("The Eiffel Tower", "History") is no claim to quote
            heading = is_heading(text, s.start, s.end)
            above = sents[i - 1] if i else None
            under = above.text if above and is_heading(text, above.start, above.end) else ""
            seen.add(key)
            if heading:  # a headline is quoted alone, never with the sentence after it
                ext = s.end
            else:
                ext = _follower_end(hit.article, s.start, s.end)
                ext = _explained_end(hit.article, max(s.end, ext))
                ext = _quotation_end(hit.article, s.start, max(s.end, ext))
            out.append(Evidence(hit.article, hit.chunk.id, s.text, s.start, s.end, rank, ext,
                                core=core, heading=under))

    spans = [covering(article_sentences(h.article), h.chunk.start, h.chunk.end) for h in hits]
    for rank, (hit, idx) in enumerate(zip(hits, spans, strict=True)):
        take(hit, rank, idx, True)
    for rank, (hit, idx) in enumerate(zip(hits, spans, strict=True)):
        n = len(article_sentences(hit.article))
        take(hit, rank, [*range(idx.stop, min(n, idx.stop + window)),
                         *range(max(0, idx.start - window), idx.start)], False)
    return out


def source_bonus(question: str, article: Article) -> float:
    """Credit for the publisher the question names ("according to the Reuters report").

    Example: source_bonus("What did Reuters say?", reuters_article) == 0.1
    """
    if not article.source:
        return 0.0
    names = _source_names(article.source)
    q = _question_words(question)
    return 0.1 if names and all(n in q for n in names) else 0.0


@lru_cache(maxsize=4096)
def _source_names(source: str) -> tuple[str, ...]:
    return tuple(w for w in words(source) if len(w) > 2)


@lru_cache(maxsize=512)
def _question_words(question: str) -> frozenset[str]:
    return frozenset(words(question))


def score(question: str, query_vector: np.ndarray, evidence: list[Evidence],
          embedder: Embedder, weight: Callable[[str], float] | None,
          chunk_similarity: dict[str, float], embed_top: int = 16,
          stored: Callable[[list[str]], dict[tuple[str, int], np.ndarray]] | None = None
          ) -> list[Evidence]:
    """Score every candidate; best first. Meaning carries most weight, the question's own
    terms break ties and guard against on-topic sentences that answer something else.

    Two stages: all sentences are first scored with their chunk's similarity standing in
    for their own, then the best `embed_top` are scored on their own meaning. The rest
    keep their first-stage score, a notch lower. Their vectors come from `stored` (the
    sentence vectors written at ingest, rag/retrieve/sentences.py); only a sentence it
    lacks is embedded now. Every candidate with a stored vector also gets its own cosine
    (`own`, for the extractive answerer's scorer) at no embedding cost."""
    if not evidence:
        return []
    q_stems = stems(question)
    about_stems = q_stems - stems(" ".join(w for w in words(question) if w in KIND_NOUNS))
    # Only names rare in the store are checked: in a store of Gaza news, a sentence need
    # not say "Gaza" to be about it.
    if weight is not None:
        weight = lru_cache(maxsize=None)(weight)  # one idf lookup per term per question
    names = [rare for n in question_names(question)
             if (rare := frozenset(t for t in n if weight is None or weight(t) >= RARE_NAME_IDF))]
    sims = chunk_similarity
    have = stored(sorted({e.article.id for e in evidence})) if stored else {}
    for e in evidence:
        e.missing = missing_names(names, e.article, e.start, max(e.end, e.ext_end))
        e.lexical = coverage(q_stems, e.scored_text, weight)
        e.about = e.lexical if about_stems == q_stems else coverage(about_stems, e.scored_text,
                                                                    weight)
        e.semantic = e.chunk = sims.get(e.chunk_id, 0.0)
        vec = have.get((e.article.id, e.start))
        e.own = e.semantic if vec is None else float(vec @ query_vector)
        e.score = _combine(question, e) - 0.05
    top = sorted(evidence, key=lambda e: -e.score)[:embed_top]
    for e, vec in zip(top, sentence_vectors(top, embedder, have), strict=True):
        e.semantic = e.own = float(vec @ query_vector)
        e.score = _combine(question, e)
    return sorted(evidence, key=lambda e: -e.score)


def sentence_vectors(evidence: list[Evidence], embedder: Embedder,
                     have: dict[tuple[str, int], np.ndarray]) -> list[np.ndarray]:
    """Each sentence's vector: the stored one (`have`, by article id and start), else
    embedded now (in one call)."""
    found = [have.get((e.article.id, e.start)) for e in evidence]
    todo = [i for i, v in enumerate(found) if v is None]
    if todo:
        for i, vec in zip(todo, embedder.embed([evidence[i].scored_text for i in todo]),
                          strict=True):
            found[i] = vec
    return [v for v in found if v is not None]


DOER_BONUS = 0.2  # "who funded X": "The main team is funded by Microsoft" names the doer


def doer_bonus(question: str, text: str) -> float:
    """Credit for a sentence that names the doer of the act a who-question asks about
    (rag/answer/language/agency.py), however far its wording is from the question's.

    Example: doer_bonus("who funds the project", "The team is funded by Microsoft.") == 0.2
    """
    act = action(question)
    if act is None or not mentions(act, text):
        return 0.0
    return DOER_BONUS if match(analyse(question), text).agent else 0.0


def _combine(question: str, e: Evidence) -> float:
    doer = doer_bonus(question, e.text)  # a doer named by one word is still a name
    typed = answer_type_bonus(question, e.text)
    return (0.6 * e.semantic + 0.4 * e.lexical + (max(typed, 0.0) if doer else typed) + doer
            + source_bonus(question, e.article) - 0.01 * e.passage
            - MISSING_NAME_PENALTY * len(e.missing))


def rerank(hits: list[Hit], ranked: list[Evidence], k: int) -> list[Hit]:
    """Order retrieved chunks by their best evidence sentence (meaning and the question's
    terms at sentence level), keeping fused order for ties; the top k are the passages.

    Example: rerank([h1, h2], [sentence_of_h2_scoring_high], 1) == [h2]
    """
    best: dict[str, float] = {}
    for e in ranked:
        if e.core:
            best[e.chunk_id] = max(best.get(e.chunk_id, -1.0), e.score)
    order = sorted(range(len(hits)), key=lambda i: (-best.get(hits[i].chunk.id, -1.0), i))
    return [hits[i] for i in order[:k]]
