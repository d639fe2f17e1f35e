"""The read path and the types every package shares.

- `rag/retrieve/`: finding the passages (Chroma store, embedder, BM25 index, hybrid fusion,
  the answerer's context within a token budget);
- `rag/answer/`: making an answer from them (the `Answerer` protocol and registry, evidence
  scoring, citations, conflicts, follow-up rewriting), with each answerer's own modules in
  `rag/answer/extractive/` and `rag/answer/llm/`, and the English they read in
  `rag/answer/language/`;
- `service.py` (the one entry point), `types.py`, `settings.py`, `errors.py`, and the text and
  token helpers the write path shares (`text.py`, `tokens.py`) stay at the top.
"""
