"""The fitted sentence scorer (rag/answer/extractive/scorer.py), its fitting (evals/fit.py) and
the fixed split of the development sets (evals/split.py): the shipped weights load, put the
sentence that answers first, and refuse what the articles do not answer."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evals.fit import Question, fit, fit_logistic, outcome
from evals.split import part_of, split_lines
from rag.answer.citations import REFUSAL
from rag.answer.extractive import scorer
from rag.service import RagService


@pytest.mark.parametrize("question, answer", [
    ("After the discussions in Cairo, where did Netanyahu direct the head of Mossad to go?",
     "Qatar"),
    ("Which U.S. envoy visited Beirut to mediate between the warring parties?", "Hochstein"),
])
def test_the_shipped_weights_rank_the_answering_sentence_first(
        service: RagService, question: str, answer: str) -> None:
    model = scorer.load()
    q, _, ranked = service.context(question)
    top = ranked[:scorer.LIMIT]
    x = scorer.features(q, top)
    p = model.probabilities(x)
    assert answer in top[int(np.argmax(p))].quote
    assert model.answers(x, p) >= model.threshold
    a = service.ask(question)
    assert not a.refused and answer in a.citations[0].quote


@pytest.mark.parametrize("question", [
    "What is the sea level of the Irish Channel?",  # nothing like it in the articles
    "Who was chosen as the new leader of Hamas after Sinwar's death?",  # on topic, not told
])
def test_the_calibrated_threshold_refuses_what_the_articles_do_not_answer(
        service: RagService, question: str) -> None:
    model = scorer.load()
    q, _, ranked = service.context(question)
    x = scorer.features(q, ranked[:scorer.LIMIT])
    assert model.answers(x, model.probabilities(x)) < model.threshold
    a = service.ask(question)
    assert a.refused and a.answer == REFUSAL and not a.citations


def test_weights_fitted_on_other_features_are_refused_with_what_to_do() -> None:
    data = json.loads(scorer.WEIGHTS.read_text(encoding="utf-8"))["model"]
    data["features"] = data["features"][:-1]
    with pytest.raises(ValueError, match="refit"):
        scorer.from_json(data)


def test_the_shipped_file_says_where_its_weights_came_from() -> None:
    shipped = json.loads(scorer.WEIGHTS.read_text(encoding="utf-8"))
    assert shipped["made_by"].startswith("python -m evals.fit")
    assert set(shipped["data"]["sets"]) == {"rtqa-2023", "squad2-rhine"}
    assert "pooled" in shipped["reporting"]


def test_logistic_fit_finds_the_direction_that_separates() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 3))
    y = (rng.random(2000) < 1 / (1 + np.exp(-(2 * x[:, 0] - x[:, 2])))).astype(float)
    w, _ = fit_logistic(x, y, l2=0.1)
    assert w[0] > 1.5 and w[2] < -0.6 and abs(w[1]) < 0.2


def _question(answerable: bool, answer_at: int | None, n: int = 6) -> Question:
    """Candidates whose first feature is high exactly where the answer is."""
    x = np.zeros((n, len(scorer.FEATURES)))
    x[:, 0] = np.linspace(0.1, 0.2, n)
    y = np.zeros(n)
    if answer_at is not None:
        x[answer_at, 0], y[answer_at] = 0.9, 1.0
    return Question("synthetic", "fit", answerable, x, y, np.full(n, 20.0))


def test_fitting_learns_to_answer_and_to_refuse() -> None:
    qs = [_question(True, i % 6) for i in range(40)] + [_question(False, None) for _ in range(20)]
    model = fit(qs, list(range(len(scorer.FEATURES))))
    result = outcome(qs, model)
    assert result.passed == 1.0 and result.refused_unanswerable == 1.0


def test_the_split_is_fixed_and_keeps_a_source_in_one_part() -> None:
    lines = [json.dumps({"id": f"q{i}", "sources": [f"doc{i // 3}.txt"]}) for i in range(300)]
    parts = split_lines(lines)
    assert parts == split_lines(list(reversed(lines))[::-1])
    assert 100 < len(parts["report"]) < 200
    for i in range(0, 300, 3):
        assert len({part_of(json.loads(lines[i + k])) for k in range(3)}) == 1
    assert part_of({"id": "x", "sources": []}) == part_of({"id": "x"})


def test_an_answer_quotes_only_sentences_close_to_the_best_in_probability() -> None:
    assert scorer.within(np.array([0.2, 0.9, 0.7, 0.68]), 0.75) == [1, 2, 3]
    assert scorer.within(np.array([0.2, 0.9, 0.6]), 0.75) == [1]  # 0.6 < 0.75 * 0.9
    assert scorer.within(np.zeros(0), 0.75) == []
