"""Shared fixtures. Hermetic: the environment is cleared of the product's settings and all
state lives in pytest's temporary folders; nothing is written into the checkout."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rag.settings import Settings, env_names, load_settings

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "articles"
SEED = ROOT / "evals" / "sets" / "seed.jsonl"


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the ONNX export of the bundled model: exported once per test run."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(autouse=True)
def _hermetic_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, model_cache: Path) -> None:
    for name in env_names():
        monkeypatch.delenv(name, raising=False)
    # .env in the working directory would leak in: run every test from its own folder.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RAG_STORE_DIR", str(tmp_path / "store"))
    monkeypatch.setenv("RAG_MODEL_CACHE", str(model_cache))


@pytest.fixture
def make_settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Settings with a fresh store in tmp_path; keyword overrides by field name."""

    def make(**overrides: object) -> Settings:
        overrides.setdefault("store_dir", tmp_path / "store")
        return load_settings(**overrides)

    return make


@pytest.fixture(scope="session")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The bundled sample corpus ingested once per session (read-only for tests)."""
    from index.pipeline import ingest

    store = tmp_path_factory.mktemp("sample") / "store"
    summary = ingest([str(SAMPLE)], load_settings(store_dir=store))  # env has RAG_MODEL_CACHE
    assert summary.added == 5, summary
    yield store
    shutil.rmtree(store, ignore_errors=True)


@pytest.fixture
def sample_settings(sample_store: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Settings over a private copy of the sample store (tests may write to it)."""

    def make(**overrides: object) -> Settings:
        copy = tmp_path / "sample-store"
        if not copy.exists():
            shutil.copytree(sample_store, copy)
        overrides.setdefault("store_dir", copy)
        return load_settings(**overrides)

    return make


@pytest.fixture(scope="session")
def service(sample_store: Path):  # type: ignore[no-untyped-def]
    """A RagService (extractive) over the sample store, shared by read-only tests."""
    from rag.service import RagService

    return RagService(load_settings(store_dir=sample_store, llm="extractive"))


def cli_env(**extra: str) -> dict[str, str]:
    """Environment for running `rag` in a subprocess, without the product's settings."""
    env = {k: v for k, v in os.environ.items()
           if k not in env_names() or k == "RAG_MODEL_CACHE"}  # keep the shared ONNX export
    env.pop("PYTHONUNBUFFERED", None)  # run as a user's shell would: stdout block-buffered
    env.update(extra)
    return env


MODEL = ROOT / ".cache" / "models" / "smollm2-135m-instruct.gguf"


@pytest.fixture(scope="session")
def model() -> Path:
    """SmolLM2-135M-Instruct (GGUF), which scripts/test-deps takes from its PyPI wheel."""
    if not MODEL.is_file():
        pytest.fail(f"{MODEL} is missing: run scripts/test-deps (make test does)")
    return MODEL


@pytest.fixture(scope="session")
def openai_compatible_server(model: Path) -> Iterator[str]:
    """xllamacpp's own OpenAI-compatible HTTP server on a loopback port, serving `model`."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(model)
    params.n_ctx = 2048
    params.warmup = False
    params.verbosity = -1
    server: Any = xllamacpp.Server(params)
    address = server.listening_address
    assert address.startswith("http://127.0.0.1:")
    yield address + "/v1"
    del server
