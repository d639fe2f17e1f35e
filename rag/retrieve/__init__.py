"""Finding the passages a question is answered from.

Its doors are two small interfaces: `embeddings.Embedder` (the bundled ONNX model, OpenAI;
chosen by name from a registry) and `hybrid.Retriever` (dense search in the Chroma `store`
fused with the BM25 index of `lexical` and `postings` by reciprocal rank fusion). `context`
grows the reranked chunks into the answerer's context within RAG_CONTEXT_TOKENS;
`onnx_build` builds the embedder's ONNX graph from `weights/` without torch; `stats` reports
what a store holds.
"""
