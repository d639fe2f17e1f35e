"""Metrics for evidence-backed answers: pure functions of an eval item, the Answer the service
gave and the articles it points at. Nothing here calls the store or a model.

Per question a metric is a number in [0, 1], or None where it does not apply (retrieval and
citation metrics on unanswerable questions, answer correctness without patterns, `support`
without a judge); `context_tokens` is a count. Overall and per-kind values are means over
the questions where it applies, except `quote_validity`, which is the share of all quotes
shown (a question with ten quotes weighs ten times one with one), and the latency
percentiles.

Retrieval is measured at two levels. `article_*` asks whether a passage from a gold article
was ranked (on a corpus of a few articles that is near 1 by construction); `evidence_*`
asks whether the passage holding a gold evidence quote was: `evidence_hit_at_k` over the
ranked passages (deeper than the answerer is handed), `evidence_recall` over exactly what
the answerer was handed (`Answer.passages`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass

from evals.sets import KINDS, EvalItem, source_name
from rag.text import normalize
from rag.tokens import tiktoken_len
from rag.types import Answer, Article, Citation

K = 5  # article-level metrics look at the top K passages, as their names say
EVIDENCE_KS = (1, 3, 5, 10)  # depths of evidence_hit_at_k
RANK_DEPTH = max(EVIDENCE_KS)  # passages the runner ranks for them

# The report's metric keys, in the order tables and charts show them, each defined in one
# line (report.md prints these definitions under its table).
METRIC_HELP: dict[str, str] = {
    "article_hit_at_5": "article-level: 1 when a passage from a gold source article is among "
                        "the top 5 handed to the answerer",
    "article_mrr_at_5": "article-level: 1/rank of the first of the top 5 passages from a gold "
                        "source article (0 when none is)",
    **{f"evidence_hit_at_{k}": f"passage-level: 1 when a gold evidence quote lies inside one "
                               f"of the top {k} ranked passages" for k in EVIDENCE_KS},
    "evidence_recall": "share of a question's gold evidence quotes found inside the passages "
                       "handed to the answerer (whitespace, quote marks and case folded)",
    "context_tokens": "tiktoken (cl100k) count of the passages' text handed to the answerer; "
                      "mean per question",
    "answer_correctness": "share of a question's must_include patterns found in the answer "
                          "(partial credit)",
    "answer_pass_rate": "1 when every must_include pattern is in the answer, else 0: the "
                        "share of questions answered in full",
    "quote_validity": "share of all quotes shown that are exactly article_text[start:end] "
                      "(below 1 is a bug)",
    "citation_precision": "share of an answer's citations that point at a gold source or "
                          "quote gold evidence",
    "citation_recall": "share of a question's gold source articles that some citation points "
                       "at",
    "refusal_accuracy": "1 when an unanswerable question is refused or an answerable one "
                        "is answered",
    "latency_p50_ms": "median end-to-end answer time in milliseconds",
    "latency_p95_ms": "95th-percentile end-to-end answer time in milliseconds",
    "support": "share of cited sentences a judge finds entailed by their quotes (null "
               "without a judge)",
}
METRICS = tuple(METRIC_HELP)
# Reports written before the article/passage split named these metrics so; reading an old
# report (rag eval --compare, --baseline) renames them.
RENAMED = {"retrieval_hit_at_5": "article_hit_at_5", "retrieval_mrr_at_5": "article_mrr_at_5"}
# Metrics where lower is better (compare reports these deltas the other way round).
LOWER_IS_BETTER = frozenset({"latency_p50_ms", "latency_p95_ms"})
# Sizes, neither better nor worse (compare marks no direction).
COUNTS = frozenset({"context_tokens"})
# The metrics on a 0..1 scale, higher better: what charts draw.
UNIT_METRICS = tuple(m for m in METRICS if m not in LOWER_IS_BETTER | COUNTS)
_RATIOS = tuple(m for m in UNIT_METRICS if m != "quote_validity")


# --- retrieval --------------------------------------------------------------------------------
def article_hit_at_5(ranked: Sequence[Collection[str]], gold: Collection[str]) -> float | None:
    """1.0 when a gold source is among the articles of the top 5 passages, else 0.0; None
    without gold sources. `ranked` holds each passage's article names, best first.

    Example: article_hit_at_5([{"b.txt"}, {"a.txt"}], {"a.txt"}) == 1.0
    """
    if not gold:
        return None
    return 1.0 if any(set(names) & set(gold) for names in ranked[:K]) else 0.0


def article_mrr_at_5(ranked: Sequence[Collection[str]], gold: Collection[str]) -> float | None:
    """Reciprocal rank of the first passage (of the top 5) from a gold source; 0.0 when none
    is; None without gold sources.

    Example: article_mrr_at_5([{"b.txt"}, {"c.txt"}, {"a.txt"}], {"a.txt"}) == 1 / 3
    """
    if not gold:
        return None
    for rank, names in enumerate(ranked[:K], 1):
        if set(names) & set(gold):
            return 1.0 / rank
    return 0.0


def evidence_found(evidence: Sequence[str], texts: Sequence[str]) -> list[bool]:
    """For each gold evidence quote, whether it lies inside one of the passage texts, with
    whitespace, quote marks, dashes and case folded (a quote split across two passages is
    not inside either).

    Example: evidence_found(["“Four  hostages”", "274"], ['"four hostages" freed']) == [True, False]
    """
    folded = [_fold(t) for t in texts]
    return [any(_fold(e) in t for t in folded) for e in evidence]


def evidence_recall(evidence: Sequence[str], handed: Sequence[str]) -> float | None:
    """Share of the gold evidence quotes found inside the passages handed to the answerer;
    None without evidence.

    Example: evidence_recall(["freed", "died"], ["Four hostages were freed."]) == 0.5
    """
    evidence = [e for e in evidence if _fold(e)]
    if not evidence:
        return None
    found = evidence_found(evidence, handed)
    return sum(found) / len(found)


def evidence_rank(evidence: Sequence[str], ranked: Sequence[str]) -> int | None:
    """1-based rank of the first ranked passage holding a gold evidence quote; None when
    none does (or without evidence).

    Example: evidence_rank(["freed"], ["Strikes hit Beirut.", "Four were freed."]) == 2
    """
    evidence = [e for e in evidence if _fold(e)]
    for rank, text in enumerate(ranked, 1):
        if any(evidence_found(evidence, [text])):
            return rank
    return None


def evidence_hit_at_k(rank: int | None, k: int, has_evidence: bool = True) -> float | None:
    """1.0 when the first passage holding gold evidence ranks within the top k, else 0.0;
    None for a question without evidence. `rank` is evidence_rank()'s.

    Example: evidence_hit_at_k(3, 1) == 0.0 and evidence_hit_at_k(3, 5) == 1.0
    """
    if not has_evidence:
        return None
    return float(rank is not None and rank <= k)


def context_tokens(texts: Sequence[str]) -> int:
    """tiktoken (cl100k) tokens of what the answerer was handed: the passages' text.

    Example: context_tokens(["hello world", "hello"]) == 3
    """
    return sum(tiktoken_len(t) for t in texts)


# --- the answer text --------------------------------------------------------------------------
def answer_correctness(answer: str, patterns: Sequence[str]) -> float | None:
    """Share of the `must_include` patterns (case-insensitive regexes) found in the answer;
    None when there are none.

    Example: answer_correctness("Netanyahu, in Cairo", ["netanyahu", "qatar"]) == 0.5
    """
    if not patterns:
        return None
    found = sum(1 for p in patterns if re.search(p, answer, re.IGNORECASE))
    return found / len(patterns)


def answer_pass_rate(answer: str, patterns: Sequence[str]) -> float | None:
    """1.0 when every `must_include` pattern is found in the answer, else 0.0; None when
    there are none. Averaged over questions this is the share of questions passed.

    Example: answer_pass_rate("his 11th trip", [r"11th|eleventh"]) == 1.0
    """
    score = answer_correctness(answer, patterns)
    return None if score is None else float(score == 1.0)


# --- citations --------------------------------------------------------------------------------
def quote_is_valid(citation: Citation, article_text: str | None) -> bool:
    """The product's invariant: the quote is exactly the cited article's text at its offsets.

    Example: quote_is_valid(Citation(quote="said", start=3, end=7, ...), "He said no") is True
    """
    if article_text is None or not 0 <= citation.start < citation.end <= len(article_text):
        return False
    return article_text[citation.start:citation.end] == citation.quote


def quote_validity(citations: Sequence[Citation],
                   article_texts: Mapping[str, str | None]) -> float | None:
    """Share of the quotes found verbatim at their offsets in their article's real text
    (`article_texts` by article id; a missing article makes its quotes invalid); None
    when nothing is quoted. Anything below 1.0 is a bug.

    Example: quote_validity([c_ok, c_fabricated], {"a1": text}) == 0.5
    """
    if not citations:
        return None
    valid = sum(quote_is_valid(c, article_texts.get(c.article_id)) for c in citations)
    return valid / len(citations)


def citation_precision(cited: Sequence[tuple[Collection[str], str]], gold: Collection[str],
                       evidence: Sequence[str]) -> float | None:
    """Share of citations whose article is a gold source or whose quote contains a gold
    evidence quote (compared with quote marks, dashes, whitespace and case folded). `cited`
    holds each citation's (article names, quote). None without citations or gold sources.

    Example: citation_precision([({"a.txt"}, "x"), ({"z.txt"}, "y")], {"a.txt"}, []) == 0.5
    """
    if not cited or not gold:
        return None
    folded = [_fold(e) for e in evidence if _fold(e)]
    good = sum(1 for names, quote in cited
               if set(names) & set(gold) or any(e in _fold(quote) for e in folded))
    return good / len(cited)


def citation_recall(cited_names: Collection[str], gold: Collection[str]) -> float | None:
    """Share of the gold sources that at least one citation points at; None without gold
    sources.

    Example: citation_recall({"a.txt", "z.txt"}, {"a.txt", "b.txt"}) == 0.5
    """
    if not gold:
        return None
    return len(set(gold) & set(cited_names)) / len(set(gold))


def _fold(text: str) -> str:
    return normalize(text).casefold()


# --- refusals and latency ---------------------------------------------------------------------
def refusal_accuracy(refused: bool, answerable: bool) -> float:
    """1.0 when an unanswerable question was refused or an answerable one was not.

    Example: refusal_accuracy(refused=True, answerable=True) == 0.0
    """
    return float(refused != answerable)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation between closest ranks, as
    numpy's default; None for no values.

    Example: percentile([10, 20, 30, 40], 50) == 25.0
    """
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def latency_p50_ms(latencies: Sequence[float]) -> float | None:
    """Median end-to-end answer time in milliseconds.

    Example: latency_p50_ms([100, 300, 200]) == 200.0
    """
    value = percentile(latencies, 50)
    return None if value is None else round(value, 1)


