"""Making an answer from retrieved passages.

`base` holds the `Answerer` protocol and its registry; the answerers live in `extractive/`
(quotes the best evidence sentences, no model) and `llm/` (clients, prompts, generation and the
grounding that checks every quote). The steps every answerer shares sit here: `evidence`
(candidate sentences scored against the question, the refusal floor, the rerank),
`citations` (locating, repairing, verifying and renumbering quotes), `conflicts` (both sides
of a disagreement cited), `condense` (follow-ups made standalone) and `examples` (questions a
new user can click). `language/` reads English: what a question asks for and what a sentence
holds.
"""
