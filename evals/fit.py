"""Fit the extractive answerer's sentence scorer (rag/answer/extractive/scorer.py) on the
fitting parts of the external development sets, and report it on their reporting parts.

    python -m evals.fit ../shared/evals/external/rtqa-2023 ../shared/evals/external/squad2-rhine \
        --work runs/fit

For each set (a folder with `questions.jsonl` and `docs/`) the documents are ingested once
into a store under `--work` (reused by later runs) and every question's candidate sentences
are scored by the read path exactly as an ask scores them (`RagService.context`, then
`scorer.features`). A sentence is a positive when its quote holds every `must_include`
pattern of an answerable question. The parts come from evals/split.py (fixed seed, by source).

On the fitting parts only (`fit`): two L2-regularised logistic regressions (Newton's method,
numpy), one per sentence and one per question for the refusal, with `also` and the refusal
threshold chosen on the same questions. The reporting
parts are only measured, with the full model and with each feature family left out.
Writes the model, its provenance and those figures to `--out` (scorer.json by default).
"""

from __future__ import annotations

import argparse
import json
import pickle
import re
import sys
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from evals.sets import EvalItem, load_set
from evals.split import part_of
from rag.answer.extractive import scorer
from rag.settings import load_settings

MEDIAN_WORDS = 50  # the answer-length target is 60: leave room for the list and conflict cases
L2 = 1.0


@dataclass
class Question:
    set: str
    part: str
    answerable: bool
    x: np.ndarray  # features, one row per candidate
    y: np.ndarray  # 1 where the candidate's quote holds the gold answer
    words: np.ndarray  # each candidate's quote length in words


def _labels(item: EvalItem, quotes: list[str]) -> np.ndarray:
    if not item.answerable or not item.must_include:
        return np.zeros(len(quotes))
    return np.asarray([float(all(re.search(p, q, re.I) for p in item.must_include))
                       for q in quotes])


