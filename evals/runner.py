"""Run an eval set: every question goes through `RagService.ask`, the same call the chat and
the HTTP API make, with nothing special-cased; then each Answer is scored. For the
passage-level retrieval metrics the question (as the answer searched it) is also ranked
RANK_DEPTH deep with `RagService.passages`, outside the timed answer.

With `docs`, the folder is ingested into a fresh temporary store (embedded Chroma, even when
a Chroma server is configured) that is deleted afterwards: the user's store is never read
or written. Without it, the configured store is used as it is.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evals.judge import Check, LLMJudge, make_judge, support
from evals.metrics import RANK_DEPTH, ItemScores, score_item
from evals.sets import EvalItem, EvalSet, check_sources, corpus_names, load_set, source_name
from rag.answer.extractive.scorer import version as scorer_version
from rag.errors import InputError
from rag.settings import Settings
from rag.types import Answer, Article

Progress = Callable[[Iterable[Any]], Iterable[Any]]


@dataclass(frozen=True)
class ItemResult:
    item: EvalItem
    answer: Answer
    scores: ItemScores
    checks: tuple[Check, ...] = field(default=())  # the judge's verdicts, when one is set


@dataclass(frozen=True)
class RunResult:
    eval_set: EvalSet
    config: dict[str, Any]
    results: tuple[ItemResult, ...]


def run_set(set_path: Path, settings: Settings, *, docs: Path | None = None,
            limit: int | None = None, progress: Progress | None = None) -> RunResult:
    """Validate the set (before anything runs), answer every question, score the answers."""
    if limit is not None and limit < 1:
        raise InputError(f"--limit must be at least 1 (got {limit})")
    eval_set = load_set(set_path, corpus_names(docs) if docs is not None else None)
    judge = make_judge(settings)  # a judge that cannot answer fails before any work
    if docs is not None:
        with _temporary_store(settings, docs) as isolated:
            return _run(eval_set, isolated, docs, limit, progress, judge)
    return _run(eval_set, settings, None, limit, progress, judge)


@contextmanager
def _temporary_store(settings: Settings, docs: Path) -> Iterator[Settings]:
    from index.pipeline import ingest

    # Chroma may keep files open until the process exits; a leftover temp folder is harmless.
    with tempfile.TemporaryDirectory(prefix="rag-eval-", ignore_cleanup_errors=True) as tmp:
        isolated = settings.model_copy(update={
            "store_dir": Path(tmp) / "store", "chroma_host": None,
            "feedback_db": Path(tmp) / "feedback.sqlite3"})
        summary = ingest([str(docs)], isolated)
        if summary.articles == 0:
            reasons = "; ".join(f"{s['path']}: {s['reason']}" for s in summary.skipped[:5])
            raise InputError(f"--docs {docs}: no articles could be ingested ({reasons})")
        yield isolated


def _run(eval_set: EvalSet, settings: Settings, docs: Path | None, limit: int | None,
         progress: Progress | None, judge: LLMJudge | None) -> RunResult:
    from rag.service import RagService

    service = RagService(settings)
    if docs is None:
        # Gold sources are checked against what the store holds, still before any question.
        names = {source_name(str(meta.get(key, "")))
                 for _, meta in service.store.iter_article_meta() for key in ("origin", "url")}
        check_sources(eval_set, names)
    items = eval_set.items[:limit] if limit else eval_set.items
    config = run_config(settings, service.backend_name, docs, limit, judge)
    articles: dict[str, Article | None] = {}
    results = []
    for item in (progress(items) if progress else items):
        answer = service.ask(item.question, list(item.history))
        # Deeper than the answerer is handed (top_k), for evidence_hit_at_10.
        _, hits, _ = service.passages(answer.standalone_question, RANK_DEPTH)
        for aid in {p.article_id for p in answer.passages} | {c.article_id
                                                            for c in answer.citations}:
            if aid not in articles:
                articles[aid] = service.article(aid)
        scores = score_item(item, answer, articles, [h.chunk.text for h in hits])
        results.append(_judged(ItemResult(item, answer, scores), judge))
    return RunResult(eval_set, config, tuple(results))


def _judged(result: ItemResult, judge: LLMJudge | None) -> ItemResult:
    if judge is None:
        return result
    checks = tuple(judge.check_answer(result.answer))
    return replace(result, checks=checks,
                   scores=replace(result.scores, support=support(checks)))


def run_config(settings: Settings, backend: str, docs: Path | None,
               limit: int | None, judge: LLMJudge | None = None) -> dict[str, Any]:
    """What a report needs to say how it was made (and two reports to be compared): the
    answering and retrieval settings, never secrets such as API keys."""
    model = {"openai": settings.openai_model,
             "local": str(settings.local_model) if settings.local_model else None}
    return {
        "backend": backend,
        "model": model.get(backend),
        "embed_backend": settings.embed_backend,
        "retrieval_mode": settings.retrieval_mode,
        "top_k": settings.top_k,
        "context_tokens": settings.context_budget,
        "context_window": settings.context_window,
        "candidate_k": settings.candidate_k,
        "rrf_k": settings.rrf_k,
        "max_evidence": settings.max_evidence,
        "extractive_scorer": scorer_version(),
        "chunk_tokens": settings.chunk_tokens,
        "chunk_overlap": settings.chunk_overlap,
        "store": "temporary (from --docs)" if docs else (
            f"chroma://{settings.chroma_host}:{settings.chroma_port}" if settings.chroma_host
            else str(settings.store_dir)),
        "docs": str(docs) if docs else None,
        "limit": limit,
        "judge": judge.name if judge else None,  # without one, `support` is null
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        # Latencies depend on what else the machine runs (on 2 cores a load above ~2
        # inflates them): compare reads this beside the latency deltas.
        "load_avg_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }
