"""Embedding backends behind one small interface, chosen by name from a registry.

Shared by the write path (documents) and the read path (queries), so it lives in `rag/`.
Adding a backend is one class and one registry entry.

The default backend runs all-MiniLM-L6-v2, whose weights ship inside this package
(`rag/retrieve/weights/`, Apache-2.0, provenance in its PROVENANCE.md), through onnxruntime +
tokenizers.
The ONNX file is built once from those weights by `rag.retrieve.onnx_build` (no torch) into a cache
folder keyed by the weights' SHA-256. No process of the product imports torch,
transformers or sentence-transformers.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.errors import BackendError, ConfigError
from rag.settings import Settings

MINILM_NAME = "sentence-transformers/all-MiniLM-L6-v2"
BUNDLED_WEIGHTS = Path(__file__).parent / "weights" / "all-MiniLM-L6-v2"
# model.safetensors of sentence-transformers/all-MiniLM-L6-v2 at revision
# 1110a243fdf4706b3f48f1d95db1a4f5529b4d41, as upstream's Git LFS pointer gives it.
BUNDLED_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
_BATCH_TOKENS = 4096  # word pieces per model call (64 sentences, or 16 full 256-piece chunks)


class Embedder(Protocol):
    """What every embedding backend implements."""

    name: str  # recorded in the store; a store built by another name is refused
    dim: int
    max_tokens: int  # longest input the model reads in full, in its own tokens

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised embeddings, one row per text."""
        ...

    def count_tokens(self, text: str) -> int:
        """Length of `text` in the model's own tokens (special tokens included)."""
        ...