def latency_p95_ms(latencies: Sequence[float]) -> float | None:
    """95th-percentile end-to-end answer time in milliseconds.

    Example: latency_p95_ms([100.0] * 19 + [500.0]) == 120.0
    """
    value = percentile(latencies, 95)
    return None if value is None else round(value, 1)


# --- one question, and many -------------------------------------------------------------------
@dataclass(frozen=True)
class ItemScores:
    """Every metric for one question. `quotes` weighs `quote_validity` when aggregating;
    `evidence_rank` is the rank of the first passage holding gold evidence (None: not in
    the ranked passages); `support` (the share of cited sentences a judge finds entailed by
    their quotes, see evals/judge.py) stays None without a judge or without cited
    sentences."""

    article_hit_at_5: float | None
    article_mrr_at_5: float | None
    evidence_hit_at_1: float | None
    evidence_hit_at_3: float | None
    evidence_hit_at_5: float | None
    evidence_hit_at_10: float | None
    evidence_recall: float | None
    context_tokens: int
    answer_correctness: float | None
    answer_pass_rate: float | None
    quote_validity: float | None
    citation_precision: float | None
    citation_recall: float | None
    refusal_accuracy: float
    latency_ms: float
    quotes: int
    evidence_rank: int | None = None
    support: float | None = None

    def to_json(self) -> dict[str, float | int | None]:
        return asdict(self)


