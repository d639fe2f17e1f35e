"""The LLM answerer: `clients` (OpenAI, any OpenAI-compatible server, a local GGUF),
`prompts` (pure message assembly), `generate` (prompt to streamed, grounded draft) and
`grounding` (every sentence keeps only citations whose quotes are verbatim). `answerer` is its
door."""
