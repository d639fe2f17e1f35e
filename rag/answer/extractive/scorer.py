"""The fitted sentence scorer: the probability that a candidate sentence answers the
question, from features the read path already computes, by a logistic model whose weights
`python -m evals.fit` fits on the fitting parts of the external development sets and writes
to `scorer.json` beside this file (with the figures it reached and where its data came from).

At run time this is numpy: features for the best LIMIT candidates, one dot product.
"""

from __future__ import annotations

import hashlib
import json
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from rag.answer.evidence import (
    Evidence,
    answer_type_bonus,
    doer_bonus,
    is_factoid,
    present,
    source_bonus,
    stems,
)
from rag.answer.language.answer_match import HOLDS, match
from rag.answer.language.question import Ask, analyse
from rag.answer.language.specifics import compass_clash, missing_figures, pinned_terms
from rag.retrieve.context import article_sentences
from rag.text import words

WEIGHTS = Path(__file__).with_name("scorer.json")
LIMIT = 40  # candidates scored, by the evidence step's order (rag/answer/evidence.py)
TYPED = frozenset({"quantity", "person", "organisation", "place", "date", "said", "list",
                   "reason"})

# Each feature's family: the ablation (evals/fit.py) refits without one family at a time.
FAMILIES: dict[str, tuple[str, ...]] = {
    "meaning": ("own", "own_gap", "own_rank", "chunk", "best_own"),
    "terms": ("lexical", "about", "lexical_gap", "best_lexical"),
    "evidence_order": ("order",),
    "place": ("passage", "core", "position", "lead", "length", "extended", "under_heading",
              "headline"),
    "answer_type": ("type_bonus",),
    "typed_fit": ("typed_holds", "typed_lacks"),
    "specifics": ("missing_names", "missing_figures", "compass_clash", "unpinned"),
    "doer": ("doer",),
    "source": ("source",),
    "question": ("factoid", "asks_back"),
}
FEATURES: tuple[str, ...] = tuple(f for names in FAMILIES.values() for f in names)


def features(question: str, ranked: list[Evidence]) -> np.ndarray:
    """One row of FEATURES per candidate of `ranked` (at most LIMIT, in its order).

    Example: features("Who won?", ranked).shape == (min(len(ranked), LIMIT), len(FEATURES))
    """
    top = ranked[:LIMIT]
    if not top:
        return np.zeros((0, len(FEATURES)))
    ask = analyse(question)
    typed = ask.type in TYPED
    factoid = float(is_factoid(question))
    best_own = max(e.own for e in top)
    best_lex = max(e.lexical for e in top)
    by_own = {id(e): i for i, e in enumerate(sorted(top, key=lambda e: -e.own))}
    context_lacks = float(len(unpinned(question, ask, top)))
    rows = []
    for i, e in enumerate(top):
        quote = e.quote
        holds = match(ask, quote).score >= HOLDS if typed else False
        sentences = article_sentences(e.article)
        index = bisect_right(sentences, e.start, key=lambda s: s.start) - 1
        value = {
            "own": e.own, "own_gap": e.own - best_own, "own_rank": np.log1p(by_own[id(e)]),
            "chunk": e.chunk, "best_own": best_own,
            "lexical": e.lexical, "about": e.about, "lexical_gap": e.lexical - best_lex,
            "best_lexical": best_lex, "order": np.log1p(i),
            "passage": np.log1p(e.passage), "core": float(e.core),
            "position": np.log1p(max(index, 0)), "lead": float(index <= 0),
            "length": np.log1p(len(words(quote))), "extended": float(e.ext_end > e.end),
            "under_heading": float(bool(e.heading)),
            "headline": float("\n" in e.article.text[e.end:e.end + 2] and
                              quote.rstrip()[-1:] not in ".!?\"'”’)"),
            "type_bonus": answer_type_bonus(question, e.text),
            "typed_holds": float(typed and holds), "typed_lacks": float(typed and not holds),
            "missing_names": float(len(e.missing)),
            "missing_figures": float(bool(missing_figures(question, quote))),
            "compass_clash": float(compass_clash(question, quote)), "unpinned": context_lacks,
            "doer": float(doer_bonus(question, e.text) > 0),
            "source": float(source_bonus(question, e.article) > 0),
            "factoid": factoid, "asks_back": float(quote.rstrip(" \"'”’)").endswith("?")),
        }
        rows.append([value[f] for f in FEATURES])
    return np.asarray(rows, dtype=np.float64)


