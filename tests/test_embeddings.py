"""The bundled embedder: its ONNX graph, built from the bundled safetensors without torch,
gives sentence-transformers' vectors (committed reference vectors, made once by
scripts/reference_embeddings.py), is built once into a shared cache, refuses altered weights,
keeps torch out of every process, and caches queries."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

import rag.retrieve.embeddings
from rag.errors import ConfigError
from rag.retrieve.embeddings import (
    BUNDLED_SHA256,
    BUNDLED_WEIGHTS,
    MINILM_NAME,
    MiniLMEmbedder,
    QueryCache,
    SentenceTransformerMiniLM,
    model_cache_dir,
)
from rag.settings import load_settings
from tests.conftest import ROOT, SAMPLE, cli_env

FIXTURE = ROOT / "tests" / "fixtures" / "minilm_reference"
REFERENCE = json.loads(FIXTURE.with_suffix(".json").read_text(encoding="utf-8"))
REF_TEXTS = [t["text"] for t in REFERENCE["texts"]]
REF_VECTORS = np.load(FIXTURE.with_suffix(".npy"))


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rag-models")


def _embedder(model_cache: Path, **kwargs: bool) -> MiniLMEmbedder:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAG_MODEL_CACHE", str(model_cache))
        return MiniLMEmbedder(load_settings(store_dir=model_cache / "unused-store"), **kwargs)


@pytest.fixture(scope="module")
def onnx(model_cache: Path) -> MiniLMEmbedder:
    return _embedder(model_cache)


def test_reference_fixture_is_of_the_bundled_weights() -> None:
    assert REFERENCE["weights_sha256"] == BUNDLED_SHA256
    assert REFERENCE["model"] == MINILM_NAME and REFERENCE["max_seq_length"] == 256
    assert REF_VECTORS.shape == (len(REF_TEXTS), 384)


@pytest.mark.parametrize("kind", ["short", "chunk", "long"])
def test_onnx_gives_sentence_transformers_vectors(onnx: MiniLMEmbedder, kind: str) -> None:
    """Short sentences, full chunks, and whole articles far past 256 word pieces (so the
    truncation must be sentence-transformers' too), embedded together in length-sorted batches."""
    rows = [i for i, t in enumerate(REFERENCE["texts"]) if t["kind"] == kind]
    assert len(rows) >= 5
    if kind == "long":
        assert min(REFERENCE["texts"][i]["word_pieces"] for i in rows) > 256
    ours = onnx.embed(REF_TEXTS)[rows]
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)
    cosine = (ours * REF_VECTORS[rows]).sum(axis=1)
    worst = int(cosine.argmin())
    assert cosine.min() >= 0.9999, (cosine.min(), REF_TEXTS[rows[worst]][:80])
    assert onnx.name == MINILM_NAME


def test_token_counts_match_sentence_transformers(onnx: MiniLMEmbedder) -> None:
    assert [onnx.count_tokens(t) for t in REF_TEXTS] == [
        t["word_pieces"] for t in REFERENCE["texts"]]


def test_int8_is_opt_in_close_and_stored_under_its_own_name(onnx: MiniLMEmbedder,
                                                            model_cache: Path) -> None:
    int8 = _embedder(model_cache, quantized=True)
    assert int8.name != onnx.name  # a store built by one is refused by the other
    assert int8.model_path.name == onnx.model_path.name.replace("-fp32", "-int8pc7")
    cosine = (int8.embed(REF_TEXTS) * REF_VECTORS).sum(axis=1)
    assert cosine.min() > 0.97 and cosine.mean() > 0.99, (cosine.min(), cosine.mean())
    assert cosine.min() < 0.9999, cosine.min()  # it is really another model file


def test_batching_and_length_sorting_do_not_change_a_vector(onnx: MiniLMEmbedder) -> None:
    texts = REF_TEXTS
    together = onnx.embed(texts)
    alone = np.stack([onnx.embed([t])[0] for t in texts[:12]])
    assert np.allclose(together[:12], alone, atol=1e-5)
    assert onnx.embed([]).shape == (0, 384)


def test_onnx_file_is_built_once_and_shared(onnx: MiniLMEmbedder, model_cache: Path,
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


def test_altered_weights_are_refused_with_a_clear_message(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A damaged install (one byte of the bundled safetensors changed) stops with a message
    naming the file and both digests, instead of silently giving other vectors."""
    copy = tmp_path / "weights"
    shutil.copytree(BUNDLED_WEIGHTS, copy)
    with (copy / "model.safetensors").open("r+b") as fh:
        fh.seek(-1, 2)
        last = fh.read(1)
        fh.seek(-1, 2)
        fh.write(bytes([last[0] ^ 1]))
    monkeypatch.setattr(rag.retrieve.embeddings, "BUNDLED_WEIGHTS", copy)
    monkeypatch.setenv("RAG_MODEL_CACHE", str(tmp_path / "models"))
    with pytest.raises(ConfigError, match="damaged; reinstall") as err:
        MiniLMEmbedder(load_settings(store_dir=tmp_path / "store"))
    assert BUNDLED_SHA256 in str(err.value) and "model.safetensors" in str(err.value)
    assert not list((tmp_path / "models").glob("*.onnx"))


def test_reference_embedder_names_the_extra_it_needs(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # as if not installed
    with pytest.raises(ConfigError, match=r"pip install 'rag-articles\[bench\]'"):
        SentenceTransformerMiniLM(load_settings(store_dir=tmp_path / "s"))


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
