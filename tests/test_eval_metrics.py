"""Golden tests of the eval metrics on hand-made answers: each metric moves the way a team
reading the report expects when the answer gets worse."""

from __future__ import annotations

import pytest

from evals.metrics import (
    METRIC_HELP,
    METRICS,
    ItemScores,
    aggregate,
    answer_correctness,
    answer_pass_rate,
    article_hit_at_5,
    article_mrr_at_5,
    by_kind,
    context_tokens,
    evidence_found,
    evidence_hit_at_k,
    evidence_rank,
    evidence_recall,
    latency_p50_ms,
    latency_p95_ms,
    score_item,
)
from evals.sets import EvalItem
from rag.service import RagService
from rag.types import Answer, Article, Citation, Passage, Timings

GAZA = Article(id="a1", title="Gaza", source="AP", url="/corpus/gaza.txt",
               origin="/corpus/gaza.txt",
               text="Blinken met Sisi in Cairo. Four hostages were freed. 274 people died.")
LEBANON = Article(id="a2", title="Lebanon", source="Reuters",
                  url="https://news.example/world/lebanon-strikes",
                  origin="https://news.example/world/lebanon-strikes",
                  text="Strikes hit Beirut. At least 13 people were killed near the airport.")
ARTICLES: dict[str, Article | None] = {"a1": GAZA, "a2": LEBANON}

ITEM = EvalItem(line=1, id="q1", question="How many hostages were freed?", kind="single",
                answerable=True, answer="Four.", must_include=(r"\bfour\b", "hostage"),
                sources=("gaza.txt",), evidence=("Four hostages were freed",))
UNANSWERABLE = EvalItem(line=2, id="q2", question="Who won the 2030 World Cup?",
                        kind="unanswerable", answerable=False)


def cite(n: int, article: Article, quote: str, start: int | None = None) -> Citation:
    """A citation of `quote` at its real place in `article`, unless `start` says otherwise."""
    at = article.text.find(quote) if start is None else start
    return Citation(n=n, article_id=article.id, chunk_id=f"{article.id}-0", title=article.title,
                    source=article.source, url=article.url, quote=quote, start=at,
                    end=at + len(quote))


def passage(n: int, article: Article) -> Passage:
    return Passage(n=n, article_id=article.id, chunk_id=f"{article.id}-0",
                   title=article.title, score=1.0 / n, text=article.text, url=article.url)


def answer(text: str, citations: list[Citation], *, refused: bool = False,
           passages: list[Passage] | None = None, total_ms: float = 100.0) -> Answer:
    return Answer(question="q", standalone_question="q", answer=text, refused=refused,
                  citations=citations, backend="extractive",
                  passages=passages or [passage(1, GAZA), passage(2, LEBANON)],
                  timings_ms=Timings(total=total_ms))


GOOD = answer("Four hostages were freed. [1]", [cite(1, GAZA, "Four hostages were freed.")])
REFUSED = answer("The articles do not contain an answer to this question.", [], refused=True)


def test_a_faithful_answer_scores_full_marks() -> None:
    s = score_item(ITEM, GOOD, ARTICLES)
    assert (s.article_hit_at_5, s.article_mrr_at_5) == (1.0, 1.0)
    assert (s.answer_correctness, s.answer_pass_rate) == (1.0, 1.0)
    assert (s.quote_validity, s.citation_precision, s.citation_recall) == (1.0, 1.0, 1.0)
    assert s.refusal_accuracy == 1.0
    assert s.support is None  # no judge: null, never a made-up 0 or 1


def test_a_fabricated_quote_lowers_quote_validity() -> None:
    fabricated = cite(2, GAZA, "Five hostages were freed.", start=27)  # not what the text says
    s = score_item(ITEM, answer("Four hostages [1], five [2].",
                                [cite(1, GAZA, "Four hostages were freed."), fabricated]),
                   ARTICLES)
    assert s.quote_validity == 0.5


@pytest.mark.parametrize("bad", [
    cite(1, GAZA, "Four hostages were freed.", start=0),          # right words, wrong place
    cite(1, GAZA, "Four hostages were freed.").model_copy(update={"article_id": "gone"}),
    cite(1, GAZA, "Four hostages were freed.").model_copy(update={"end": 10_000}),
])
def test_a_quote_not_at_its_offsets_in_its_article_is_invalid(bad: Citation) -> None:
    assert score_item(ITEM, answer("x [1]", [bad]), ARTICLES).quote_validity == 0.0