def unpinned(question: str, ask: Ask, ranked: list[Evidence]) -> list[str]:
    """What the question pins down (rag/answer/language/specifics.py: its figures, what a
    who-question asks about) that no candidate sentence mentions, nor an article's title.

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


# What the refusal model reads of a question's candidates: how sure the sentence model is of
# the best, and how well the best and the whole context cover the question. Not how many
# other sentences also score well: that measures how often the collection repeats a fact
# (news wires do, a manual does not), not whether the best sentence answers.
QUESTION_FEATURES: tuple[str, ...] = (
    "best_logit", "best_own", "best_lexical", "unpinned", "factoid", "own", "about",
    "typed_lacks", "missing_names")


def question_features(x: np.ndarray, p: np.ndarray) -> np.ndarray:
    """One row of QUESTION_FEATURES from the candidates' features and probabilities."""
    best = int(np.argmax(p))
    at = {f: x[best, i] for i, f in enumerate(FEATURES)}
    odds = float(np.clip(p[best], 1e-6, 1 - 1e-6))
    value = {"best_logit": np.log(odds / (1 - odds)),
             **{f: at[f] for f in QUESTION_FEATURES[1:]}}
    return np.asarray([value[f] for f in QUESTION_FEATURES], dtype=np.float64)


def within(p: np.ndarray, also: float) -> list[int]:
    """The candidates whose probability is at least `also` times the best's, best first:
    those an answer may quote.

    Example: within(np.array([0.2, 0.9, 0.7]), 0.75) == [1, 2]
    """
    order = [int(i) for i in np.argsort(-p, kind="stable")]
    return [i for i in order if p[i] >= also * p[order[0]]] if order else []


@dataclass(frozen=True)
class Logistic:
    """Standardised features, weights and a bias: P(y = 1) for each row."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if x.shape[0] == 0:
            return np.zeros(0)
        z = ((x - self.mean) / self.scale) @ self.weights + self.bias
        return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -30, 30))))

    def to_json(self) -> dict[str, object]:
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "weights": self.weights.tolist(), "bias": self.bias}

    @staticmethod
    def from_json(data: dict[str, Any]) -> Logistic:
        return Logistic(np.asarray(data["mean"], dtype=np.float64),
                        np.asarray(data["scale"], dtype=np.float64),
                        np.asarray(data["weights"], dtype=np.float64), float(data["bias"]))


@dataclass(frozen=True)
class Scorer:
    """Two fitted logistic models: `sentence`, P(this candidate answers the question), which
    orders the candidates, and `answerable`, P(the best ones answer it) from the question's
    candidates as a whole, which refuses below `threshold`. A sentence joins the best one
    when its probability is at least `also` times the best's."""

    sentence: Logistic
    answerable: Logistic
    threshold: float
    also: float

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """P(the sentence answers the question) for each row of features."""
        return self.sentence(x)

    def answers(self, x: np.ndarray, p: np.ndarray) -> float:
        """P(the question is answered by its best candidates); 0 without candidates."""
        if x.shape[0] == 0:
            return 0.0
        return float(self.answerable(question_features(x, p)[None, :])[0])

    def to_json(self) -> dict[str, object]:
        return {"features": list(FEATURES), "question_features": list(QUESTION_FEATURES),
                "sentence": self.sentence.to_json(), "answerable": self.answerable.to_json(),
                "threshold": self.threshold, "also": self.also}


def from_json(data: dict[str, Any]) -> Scorer:
    """A scorer from its JSON form; its features must be this code's, in this order."""
    if tuple(data["features"]) != FEATURES or \
            tuple(data["question_features"]) != QUESTION_FEATURES:
        raise ValueError("the scorer was fitted on other features than this code computes: "
                         "refit it with `python -m evals.fit`")
    return Scorer(Logistic.from_json(data["sentence"]), Logistic.from_json(data["answerable"]),
                  float(data["threshold"]), float(data["also"]))


@lru_cache(maxsize=1)
def version() -> str:
    """A short digest of the shipped weights: what a cache of answers made with them keys on."""
    return hashlib.sha256(WEIGHTS.read_bytes()).hexdigest()[:12]


@lru_cache(maxsize=4)
def load(path: Path = WEIGHTS) -> Scorer:
    """The shipped scorer (or the one at `path`)."""
    return from_json(json.loads(path.read_text(encoding="utf-8"))["model"])
