"""The read path's one entry point: question (+ history) in, verified Answer out.

Every surface (CLI, chat, HTTP API, evals) calls `RagService.ask` or `RagService.stream`.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from rag.answer import condense, evidence, examples
from rag.answer.base import Answerer, get_answerer
from rag.answer.citations import REFUSAL, join_parts, renumber, verified
from rag.answer.conflicts import reconcile
from rag.answer.language.question import split_question
from rag.errors import EmptyStoreError, InputError
from rag.retrieve import lexical
from rag.retrieve.context import assemble
from rag.retrieve.embeddings import Embedder, get_embedder
from rag.retrieve.hybrid import Retriever
from rag.retrieve.sentences import open_vectors
from rag.retrieve.store import Store
from rag.settings import Settings
from rag.text import correct_typos, words
from rag.tokens import is_common_word
from rag.types import (
    Answer,
    Article,
    Citation,
    Conflict,
    Draft,
    Hit,
    Passage,
    StreamEvent,
    Timings,
    Turn,
)

log = logging.getLogger("rag.service")

_SURROGATE = re.compile(r"[\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def clean_question(question: str, max_chars: int) -> str:
    """The question without control characters and with whitespace folded; empty or too
    long is an InputError that says which.

    Example: clean_question(" What\\x00 happened?\\n", 100) == "What happened?"
    """
    if not isinstance(question, str):
        raise InputError("the question must be text")
    bad = _SURROGATE.search(question)
    if bad:  # "\ud800" from JSON, or undecodable bytes from a terminal: not text
        code = f"U+{ord(bad.group()):04X}"
        raise InputError(f"the question holds a character that is not text ({code} at "
                         f"position {bad.start()}): send UTF-8")
    q = " ".join(_CONTROL.sub(" ", question).split())
    if not q:
        raise InputError("the question is empty")
    if len(q) > max_chars:
        raise InputError(f"the question is {len(q)} characters long; the limit is {max_chars} "
                         "(RAG_MAX_QUESTION_CHARS)")
    return q


class RagService:
    """Holds the store, the embedder, the BM25 index and the answer backend, loaded once."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        store = Store(settings)
        model = store.recorded_model()
        if model is None:
            raise EmptyStoreError(f"nothing has been ingested into {store.location} yet: "
                                  "run `rag ingest PATH` first")
        self.embedder = embedder or get_embedder(settings)
        store.bind(self.embedder.name, self.embedder.dim)
        if not store.has_chunks():
            raise EmptyStoreError(f"the store at {store.location} holds no articles: "
                                  "run `rag ingest PATH` first")
        self.store = store
        # Loaded once and passed down; `rag serve` keeps it in step (start_refresh).
        self.lexical = lexical.open_index(store, store.aux_dir())
        self.sentences = open_vectors(store.aux_dir(), self.embedder)
        self.retriever = Retriever(store, self.embedder, settings, self.lexical)
        self.answerer = get_answerer(settings)
        self.backend_name = self.answerer.name
        self._examples: tuple[tuple[str, int, int], list[str]] | None = None
        self._examples_lock = threading.Lock()

    # --- public -------------------------------------------------------------------------
    def ask(self, question: str, history: list[Turn] | None = None) -> Answer:
        """Answer a question; follow-ups are made standalone using `history`."""
        final: Answer | None = None
        for event in self.stream(question, history):
            if event.type == "answer":
                final = event.answer
        assert final is not None
        return final

    def stream(self, question: str, history: list[Turn] | None = None
               ) -> Iterator[StreamEvent]:
        """Tokens as an LLM writes them (none for the extractive backend), then exactly one
        final, verified Answer."""
        q = clean_question(question, self.settings.max_question_chars)
        history = [t for t in (history or []) if t.content.strip()][-8:]
        t0 = time.perf_counter()
        standalone = self._standalone(q, history)
        parts = split_question(standalone) if self.answerer.answers_in_parts else [standalone]
        if len(parts) == 1:
            standalone, hits, ranked = self.context(standalone)
            t1 = time.perf_counter()
            draft: Draft | None = None
            for item in self._draft(standalone, hits, ranked):
                if isinstance(item, str):
                    yield StreamEvent(type="token", text=item)
                else:
                    draft = item
            assert draft is not None
        else:  # each part retrieved and answered on its own, then joined
            hits = []
            drafts: list[Draft] = []
            for i, part in enumerate(parts):
                if i:  # "... and which countries did he go to next": he is the first's
                    part = condense.rewrite(part, [Turn(role="user", content=parts[0])])
                    # "freed four ... and 274 died": the first part's quote answers it
                    if self.answerer.already_answers(part, drafts[0]):
                        parts[i] = part
                        drafts.append(drafts[0])
                        continue
                # the parts share the budget: what the answerer is handed stays within it
                parts[i], part_hits, ranked = self.context(
                    part, max(1, self.settings.context_budget // len(parts)))
                drafts.append(next(d for d in self._draft(parts[i], part_hits, ranked)
                                   if isinstance(d, Draft)))
                known = {h.chunk.id for h in hits}
                hits += [h for h in part_hits if h.chunk.id not in known]
            t1 = time.perf_counter()
            draft = join_parts(parts, drafts)
        t2 = time.perf_counter()
        yield StreamEvent(type="answer", answer=self._answer(q, standalone, hits, draft,
                                                             (t0, t1, t2)))

    def _draft(self, question: str, hits: list[Hit], ranked: list[evidence.Evidence],
               answerer: Answerer | None = None) -> Iterator[str | Draft]:
        """The answerer's tokens and draft, behind the refusal gate (one for every answerer:
        each says how relevant the best evidence must be before it is asked at all), with
        both sides of a disagreement cited."""
        answerer = answerer or self.answerer
        if not ranked or ranked[0].score < answerer.floor(question):
            yield Draft(REFUSAL, [], True)
            return
        for item in answerer.answer(question, hits, ranked):
            yield reconcile(question, item, ranked) if isinstance(item, Draft) else item

    def passages(self, question: str, k: int | None = None
                 ) -> tuple[str, list[Hit], list[evidence.Evidence]]:
        """The question as searched (typos fixed), the top k retrieved chunks reranked by
        their best sentence, and those chunks' evidence sentences, scored, best first (what
        the evals rank for evidence_hit_at_k)."""
        k = k or self.settings.top_k
        question, pool, ranked = self._ranked(question, max(self.settings.rerank_pool, k), 0)
        kept = {h.chunk.id for h in pool[:k]}
        return question, pool[:k], [e for e in ranked if e.core and e.chunk_id in kept]

    def context(self, question: str, budget: int | None = None
                ) -> tuple[str, list[Hit], list[evidence.Evidence]]:
        """The question as searched, the context the answerer is handed (rag/retrieve/context.py:
        reranked chunks grown by their neighbours within the token budget, as pieces), and
        the evidence sentences inside it, scored, best first."""
        s = self.settings
        budget = budget or s.context_budget
        # Deep enough that the budget, not the pool, bounds the context.
        depth = max(s.rerank_pool, s.top_k, budget // 100)
        question, pool, ranked = self._ranked(question, depth, s.context_window)
        pieces = assemble(pool, budget, s.context_window, s.top_k)
        spans: dict[str, list[tuple[int, int]]] = {}
        for p in pieces:
            spans.setdefault(p.article.id, []).append((p.chunk.start, p.chunk.end))
        inside = [e for e in ranked if any(a <= e.start and e.end <= b
                                           for a, b in spans.get(e.article.id, ()))]
        return question, pieces, inside

    def _ranked(self, question: str, depth: int, window: int
                ) -> tuple[str, list[Hit], list[evidence.Evidence]]:
        """Fused candidates `depth` deep reranked by their best sentence, and every candidate
        sentence (with `window` neighbours each side) scored, best first."""
        pool = self.retriever.retrieve(question, depth)
        fixed = self._correct_typos(question, pool)
        if fixed != question:  # the meaning found the passages; now their words can match
            question = fixed
            pool = self.retriever.retrieve(question, depth)
        qvec = self.retriever.embed_query(question)
        ranked = evidence.score(question, qvec, evidence.candidates(pool, window), self.embedder,
                                self.lexical.idf,
                                {h.chunk.id: h.dense or 0.0 for h in pool},
                                stored=self.sentences.lookup)
        return question, evidence.rerank(pool, ranked, len(pool)), ranked

    def _correct_typos(self, question: str, pool: list[Hit]) -> str:
        """"hezbolah" -> "hezbollah": words that are neither in the corpus nor common
        English ("reader" stays "reader"), one typo away from a word of the retrieved
        passages (dense retrieval finds them despite the typo)."""
        index = self.lexical
        vocabulary = {w for h in pool for w in words(h.chunk.text)}
        return correct_typos(question, vocabulary, known=lambda w: (
            index.doc_freq(evidence.stem(w)) > 0 or is_common_word(w)))

    def article(self, article_id: str) -> Article | None:
        return self.store.article(article_id)

    def example_questions(self, n: int = 4, articles: int = 12) -> list[str]:
        """Questions a new user can click: made from the sentences of `articles` articles
        spread over the store (rag/answer/examples.py), one per article before
        a second from any, no two alike, kept only when the extractive answerer (its refusal
        included) answers them from that article with a citation (at most 3n asked). Cached
        in the store folder by the store's version stamp: an ingest remakes them,
        and in memory by the store's version stamp. One caller remakes them at a time; the
        others meanwhile get the last ones made. A store that cannot be read gives those too
        (or none): examples are never worth an error page."""
        try:
            version = (self.store.version(), n, articles)
        except Exception as exc:  # the store is down: the page still opens, without examples
            log.warning("example questions: the store cannot be read: %s", exc)
            return list(self._examples[1]) if self._examples else []
        if self._examples is not None and self._examples[0] == version:
            return list(self._examples[1])
        if not self._examples_lock.acquire(blocking=self._examples is None):
            return list(self._examples[1]) if self._examples else []
        try:
            if self._examples is not None and self._examples[0] == version:
                return list(self._examples[1])  # made while this caller waited
            made = self._make_examples(n, articles)
        except Exception as exc:
            log.warning("example questions could not be made: %s", exc)
            return list(self._examples[1]) if self._examples else []
        finally:
            self._examples_lock.release()
        self._examples = (version, made)
        return list(made)

    def kept_examples(self, n: int = 4, articles: int = 12) -> list[str]:
        """The example questions already made for the store as it is (in memory or in the
        store folder's cache), never making them: what a server shows while it starts.
        None made yet, or a store that cannot be read, gives none."""
        try:
            version = (self.store.version(), n, articles)
            if self._examples is not None and self._examples[0] == version:
                return list(self._examples[1])
            kept = examples.peek(self._examples_path, self._examples_key(n, articles))
            if kept is None:
                return []
            self._examples = (version, kept)
            return list(kept)
        except Exception as exc:
            log.warning("example questions: the store cannot be read: %s", exc)
            return []

    @property
    def _examples_path(self) -> Path:
        return self.settings.store_dir / "example_questions.json"

    def _examples_key(self, n: int, articles: int) -> str:
        # The store's version stamp changes with every ingest: a restart on an unchanged
        # store reads the cache without listing the store's articles.
        s = self.settings
        return examples.cache_key(self.store.version(), n, articles, examples.VERSION,
                                  s.retrieval_mode, s.top_k, s.rerank_pool, s.context_budget,
                                  s.context_window, s.max_evidence, self._vetter().version)

    def _vetter(self) -> Answerer:
        # Vetted offline whatever answers the user's questions: an example costs no
        # model call, and one that quoting answers, a model answers too.
        return get_answerer(self.settings, "extractive")

    def _make_examples(self, n: int, articles: int) -> list[str]:
        vetter = self._vetter()

        def make() -> list[str]:
            ids = self.store.article_ids_spread(articles)
            sources: dict[str, str] = {}
            for aid in ids:
                art = self.store.article(aid)
                for q in examples.candidates(art.text) if art else []:
                    sources.setdefault(q, aid)

            def answered(q: str) -> bool:
                question, hits, ranked = self.context(q)
                draft = next(d for d in self._draft(question, hits, ranked, vetter)
                             if isinstance(d, Draft))
                return not draft.refused and sources[q] in {c.article_id for c in draft.citations}

            by_article = ([q for q, a in sources.items() if a == aid] for aid in ids)
            return examples.pick(examples.distinct(examples.interleave(by_article)), answered,
                                 n, 3 * n)

        return examples.cached(self._examples_path, self._examples_key(n, articles), make)

    # --- internals ----------------------------------------------------------------------
    def _standalone(self, q: str, history: list[Turn]) -> str:
        if not history or not condense.needs_context(q):
            return q
        return self.answerer.condense(q, history) or condense.rewrite(q, history)

    def _answer(self, q: str, standalone: str, hits: list[Hit], draft: Draft,
                times: tuple[float, float, float]) -> Answer:
        articles = {h.article.id: h.article for h in hits}
        for c in draft.citations:
            if c.article_id not in articles:
                art = self.store.article(c.article_id)
                if art:
                    articles[art.id] = art
        # The last gate before anything is shown: a quote that is not exactly
        # article_text[start:end] is dropped, and its markers with it.
        text, citations = renumber(draft.text, verified(draft.citations, articles))
        refused = draft.refused or not citations
        if refused:
            text, citations = (draft.text if draft.refused else REFUSAL), []
        conflicts = [] if refused else _renumbered(draft.conflicts, draft.citations, citations)
        passages = [Passage(n=i, article_id=h.article.id, chunk_id=h.chunk.id,
                            title=h.article.title, score=round(h.score, 5), text=h.chunk.text,
                            source=h.article.source, url=h.article.url, date=h.article.date,
                            start=h.chunk.start, end=h.chunk.end)
                    for i, h in enumerate(hits, 1)]
        t0, t1, t2 = times
        return Answer(question=q, standalone_question=standalone, answer=text,
                      refused=refused, citations=citations, passages=passages,
                      backend=self.backend_name, conflicts=conflicts,
                      unsupported=draft.unsupported,
                      timings_ms=Timings(retrieve=round((t1 - t0) * 1000, 1),
                                         answer=round((t2 - t1) * 1000, 1),
                                         total=round((time.perf_counter() - t0) * 1000, 1)))


def _renumbered(conflicts: list[Conflict], before: list[Citation], after: list[Citation]
                ) -> list[Conflict]:
    """Conflicts with their figures' citation numbers as the final answer numbers them; a
    conflict that lost a side's citation is dropped (never half a disagreement)."""
    place = {c.n: (c.article_id, c.start, c.end) for c in before}
    final = {(c.article_id, c.start, c.end): c.n for c in after}
    out = []
    for conflict in conflicts:
        ns = [final.get(place.get(f.n, ("", 0, 0))) for f in conflict.figures]
        if all(n is not None for n in ns):
            out.append(conflict.model_copy(update={"figures": [
                f.model_copy(update={"n": n}) for f, n in zip(conflict.figures, ns, strict=True)]}))
    return out