def test_overall_quote_validity_is_the_share_of_all_quotes() -> None:
    one_bad_of_four = score_item(ITEM, answer("x", [
        cite(1, GAZA, "Blinken met Sisi in Cairo."), cite(2, GAZA, "Four hostages were freed."),
        cite(3, GAZA, "274 people died."), cite(4, GAZA, "Nobody died.", start=0)]), ARTICLES)
    all_good = score_item(ITEM, GOOD, ARTICLES)
    assert aggregate([one_bad_of_four, all_good])["quote_validity"] == 0.8  # 4 of 5 quotes


def test_a_citation_to_a_non_gold_article_lowers_citation_precision() -> None:
    off_topic = cite(2, LEBANON, "Strikes hit Beirut.")
    s = score_item(ITEM, answer("Four [1]. Beirut [2].",
                                [cite(1, GAZA, "Four hostages were freed."), off_topic]),
                   ARTICLES)
    assert s.citation_precision == 0.5
    assert s.citation_recall == 1.0  # the gold source is still cited


def test_a_non_gold_article_quoting_gold_evidence_counts_as_precise() -> None:
    copy = Article(id="a3", title="Copy", source="X", url="/corpus/copy.txt",
                   origin="/corpus/copy.txt", text="Wire: “Four  hostages were freed” today.")
    quote = "“Four  hostages were freed” today."
    s = score_item(ITEM, answer("Four [1].", [cite(1, copy, quote)]), {**ARTICLES, "a3": copy})
    assert s.citation_precision == 1.0
    assert s.citation_recall == 0.0  # but the gold article itself was not cited


def test_gold_sources_match_by_origin_file_name_and_url_segment() -> None:
    item = EvalItem(line=1, id="q", question="q", kind="multi", answerable=True,
                    sources=("gaza.txt", "lebanon-strikes", "missing.txt"))
    s = score_item(item, answer("x", [cite(1, GAZA, "274 people died."),
                                      cite(2, LEBANON, "Strikes hit Beirut.")]), ARTICLES)
    assert s.citation_precision == 1.0
    assert s.citation_recall == pytest.approx(2 / 3)


def test_a_refused_answerable_question_lowers_refusal_accuracy() -> None:
    refused = score_item(ITEM, REFUSED, ARTICLES)
    assert refused.refusal_accuracy == 0.0
    assert refused.answer_pass_rate == 0.0 and refused.citation_recall == 0.0
    assert refused.citation_precision is None  # nothing cited: precision does not apply
    right_refusal = score_item(UNANSWERABLE, REFUSED, ARTICLES)
    wrong_answer = score_item(UNANSWERABLE, GOOD, ARTICLES)
    assert (right_refusal.refusal_accuracy, wrong_answer.refusal_accuracy) == (1.0, 0.0)
    good = score_item(ITEM, GOOD, ARTICLES)
    overall = aggregate([good, refused, right_refusal, wrong_answer])
    assert overall["refusal_accuracy"] == 0.5


def test_unanswerable_questions_do_not_count_in_retrieval_or_citation_metrics() -> None:
    s = score_item(UNANSWERABLE, GOOD, ARTICLES)
    assert s.article_hit_at_5 is None and s.citation_precision is None
    assert s.answer_correctness is None
    metrics = by_kind([("unanswerable", s)])["unanswerable"]
    assert metrics["article_hit_at_5"] is None and metrics["citation_recall"] is None
    assert metrics["support"] is None


G, X = {"gold.txt"}, {"other.txt"}


@pytest.mark.parametrize(("ranked", "hit", "mrr"), [
    ([G, X, X], 1.0, 1.0),
    ([X, X, G], 1.0, 1 / 3),
    ([X, X, X, X, G], 1.0, 0.2),
    ([X, X, X, X, X, G], 0.0, 0.0),   # the 6th passage is outside the top 5
    ([X, G | X, G], 1.0, 0.5),        # the first gold passage counts, once
    ([], 0.0, 0.0),
])
def test_hit_and_mrr_at_5_on_ranked_passages(ranked: list[set[str]], hit: float,
                                             mrr: float) -> None:
    assert article_hit_at_5(ranked, {"gold.txt"}) == hit
    assert article_mrr_at_5(ranked, {"gold.txt"}) == pytest.approx(mrr)