def collect(folder: Path, work: Path) -> list[Question]:
    """Every question of the set with its candidates' features and labels (cached)."""
    cache = work / f"{folder.name}.features.pickle"
    if cache.exists():
        with cache.open("rb") as f:
            return [Question(**fields) for fields in pickle.load(f)]
    from index.pipeline import ingest
    from rag.service import RagService

    settings = load_settings().model_copy(update={
        "store_dir": work / "stores" / folder.name, "chroma_host": None})
    ingest([str(folder / "docs")], settings)
    service = RagService(settings)
    raw = [json.loads(line) for line in
           (folder / "questions.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    items = load_set(folder / "questions.jsonl").items
    out = []
    for n, (record, item) in enumerate(zip(raw, items, strict=True), 1):
        question, _, ranked = service.context(item.question)
        top = ranked[:scorer.LIMIT]
        x = scorer.features(question, top)
        out.append(Question(folder.name, part_of(record), item.answerable, x,
                            _labels(item, [e.quote for e in top]),
                            np.asarray([len(e.quote.split()) for e in top], dtype=float)))
        if n % 50 == 0:
            print(f"{folder.name}: {n}/{len(items)} questions", file=sys.stderr)
    with cache.open("wb") as f:
        pickle.dump([vars(q) for q in out], f)  # plain data: readable from any module
    return out


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = L2) -> tuple[np.ndarray, float]:
    """Weights and bias of a logistic regression with an L2 penalty (not on the bias), by
    Newton's method: x is already standardised."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    penalty = np.full(xb.shape[1], l2)
    penalty[-1] = 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ w, -30, 30)))
        grad = xb.T @ (p - y) + penalty * w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-7:
            break
    return w[:-1], float(w[-1])


@dataclass(frozen=True)
class Outcome:
    passed: float  # answerable questions whose answer holds the gold answer
    refusal: float  # all questions: refused exactly when unanswerable
    refused_unanswerable: float
    median_words: float
    handled: float  # answerable passed or unanswerable refused, over all questions


def chosen(p: np.ndarray, also: float, most: int = 3) -> list[int]:
    """The candidates the answer quotes (as compose.select, without its redundancy check):
    the best and those within `also` of it, at most `most`."""
    return scorer.within(p, also)[:most]


def outcome(qs: list[Question], model: scorer.Scorer, threshold: float | None = None
            ) -> Outcome:
    """What the answerer would do with each question: refuse when the refusal model's
    probability is below the threshold, else quote `chosen`."""
    t = model.threshold if threshold is None else threshold
    passed: list[float] = []
    unans_refused: list[float] = []
    refusal: list[float] = []
    lengths: list[float] = []
    handled: list[float] = []
    for q in qs:
        p = model.probabilities(q.x)
        refuse = len(p) == 0 or (t > 0 and model.answers(q.x, p) < t)
        ok = False
        if not refuse:
            picked = chosen(p, model.also)
            ok = bool(q.y[picked].any())
            lengths.append(float(q.words[picked].sum()))
        refusal.append(float(refuse != q.answerable))
        (passed if q.answerable else unans_refused).append(float(ok if q.answerable else refuse))
        handled.append(float(ok if q.answerable else refuse))
    return Outcome(_mean(passed), _mean(refusal), _mean(unans_refused),
                   float(np.median(lengths)) if lengths else 0.0, _mean(handled))


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else 0.0


def _standardised(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    return mean, scale


def _logistic(x: np.ndarray, y: np.ndarray, columns: list[int]) -> scorer.Logistic:
    mean, scale = _standardised(x)
    w_sub, bias = fit_logistic(((x - mean) / scale)[:, columns], y)
    weights = np.zeros(x.shape[1])
    weights[columns] = w_sub
    return scorer.Logistic(mean, scale, weights, bias)


def fit(qs: list[Question], columns: list[int]) -> scorer.Scorer:
    """The two models, `also` and the threshold, from the fitting questions only; the
    sentence model reads the given columns (the others get weight 0).

    1. The sentence model: every candidate, positive when its quote holds the gold answer.
    2. `also`: the value that passes most answerable questions while the median answer
       stays within MEDIAN_WORDS words.
    3. The refusal model, on each question's QUESTION_FEATURES: positive when the question
       is answerable and its answer passes, negative when it is unanswerable (an answerable
       question its answer fails is no evidence either way: refusing it costs nothing).
    4. The threshold that handles the most fitting questions right."""
    sentence = _logistic(np.vstack([q.x for q in qs]), np.concatenate([q.y for q in qs]),
                         columns)
    half = scorer.Scorer(sentence, scorer.Logistic(np.zeros(1), np.ones(1), np.zeros(1), 0.0),
                         0.0, 1.0)
    probs = [sentence(q.x) for q in qs]
    alsos = [float(a) for a in np.arange(0.3, 1.001, 0.05)
             if outcome(qs, replace(half, also=float(a)), 0.0).median_words <= MEDIAN_WORDS]
    also = max(alsos or [1.0], key=lambda a: (outcome(qs, replace(half, also=a), 0.0).passed, a))
    rows, labels = [], []
    for q, p in zip(qs, probs, strict=True):
        if len(p) == 0:
            continue
        ok = bool(q.y[chosen(p, also)].any())
        if q.answerable and not ok:
            continue
        rows.append(scorer.question_features(q.x, p))
        labels.append(float(q.answerable))
    x = np.vstack(rows)
    answerable = _logistic(x, np.asarray(labels), list(range(x.shape[1])))
    model = scorer.Scorer(sentence, answerable, 0.0, also)
    grid = [float(t) for t in np.arange(0.0, 0.951, 0.025)]
    threshold = max(grid, key=lambda t: (outcome(qs, model, t).handled, -t))
    return replace(model, threshold=threshold)


def report(model: scorer.Scorer, qs: list[Question]) -> dict[str, dict[str, float]]:
    """The outcome on each set and pooled."""
    groups = {s: [q for q in qs if q.set == s] for s in sorted({q.set for q in qs})}
    groups["pooled"] = qs
    return {name: vars(outcome(g, model)) for name, g in groups.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.fit",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("sets", nargs="+", type=Path, help="set folders (questions.jsonl, docs/)")
    parser.add_argument("--work", type=Path, required=True, help="stores and feature caches")
    parser.add_argument("--out", type=Path, default=scorer.WEIGHTS)
    args = parser.parse_args(argv)
    qs = [q for folder in args.sets for q in collect(folder, args.work)]
    fitting = [q for q in qs if q.part == "fit"]
    reporting = [q for q in qs if q.part == "report"]
    everything = list(range(len(scorer.FEATURES)))
    model = fit(fitting, everything)
    ablation = {}
    for family, names in scorer.FAMILIES.items():
        kept = [i for i, f in enumerate(scorer.FEATURES) if f not in names]
        ablation[f"without {family}"] = report(fit(fitting, kept), reporting)
    result = {
        "made_by": "python -m evals.fit " + " ".join(str(s) for s in args.sets),
        "made_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": {"sets": [s.name for s in args.sets],
                 "split": "evals/split.py (fixed seed, by first source); fitted on the "
                          "fitting parts only",
                 "questions": {p: len([q for q in qs if q.part == p]) for p in ("fit", "report")},
                 "provenance": "../shared/evals/external/<set>/SOURCE.md"},
        "model": model.to_json(),
        "fitting": report(model, fitting),
        "reporting": report(model, reporting),
        "ablation_reporting": ablation,
        "ceiling_reporting": {s: _mean([float(q.y.any()) for q in reporting
                                        if q.set == s and q.answerable])
                              for s in sorted({q.set for q in reporting})},
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("fitting", "reporting", "ceiling_reporting")},
                     indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