def article_names(article: Article | None, url: str = "") -> set[str]:
    """The file names an article answers to: its origin's and its URL's last segment
    (`url` stands in when the article is unknown).

    Example: article_names(None, "https://x.org/news/a.html") == {"a.html"}
    """
    wheres = [article.origin, article.url] if article else [url]
    return {n for n in map(source_name, wheres) if n}


def score_item(item: EvalItem, answer: Answer, articles: Mapping[str, Article | None],
               ranked: Sequence[str] | None = None) -> ItemScores:
    """All metrics for one question, from the Answer, the articles (by id) that its
    passages and citations point at, and the texts of the ranked passages, best first
    (RANK_DEPTH of them; without them, the passages the answerer was handed stand in).

    Example: score_item(item, refused_answer, {}).refusal_accuracy == 0.0  # answerable item
    """
    def names(article_id: str, url: str) -> set[str]:
        return article_names(articles.get(article_id), url)

    gold = set(item.sources) if item.answerable else set()
    ranked_names = [names(p.article_id, p.url) for p in answer.passages]
    cited = [(names(c.article_id, c.url), c.quote) for c in answer.citations]
    texts = {aid: (a.text if a else None) for aid, a in articles.items()}
    handed = [p.text for p in answer.passages]
    evidence = item.evidence if item.answerable else ()
    has_evidence = any(_fold(e) for e in evidence)
    rank = evidence_rank(evidence, handed if ranked is None else ranked)
    hits = {f"evidence_hit_at_{k}": evidence_hit_at_k(rank, k, has_evidence)
            for k in EVIDENCE_KS}
    return ItemScores(
        article_hit_at_5=article_hit_at_5(ranked_names, gold),
        article_mrr_at_5=article_mrr_at_5(ranked_names, gold),
        evidence_hit_at_1=hits["evidence_hit_at_1"],
        evidence_hit_at_3=hits["evidence_hit_at_3"],
        evidence_hit_at_5=hits["evidence_hit_at_5"],
        evidence_hit_at_10=hits["evidence_hit_at_10"],
        evidence_recall=evidence_recall(evidence, handed),
        context_tokens=context_tokens(handed),
        answer_correctness=answer_correctness(answer.answer, item.must_include),
        answer_pass_rate=answer_pass_rate(answer.answer, item.must_include),
        quote_validity=quote_validity(answer.citations, texts),
        citation_precision=citation_precision(cited, gold, item.evidence),
        citation_recall=citation_recall(set().union(*(n for n, _ in cited)), gold),
        refusal_accuracy=refusal_accuracy(answer.refused, item.answerable),
        latency_ms=answer.timings_ms.total,
        quotes=len(answer.citations),
        evidence_rank=rank if has_evidence else None,
    )