def test_retrieval_is_scored_on_the_articles_behind_the_passages() -> None:
    late = answer("x", [], passages=[passage(1, LEBANON), passage(2, LEBANON), passage(3, GAZA)])
    s = score_item(ITEM, late, ARTICLES)
    assert (s.article_hit_at_5, s.article_mrr_at_5) == (1.0, pytest.approx(1 / 3))


@pytest.mark.parametrize(("text", "correctness", "passed"), [
    ("Four hostages were freed.", 1.0, 1.0),
    ("FOUR HOSTAGES", 1.0, 1.0),             # case does not matter
    ("Fourteen hostages", 0.5, 0.0),          # \bfour\b is a word, not a prefix
    ("Nobody knows.", 0.0, 0.0),
])
def test_answer_correctness_and_pass(text: str, correctness: float, passed: float) -> None:
    assert answer_correctness(text, ITEM.must_include) == correctness
    assert answer_pass_rate(text, ITEM.must_include) == passed
    assert answer_correctness(text, ()) is None


def test_latency_percentiles() -> None:
    times = [float(ms) for ms in range(100, 2100, 100)]  # 100 .. 2000 ms
    assert latency_p50_ms(times) == 1050.0
    assert latency_p95_ms(times) == 1905.0
    scores = [score_item(ITEM, answer("x", [], total_ms=t), ARTICLES) for t in times]
    overall = aggregate(scores)
    assert (overall["latency_p50_ms"], overall["latency_p95_ms"]) == (1050.0, 1905.0)


def test_aggregate_reports_every_metric_by_name_and_null_as_none() -> None:
    overall = aggregate([score_item(UNANSWERABLE, REFUSED, ARTICLES)])
    assert list(overall) == list(METRICS)
    assert overall["refusal_accuracy"] == 1.0
    assert overall["support"] is None and overall["quote_validity"] is None
    assert overall["answer_pass_rate"] is None


def test_by_kind_groups_questions_in_the_set_formats_order() -> None:
    good = score_item(ITEM, GOOD, ARTICLES)
    bad: ItemScores = score_item(ITEM, REFUSED, ARTICLES)
    groups = by_kind([("multi", bad), ("single", good), ("single", bad)])
    assert list(groups) == ["single", "multi"]
    assert groups["single"]["answer_pass_rate"] == 0.5
    assert groups["multi"]["answer_pass_rate"] == 0.0


def test_scores_of_a_real_answer_fall_when_its_quote_is_tampered(service: RagService) -> None:
    """The real service's quotes hold against the real article text; shifting one by a
    character is caught."""
    real = service.ask("How many hostages did the Israeli rescue operation free?")
    articles = {c.article_id: service.article(c.article_id) for c in real.citations}
    assert real.citations
    item = EvalItem(line=1, id="r", question=real.question, kind="single", answerable=True,
                    sources=("002_87a8e70946c86064.txt",))
    assert score_item(item, real, articles).quote_validity == 1.0
    first = real.citations[0]
    shifted = first.model_copy(update={"start": first.start + 1, "end": first.end + 1})
    tampered = real.model_copy(update={"citations": [shifted, *real.citations[1:]]})
    n = len(real.citations)
    assert score_item(item, tampered, articles).quote_validity == pytest.approx((n - 1) / n)


# --- passage level: is the evidence in what the answerer saw? --------------------------------
FREED = "Four hostages were freed."
DIED = "274 people died."


@pytest.mark.parametrize(("evidence", "texts", "found"), [
    ([FREED], ["Blinken met Sisi. Four hostages were freed. 274 people died."], [True]),
    # quote marks, dashes, line breaks, runs of spaces and case are folded on both sides
    (["“Four  hostages” — freed"], ['He said: "four\nhostages" - freed.'], [True]),
    (["Four hostages were freed"], ["Four hostages were"], [False]),       # cut short
    ([FREED, DIED], ["x. Four hostages were", " freed. 274 people died."], [False, True]),
    ([FREED], [], [False]),
])
def test_evidence_is_found_inside_one_passage(evidence: list[str], texts: list[str],
                                              found: list[bool]) -> None:
    assert evidence_found(evidence, texts) == found


