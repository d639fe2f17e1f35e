"""Reference vectors for the bundled embedder, from sentence-transformers itself.

Run once, with the bench extra (torch + sentence-transformers), whenever the reference texts
should change; the product and its tests never import torch:

    pip install torch==2.13.0 && pip install -e '.[bench]'   # CPU torch first, see Makefile
    python scripts/reference_embeddings.py  # writes tests/fixtures/minilm_reference.json/.npy

tests/test_embeddings.py then checks the ONNX backend against these vectors (cosine >= 0.9999)
and the tokenizer's counts against these word-piece counts.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from index.chunking import chunk_article  # noqa: E402
from index.loaders import load_paths  # noqa: E402
from rag.retrieve.embeddings import BUNDLED_WEIGHTS, SentenceTransformerMiniLM  # noqa: E402
from rag.settings import load_settings  # noqa: E402
from rag.text import split_sentences  # noqa: E402
from rag.types import Article  # noqa: E402

OUT = ROOT / "tests" / "fixtures" / "minilm_reference"


def reference_texts() -> list[tuple[str, str]]:
    """(kind, text): short sentences and odd inputs, full chunks as the product cuts them, and
    whole articles, each far past the model's 256 word pieces (so truncation must match)."""
    articles = sorted((a for a in load_paths([str(ROOT / "data" / "articles")], 20_000_000, 5.0)
                       if isinstance(a, Article)), key=lambda a: a.origin)
    sentences = [s.text for a in articles for s in split_sentences(a.text)]
    short = [*sentences[::max(1, len(sentences) // 24)][:24], "How many hostages remain held in "
             "Gaza?", "Gaza", "  ", "ÀÉÎ naïve café – “quotes” 1,200 vs 1,140", "hezbolah ceasfire"]
    chunks = [c.text for a in articles for c in chunk_article(a, 180, 40)[:3]]
    return ([("short", t) for t in short] + [("chunk", t) for t in chunks]
            + [("long", a.text) for a in articles])


def main() -> None:
    import sentence_transformers
    import torch

    settings = load_settings(store_dir=Path("/tmp/reference-embeddings-store"))
    model = SentenceTransformerMiniLM(settings, batch=8)
    items = reference_texts()
    texts = [t for _, t in items]
    vectors = model.embed(texts)
    meta = {
        "model": model.name,
        "weights_sha256": hashlib.file_digest(
            (BUNDLED_WEIGHTS / "model.safetensors").open("rb"), "sha256").hexdigest(),
        "max_seq_length": model._model.max_seq_length,
        "made_with": {"sentence-transformers": sentence_transformers.__version__,
                      "torch": torch.__version__},
        "texts": [{"kind": k, "word_pieces": model.count_tokens(t), "text": t}
                  for k, t in items],
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.with_suffix(".json").write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n",
                                        encoding="utf-8")
    np.save(OUT.with_suffix(".npy"), vectors.astype(np.float32))
    kinds = {k: sum(1 for kk, _ in items if kk == k) for k, _ in items}
    print(f"wrote {len(texts)} vectors {kinds} to {OUT}.json/.npy")


if __name__ == "__main__":
    main()