def _offline_env() -> None:
    # The weights are local; make sure nothing tries to reach a hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _weights_dir(settings: Settings) -> Path:
    path = settings.embed_model_path or BUNDLED_WEIGHTS
    if not (path / "config.json").is_file() or not (path / "tokenizer.json").is_file():
        raise ConfigError(f"RAG_EMBED_MODEL_PATH: no sentence-transformers model at {path}")
    return path


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 on CPU through onnxruntime: the same model and (to cosine > 0.999) the
    same vectors as sentence-transformers, without torch at run time.

    `quantized=True` (RAG_EMBED=minilm-int8) runs an int8 copy, weights quantised per channel:
    about 1.5x faster, slightly different vectors (cosine >= 0.97 against fp32), so it is
    recorded in the store under another name. Opt-in."""

    name = MINILM_NAME
    dim = 384
    max_tokens = 256

    def __init__(self, settings: Settings, *, quantized: bool = False,
                 threads: int | None = None) -> None:
        _offline_env()
        import onnxruntime as ort
        from tokenizers import Tokenizer

        weights = _weights_dir(settings)
        path = onnx_model(weights, model_cache_dir(settings))
        if quantized:
            from rag.retrieve.onnx_build import quantize_int8

            path = quantize_int8(path)
            self.name = MINILM_NAME + "+int8-per-channel"
        # Hand-rolled batching (tokenizers + numpy) instead of sentence-transformers: the
        # pooling is three lines, and it keeps torch out of every process but the exporter.
        self._count = Tokenizer.from_file(str(weights / "tokenizer.json"))
        self._count.no_truncation()
        self._count.no_padding()
        self._tok = Tokenizer.from_file(str(weights / "tokenizer.json"))
        self._tok.no_padding()
        self._tok.enable_truncation(max_length=self.max_tokens)
        opts = ort.SessionOptions()
        # 2 cores: one op at a time, each over every core (inter-op parallelism only adds
        # contention on a model this small).
        opts.intra_op_num_threads = threads or settings.threads or os.cpu_count() or 1
        opts.inter_op_num_threads = 1
        # Idle worker threads sleep instead of spinning: spinning wins a few % on an idle
        # machine and loses badly when Chroma, BM25 or another process wants the cores.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        self._session = ort.InferenceSession(str(path), sess_options=opts,
                                             providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._batch = settings.embed_batch
        self.model_path = path

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encodings = self._tok.encode_batch(list(texts), add_special_tokens=True)
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64,
                              count=len(encodings))
        # Length-sorted batches: a batch pads only to its own longest text.
        order = np.argsort(-lengths, kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        i = 0
        while i < len(order):
            # Rows per batch: the batch size, fewer for long texts, so that the attention
            # buffers (rows x heads x width^2) and so peak memory stay bounded.
            width = int(lengths[order[i]])
            rows = max(1, min(self._batch, _BATCH_TOKENS // width))
            idx = order[i:i + rows]
            i += rows
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, j in enumerate(idx):
                n = int(lengths[j])
                ids[row, :n] = encodings[j].ids
                mask[row, :n] = 1
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feed["token_type_ids"] = np.zeros_like(ids)
            out[idx] = self._session.run(None, feed)[0]
        return out

    def count_tokens(self, text: str) -> int:
        return len(self._count.encode(text, add_special_tokens=True).ids)


class SentenceTransformerMiniLM:
    """The same model through sentence-transformers + torch: the reference the ONNX backend was
    checked against (scripts/reference_embeddings.py), and the llama-index starter's embedder
    in the bench. Not in the registry; needs the `bench` extra (torch, ~9 s to import)."""

    name = MINILM_NAME
    dim = 384
    max_tokens = 256

    def __init__(self, settings: Settings, *, batch: int | None = None) -> None:
        _offline_env()
        path = _weights_dir(settings)
        try:
            import torch
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging
        except ImportError as exc:
            raise ConfigError(f"the sentence-transformers reference needs the bench extra: "
                              f"pip install 'rag-articles[bench]' ({exc})") from None

        # transformers draws a "Loading weights" bar on stderr at every load: noise on each
        # CLI run. Only bars are silenced; real warnings still show.
        hf_logging.disable_progress_bar()
        torch.set_num_threads(settings.threads or os.cpu_count() or 1)
        self._model = SentenceTransformer(str(path), device="cpu")
        self._model.max_seq_length = self.max_tokens
        self._tokenizer = self._model.tokenizer
        self._batch = batch or settings.embed_batch

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        import torch

        with torch.inference_mode():
            vecs = self._model.encode(list(texts), batch_size=self._batch,
                                      normalize_embeddings=True, convert_to_numpy=True,
                                      show_progress_bar=False)
        return np.asarray(vecs, dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer(text, add_special_tokens=True, truncation=False,
                                   verbose=False)["input_ids"])


# --- the ONNX file: exported once, shared by every store --------------------------------------
def model_cache_dir(settings: Settings) -> Path:
    """Where exported models live: RAG_MODEL_CACHE, else `.rag-models` beside the store
    folder (so the many temporary stores of a test run, siblings in one folder, share one).

    Example: model_cache_dir(load_settings(store_dir=Path("/x/store"))) == Path("/x/.rag-models")
    """
    return settings.model_cache or settings.store_dir.parent / ".rag-models"


def weights_sha256(weights: Path, cache: Path) -> str:
    """SHA-256 of the weights file, remembered by (path, size, mtime) in the cache folder so a
    cold start does not re-hash 90 MB."""
    src = weights / "model.safetensors"
    if not src.is_file():
        raise ConfigError(f"RAG_EMBED_MODEL_PATH: {weights} has no model.safetensors")
    st = src.stat()
    key = f"{src.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    memo = cache / "sha256.json"
    try:
        known = json.loads(memo.read_text())
    except (OSError, ValueError):
        known = {}
    if isinstance(known, dict) and isinstance(known.get(key), str):
        return str(known[key])
    digest = hashlib.sha256()
    with src.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    sha = digest.hexdigest()
    known = known if isinstance(known, dict) else {}
    known[key] = sha
    _atomic_write(memo, json.dumps(known, indent=1).encode())
    return sha


def onnx_model(weights: Path, cache: Path) -> Path:
    """The ONNX graph of the weights in `weights`, built on first use (about 2 s, no torch).

    The bundled weights must hash to BUNDLED_SHA256: a damaged or altered install is refused
    rather than turned into different vectors."""
    from rag.retrieve.onnx_build import IR_VERSION, build_onnx

    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"RAG_MODEL_CACHE: cannot create {cache}: {exc}") from None
    sha = weights_sha256(weights, cache)
    if weights.resolve() == BUNDLED_WEIGHTS.resolve() and sha != BUNDLED_SHA256:
        raise ConfigError(f"the bundled embedding weights {weights / 'model.safetensors'} have "
                          f"sha256 {sha}, not upstream's {BUNDLED_SHA256}: the install is "
                          "damaged; reinstall rag-articles")
    # The file format is in the name: a file another build wrote is never loaded in its place.
    path = cache / f"minilm-{sha[:16]}-ir{IR_VERSION}-fp32.onnx"
    if not path.is_file():
        build_onnx(weights, path)
    return path


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, 0o644)  # a cache others may share
    os.replace(tmp, path)


class OpenAIEmbedder:
    """OpenAI (or a compatible server's) embeddings."""

    max_tokens = 8191

    def __init__(self, settings: Settings) -> None:
        import openai

        from rag.tokens import encoding

        if not settings.openai_api_key and not settings.openai_base_url:
            raise ConfigError("RAG_EMBED=openai needs OPENAI_API_KEY (or OPENAI_BASE_URL)")
        self._client = openai.OpenAI(api_key=settings.openai_api_key or "none",
                                     base_url=settings.openai_base_url,
                                     timeout=settings.llm_timeout, max_retries=2)
        self._model = settings.openai_embed_model
        self.name = f"openai/{self._model}"
        self._enc = encoding()
        self._batch = max(settings.embed_batch, 64)
        self.dim = len(self.embed(["dimension probe"])[0])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import openai

        rows: list[list[float]] = []
        for i in range(0, len(texts), self._batch):
            try:
                resp = self._client.embeddings.create(model=self._model,
                                                      input=list(texts[i:i + self._batch]))
            except openai.OpenAIError as exc:
                raise BackendError(f"OpenAI embeddings failed: {exc}") from None
            rows.extend(d.embedding for d in resp.data)
        arr = np.asarray(rows, dtype=np.float32).reshape(len(rows), -1)
        norms = np.linalg.norm(arr, axis=1, keepdims=True)
        return arr / np.maximum(norms, 1e-12)

    def count_tokens(self, text: str) -> int:
        return len(self._enc.encode(text, disallowed_special=()))


def _minilm_int8(settings: Settings) -> Embedder:
    return MiniLMEmbedder(settings, quantized=True)


REGISTRY: dict[str, Callable[[Settings], Embedder]] = {
    "minilm": MiniLMEmbedder,
    "minilm-int8": _minilm_int8,
    "openai": OpenAIEmbedder,
}

_CACHE: dict[tuple[str, str | None], Embedder] = {}


def get_embedder(settings: Settings) -> Embedder:
    """The configured embedder, loaded once per process (models are slow to load)."""
    key = (settings.embed_backend, str(settings.embed_model_path or settings.openai_embed_model))
    if key not in _CACHE:
        _CACHE[key] = REGISTRY[settings.embed_backend](settings)
    return _CACHE[key]


class QueryCache:
    """A small LRU of query embeddings: repeated questions skip the model."""

    def __init__(self, embedder: Embedder, size: int = 512) -> None:
        self._embedder = embedder
        self._size = size
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, text: str) -> np.ndarray:
        with self._lock:  # request threads share it
            if text in self._items:
                self._items.move_to_end(text)
                return self._items[text]
        vec = self._embedder.embed([text])[0]
        with self._lock:
            self._items[text] = vec
            if len(self._items) > self._size:
                self._items.popitem(last=False)
        return vec