@pytest.mark.parametrize(("evidence", "handed", "recall"), [
    ([FREED, DIED], [GAZA.text], 1.0),
    ([FREED, DIED], ["Four hostages were freed. Strikes hit Beirut."], 0.5),
    ([FREED, DIED], [LEBANON.text], 0.0),
    ([FREED], [LEBANON.text, GAZA.text], 1.0),  # any handed passage counts
    ([], [GAZA.text], None),                    # no gold evidence: does not apply
    (["  "], [GAZA.text], None),
])
def test_evidence_recall_is_the_share_of_gold_quotes_handed_over(
        evidence: list[str], handed: list[str], recall: float | None) -> None:
    assert evidence_recall(evidence, handed) == recall


@pytest.mark.parametrize(("ranked", "rank", "hits"), [
    ([GAZA.text, LEBANON.text], 1, (1.0, 1.0, 1.0, 1.0)),
    ([LEBANON.text] * 2 + [GAZA.text], 3, (0.0, 1.0, 1.0, 1.0)),
    ([LEBANON.text] * 4 + [GAZA.text], 5, (0.0, 0.0, 1.0, 1.0)),
    ([LEBANON.text] * 9 + [GAZA.text], 10, (0.0, 0.0, 0.0, 1.0)),
    ([LEBANON.text] * 10 + [GAZA.text], 11, (0.0, 0.0, 0.0, 0.0)),  # past the 10th
    ([LEBANON.text], None, (0.0, 0.0, 0.0, 0.0)),
])
def test_evidence_hit_at_k_reads_the_rank_of_the_first_passage_with_evidence(
        ranked: list[str], rank: int | None, hits: tuple[float, ...]) -> None:
    assert evidence_rank([FREED, DIED], ranked) == rank
    assert tuple(evidence_hit_at_k(rank, k) for k in (1, 3, 5, 10)) == hits
    assert evidence_hit_at_k(rank, 10, has_evidence=False) is None


@pytest.mark.parametrize(("texts", "tokens"), [
    ([], 0), (["hello world"], 2), (["hello world", "hello"], 3),
])
def test_context_tokens_counts_tiktoken_tokens_of_the_handed_text(texts: list[str],
                                                                  tokens: int) -> None:
    assert context_tokens(texts) == tokens


def test_evidence_metrics_of_an_answer_use_handed_and_ranked_passages() -> None:
    """Recall reads what the answerer was handed; hit@k reads the deeper ranking."""
    handed = answer("x", [], passages=[passage(1, LEBANON)])
    deeper = [LEBANON.text, LEBANON.text, GAZA.text]
    s = score_item(ITEM, handed, ARTICLES, ranked=deeper)
    assert s.evidence_recall == 0.0  # the evidence was ranked 3rd but not handed over
    assert (s.evidence_hit_at_1, s.evidence_hit_at_3, s.evidence_hit_at_10) == (0.0, 1.0, 1.0)
    assert s.evidence_rank == 3
    assert s.context_tokens == context_tokens([LEBANON.text]) > 0
    full = score_item(ITEM, GOOD, ARTICLES)  # without a ranking, the handed passages stand in
    assert (full.evidence_recall, full.evidence_hit_at_1) == (1.0, 1.0)
    none = score_item(UNANSWERABLE, GOOD, ARTICLES, ranked=deeper)
    assert none.evidence_recall is None and none.evidence_hit_at_10 is None
    assert none.context_tokens > 0  # what was handed over is counted for every question
    overall = aggregate([s, full, none])
    assert overall["evidence_recall"] == 0.5 and overall["evidence_hit_at_3"] == 1.0
    assert overall["context_tokens"] == round((s.context_tokens + full.context_tokens
                                               + none.context_tokens) / 3, 1)


def test_every_metric_is_defined_in_one_line() -> None:
    assert list(METRIC_HELP) == list(METRICS)
    assert all(h and "\n" not in h and len(h) < 200 for h in METRIC_HELP.values())
    assert "article-level" in METRIC_HELP["article_hit_at_5"]
    assert "passage-level" in METRIC_HELP["evidence_hit_at_10"]
