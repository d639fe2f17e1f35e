"""Evidence sentences: the retrieved chunks cut into sentences (with article offsets) and
scored against the question by meaning (embeddings) and by the question's own terms."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from rag.embeddings import Embedder
from rag.text import content_terms, split_sentences
from rag.types import Article, Hit

_NUMBER = re.compile(r"\b\d[\d,.]*\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|"
                     r"eleven|twelve|dozens?|hundreds?|thousands?|millions?)\b", re.I)
_MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
          r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")
_DATE = re.compile(rf"\b{_MONTH}\b|\b(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|"
                   rf"Sunday|yesterday|today|last week|this week)\b|\b(?:19|20)\d\d\b")
_NAME = re.compile(r"\b[A-Z][a-z]+(?:[ -][A-Z][a-z]+)+\b")


@dataclass
class Evidence:
    """A sentence of an article that may answer the question."""

    article: Article
    chunk_id: str
    text: str
    start: int
    end: int
    passage: int  # rank of the retrieved chunk it came from (0 = best)
    semantic: float = 0.0
    lexical: float = 0.0
    score: float = 0.0


@lru_cache(maxsize=1)
def _stem():  # type: ignore[no-untyped-def]
    import Stemmer

    return Stemmer.Stemmer("english").stemWord


def stems(text: str) -> set[str]:
    """Stemmed content terms.

    Example: stems("travelled to Beirut") == {"travel", "beirut"}
    """
    stem = _stem()
    return {stem(t) for t in content_terms(text)}


def coverage(question_stems: set[str], sentence: str) -> float:
    """Share of the question's stemmed terms found in the sentence (prefix matches count:
    "Iranian" ~ "Iran").

    Example: coverage({"hostag", "gaza"}, "Hostages in Gaza") == 1.0
    """
    if not question_stems:
        return 0.0
    have = stems(sentence)
    hit = sum(1 for q in question_stems
              if q in have or any(len(q) >= 4 and len(h) >= 4 and (h.startswith(q) or
                                                                     q.startswith(h))
                                  for h in have))
    return hit / len(question_stems)


def answer_type_bonus(question: str, sentence: str) -> float:
    """A little credit when the sentence holds the kind of thing asked for.

    Example: answer_type_bonus("How many died?", "Ten died.") > 0
    """
    q = question.lower()
    if re.search(r"\bhow (?:many|much)\b|\bwhat (?:number|percentage|share)\b|\bdeath toll\b",
                 q):
        return 0.08 if _NUMBER.search(sentence) else -0.05
    if re.search(r"\bwhen\b|\bwhat (?:date|day|year|time)\b", q):
        return 0.08 if _DATE.search(sentence) else -0.03
    if re.search(r"\bwho(?:m|se)?\b", q):
        return 0.05 if _NAME.search(sentence) else -0.03
    return 0.0


def candidates(hits: list[Hit]) -> list[Evidence]:
    """Every sentence of the retrieved chunks, once (chunks overlap), in retrieval order."""
    seen: set[tuple[str, int]] = set()
    out: list[Evidence] = []
    for rank, hit in enumerate(hits):
        for s in split_sentences(hit.chunk.text, base=hit.chunk.start):
            key = (hit.article.id, s.start)
            if key in seen or len(s.text) < 12:
                continue
            seen.add(key)
            out.append(Evidence(hit.article, hit.chunk.id, s.text, s.start, s.end, rank))
    return out


def score(question: str, query_vector: np.ndarray, evidence: list[Evidence],
          embedder: Embedder) -> list[Evidence]:
    """Score every candidate; best first. Meaning carries most weight, the question's own
    terms break ties and guard against on-topic sentences that answer something else."""
    if not evidence:
        return []
    vectors = embedder.embed([e.text for e in evidence])
    sims = vectors @ query_vector
    q_stems = stems(question)
    for e, sim in zip(evidence, sims, strict=True):
        e.semantic = float(sim)
        e.lexical = coverage(q_stems, e.text)
        e.score = (0.6 * e.semantic + 0.4 * e.lexical + answer_type_bonus(question, e.text)
                   - 0.01 * e.passage)
    return sorted(evidence, key=lambda e: -e.score)