def aggregate(scores: Sequence[ItemScores]) -> dict[str, float | None]:
    """The report's metrics over many questions, keyed and ordered as METRICS; a metric
    that applies to none of them is None (reported as null, never as 0).

    Example: aggregate([s1, s2])["refusal_accuracy"] == mean of the two
    """
    out: dict[str, float | None] = {}
    for name in _RATIOS:
        out[name] = _mean([getattr(s, name) for s in scores])
    weighted = [(s.quote_validity, s.quotes) for s in scores if s.quote_validity is not None]
    total = sum(n for _, n in weighted)
    out["quote_validity"] = (round(sum(v * n for v, n in weighted) / total, 4)
                             if total else None)
    out["context_tokens"] = (round(sum(s.context_tokens for s in scores) / len(scores), 1)
                             if scores else None)
    latencies = [s.latency_ms for s in scores]
    out["latency_p50_ms"] = latency_p50_ms(latencies)
    out["latency_p95_ms"] = latency_p95_ms(latencies)
    return {name: out[name] for name in METRICS}


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(sum(present) / len(present), 4) if present else None


def by_kind(scored: Sequence[tuple[str, ItemScores]]) -> dict[str, dict[str, float | None]]:
    """aggregate() per question kind, kinds in the set format's order (then any others).

    Example: list(by_kind([("multi", s1), ("single", s2)])) == ["single", "multi"]
    """
    kinds = sorted({k for k, _ in scored},
                   key=lambda k: (KINDS.index(k) if k in KINDS else len(KINDS), k))
    return {k: aggregate([s for kind, s in scored if kind == k]) for k in kinds}
