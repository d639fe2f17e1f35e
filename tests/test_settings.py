"""One typed Settings: every field documented in .env.example; bad values named."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from rag.errors import ConfigError
from rag.settings import env_names, load_settings
from tests.conftest import ROOT


def test_env_example_lists_every_setting_with_its_default() -> None:
    text = (ROOT / ".env.example").read_text()
    listed = dict(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=(.*)$", text, re.M))
    for name, (default, help_text) in env_names().items():
        assert name in listed, f"{name} missing from .env.example"
        assert help_text, f"{name} has no help text"
        if default is not None and default != "":
            assert listed[name] == str(default), name


def test_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_TOP_K", "lots")
    with pytest.raises(ConfigError, match="RAG_TOP_K"):
        load_settings()
    monkeypatch.setenv("RAG_TOP_K", "5")
    monkeypatch.setenv("RAG_LLM", "gpt-5")
    with pytest.raises(ConfigError, match="RAG_LLM"):
        load_settings()


def test_settings_are_frozen_and_read_from_dotenv(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("RAG_TOP_K=9\n")
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert s.top_k == 9
    with pytest.raises(ValidationError):
        s.top_k = 3  # type: ignore[misc]


def test_the_settings_page_is_generated_from_settings() -> None:
    """docs/settings.md lists every setting with its default, as the code has them now
    (`python scripts/settings_doc.py` rewrites it)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("settings_doc", ROOT / "scripts" /
                                                  "settings_doc.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    page = (ROOT / "docs" / "settings.md").read_text()
    assert page == module.render(), "docs/settings.md is stale: run scripts/settings_doc.py"
    assert "`RAG_MAX_CHUNKS_PER_FILE` | `1500`" in page
