"""The 30-line baseline of issue 11, scored with the same metrics as `rag eval`.

BM25 top 4 chunks (bm25s, the product's tokenizer, over the product's own chunks of the
articles), the bundled embedding model ranking their sentences against the question, the top 3
sentences as the answer, each quoted verbatim with its citation. It never refuses and never
rewrites a follow-up: it is the floor the product's answer rules have to beat.

    python -m bench.baseline30 evals/sets/pydocs.jsonl --docs evals/corpora/pydocs --out /tmp/b
    rag eval --compare /tmp/b/report.json evals/baselines/pydocs.first.json

It writes report.json, report.md and the chart in `rag eval`'s format (`evals.report`), so
`rag eval --compare` sets it beside a product run. With `--product`, the same process also
runs the product (`rag eval`'s runner, the configured backend) on the same set and documents,
writes both reports under OUT/baseline30 and OUT/product, and prints the comparison.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from evals.compare import compare
from evals.metrics import score_item
from evals.report import build_report, table_rows, write_reports
from evals.runner import ItemResult, RunResult
from evals.sets import corpus_names, load_set
from evals.tables import text_table
from index.chunking import chunk_article
from index.loaders import load_paths
from rag.retrieve.embeddings import get_embedder
from rag.retrieve.lexical import tokenize
from rag.settings import Settings, load_settings
from rag.text import split_sentences
from rag.types import Answer, Article, Chunk, Citation, Passage, Timings

TOP_CHUNKS, TOP_SENTENCES = 4, 3


def build(docs: Path, settings: Settings) -> tuple[dict[str, Article], Callable[[str], Answer]]:
    """Chunk and index `docs`; return its articles by id and the baseline's answer function."""
    import bm25s

    embedder = get_embedder(settings)
    articles = {a.id: a for a in load_paths([str(docs)], 10**9, 10) if isinstance(a, Article)}
    chunks: list[Chunk] = [c for a in articles.values() for c in chunk_article(
        a, settings.chunk_tokens, settings.chunk_overlap,
        lambda t: embedder.count_tokens(t) <= embedder.max_tokens)]
    bm25 = bm25s.BM25()
    bm25.index(tokenize([c.text for c in chunks]), show_progress=False)

    def answer(question: str) -> Answer:
        t0 = time.perf_counter()
        ids, scores = bm25.retrieve([tokenize([question])[0]], k=min(TOP_CHUNKS, len(chunks)),
                                    show_progress=False)
        top = [chunks[int(i)] for i in ids[0]]
        sents = {(c.article_id, s.start, s.end): (c, s) for c in top
                 for s in split_sentences(articles[c.article_id].text[c.start:c.end], c.start)}
        keys = list(sents)
        vecs = embedder.embed([question] + [sents[k][1].text for k in keys])
        best = [keys[i] for i in np.argsort(-(vecs[1:] @ vecs[0]))[:TOP_SENTENCES]]
        cites = []
        for n, key in enumerate(best, 1):
            chunk, s = sents[key]
            art = articles[chunk.article_id]
            cites.append(Citation(n=n, article_id=art.id, chunk_id=chunk.id, title=art.title,
                                  source=art.source, url=art.url, quote=s.text, start=s.start,
                                  end=s.end, date=art.date))
        passages = [Passage(n=n, article_id=c.article_id, chunk_id=c.id,
                            title=articles[c.article_id].title, score=float(sc), text=c.text,
                            url=articles[c.article_id].url, start=c.start, end=c.end)
                    for n, (c, sc) in enumerate(zip(top, scores[0], strict=True), 1)]
        ms = (time.perf_counter() - t0) * 1000
        return Answer(question=question, standalone_question=question, backend="baseline30",
                      answer=" ".join(f"{c.quote} [{c.n}]" for c in cites), refused=False,
                      citations=cites, passages=passages,
                      timings_ms=Timings(retrieve=ms, answer=0.0, total=ms))

    return articles, answer


def run(set_path: Path, docs: Path, settings: Settings) -> RunResult:
    """Answer every question of the set with the baseline and score it like `rag eval`."""
    eval_set = load_set(set_path, corpus_names(docs))
    loaded, answer = build(docs, settings)
    articles: dict[str, Article | None] = dict(loaded)
    results = []
    for item in eval_set.items:
        ans = answer(item.question)
        results.append(ItemResult(item, ans, score_item(item, ans, articles)))
    config = {"backend": "baseline30", "retrieval_mode": "bm25", "top_k": TOP_CHUNKS,
              "max_evidence": TOP_SENTENCES, "chunk_tokens": settings.chunk_tokens,
              "chunk_overlap": settings.chunk_overlap, "docs": str(docs),
              "started_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    return RunResult(eval_set, config, tuple(results))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("set", type=Path)
    parser.add_argument("--docs", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("eval-out-baseline30"))
    parser.add_argument("--product", action="store_true",
                        help="also run the product on the same set and print both side by side")
    args = parser.parse_args(argv)
    settings = load_settings()
    report = build_report(run(args.set, args.docs, settings))
    print(text_table(table_rows(report)))
    if not args.product:
        write_reports(report, args.out)
        return
    from evals.runner import run_set

    product = build_report(run_set(args.set, settings, docs=args.docs))
    write_reports(report, args.out / "baseline30")
    write_reports(product, args.out / "product")
    print(compare(report, product, "baseline30", "product"))


if __name__ == "__main__":
    main()
