"""The bundled embedder: the ONNX backend gives sentence-transformers' vectors on real text,
exports once into a shared cache, keeps torch out of the read path, and caches queries."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from rag.embeddings import (
    MINILM_NAME,
    MiniLMEmbedder,
    QueryCache,
    SentenceTransformerMiniLM,
    model_cache_dir,
)
from rag.settings import load_settings
from rag.text import split_sentences
from tests.conftest import ROOT, SAMPLE, cli_env


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rag-models")


@pytest.fixture(scope="module")
def onnx(model_cache: Path) -> MiniLMEmbedder:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAG_MODEL_CACHE", str(model_cache))
        return MiniLMEmbedder(load_settings(store_dir=model_cache / "unused-store"))


@pytest.fixture(scope="module")
def reference(model_cache: Path) -> SentenceTransformerMiniLM:
    return SentenceTransformerMiniLM(load_settings(store_dir=model_cache / "unused-store"))


def _real_texts() -> list[str]:
    """Every sentence of the sample articles, plus whole articles (far over 256 word pieces,
    so truncation must match too) and a few odd inputs."""
    articles = [p.read_text(encoding="utf-8") for p in sorted(SAMPLE.glob("*.txt"))]
    sentences = [s.text for a in articles for s in split_sentences(a)]
    return [*sentences, *articles, "Gaza", "  ", "ÀÉÎ naïve café – “quotes” 1,200 vs 1,140"]


def test_onnx_matches_sentence_transformers_on_real_text(
        onnx: MiniLMEmbedder, reference: SentenceTransformerMiniLM) -> None:
    texts = _real_texts()
    assert len(texts) > 100
    ours, theirs = onnx.embed(texts), reference.embed(texts)
    assert ours.shape == theirs.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)
    cosine = (ours * theirs).sum(axis=1)
    assert cosine.min() > 0.999, texts[int(cosine.argmin())][:80]
    assert onnx.name == reference.name == MINILM_NAME


def test_batching_and_length_sorting_do_not_change_a_vector(onnx: MiniLMEmbedder) -> None:
    texts = _real_texts()[:80]
    together = onnx.embed(texts)
    alone = np.stack([onnx.embed([t])[0] for t in texts[:12]])
    assert np.allclose(together[:12], alone, atol=1e-5)
    assert onnx.embed([]).shape == (0, 384)


def test_token_counts_match_the_model_tokenizer(onnx: MiniLMEmbedder,
                                                reference: SentenceTransformerMiniLM) -> None:
    texts = _real_texts()
    assert [onnx.count_tokens(t) for t in texts] == [reference.count_tokens(t) for t in texts]
    assert max(onnx.count_tokens(t) for t in texts) > onnx.max_tokens  # counts are not truncated


def test_export_is_made_once_and_shared(onnx: MiniLMEmbedder, model_cache: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    files = sorted(model_cache.glob("minilm-*-fp32.onnx"))
    assert files == [onnx.model_path]
    before = files[0].stat().st_mtime_ns
    monkeypatch.setenv("RAG_MODEL_CACHE", str(model_cache))
    again = MiniLMEmbedder(load_settings(store_dir=model_cache / "another-store"))
    assert again.model_path == onnx.model_path
    assert again.model_path.stat().st_mtime_ns == before
    sha = json.loads((model_cache / "sha256.json").read_text())
    assert len(sha) == 1 and next(iter(sha.values()))[:16] in onnx.model_path.name


def test_cache_folder_defaults_beside_the_store(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    monkeypatch.delenv("RAG_MODEL_CACHE", raising=False)
    assert model_cache_dir(load_settings(store_dir=tmp_path / "s")) == tmp_path / ".rag-models"
    monkeypatch.setenv("RAG_MODEL_CACHE", str(tmp_path / "elsewhere"))
    assert model_cache_dir(load_settings(store_dir=tmp_path / "s")) == tmp_path / "elsewhere"


def test_read_path_never_imports_torch(onnx: MiniLMEmbedder, model_cache: Path,
                                       tmp_path: Path) -> None:
    """Once the export exists, ingest + ask run on onnxruntime alone (a cold `rag ask` that
    imported torch and sentence-transformers would spend ~9 s importing them)."""
    script = (
        "import sys\n"
        "from index.pipeline import ingest\n"
        "from rag.settings import load_settings\n"
        "from rag.service import RagService\n"
        f"s = load_settings(store_dir={str(tmp_path / 'store')!r}, llm='extractive')\n"
        f"ingest([{str(SAMPLE)!r}], s)\n"
        "a = RagService(s).ask('How many hostages remain held in Gaza?')\n"
        "assert not a.refused, a.answer\n"
        "heavy = sorted(m for m in ('torch', 'sentence_transformers', 'transformers')\n"
        "               if m in sys.modules)\n"
        "print('heavy:', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, timeout=300,
                         env=cli_env(RAG_MODEL_CACHE=str(model_cache)))
    assert out.returncode == 0, out.stderr[-2000:]
    assert "heavy: []" in out.stdout


class _Counting:
    name, dim, max_tokens = "counting", 3, 8

    def __init__(self) -> None:
        self.calls: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.extend(texts)
        return np.array([[len(t), 1.0, 0.0] for t in texts], dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def test_query_cache_skips_the_model_for_a_repeated_question() -> None:
    model = _Counting()
    cache = QueryCache(model, size=2)
    first = cache("who leads Hamas?")
    assert np.array_equal(cache("who leads Hamas?"), first)
    assert model.calls == ["who leads Hamas?"]
    cache("b")
    cache("c")  # size 2: the oldest question is evicted and embedded again
    cache("who leads Hamas?")
    assert model.calls == ["who leads Hamas?", "b", "c", "who leads Hamas?"]


def test_query_cache_returns_the_real_models_vector(onnx: MiniLMEmbedder) -> None:
    cache = QueryCache(onnx)
    q = "How many hostages remain held in Gaza?"
    assert np.allclose(cache(q), onnx.embed([q])[0], atol=1e-6)
