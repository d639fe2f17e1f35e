"""The README shows only what is real: every `rag` command and flag it shows exists, and
every link it or a docs page makes leads to a file of the checkout."""

from __future__ import annotations

import argparse
import re

from tests.conftest import ROOT
from ui.cli import build_parser

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _shown_commands(text: str) -> list[str]:
    """`rag ...` lines inside the page's shell and text blocks (a `$ ` prompt allowed)."""
    blocks = re.findall(r"```(?:sh|bash|text|console)?\n(.*?)```", text, re.S)
    return [m.group(1) for b in blocks for line in b.splitlines()
            if (m := re.match(r"^\s*(?:\$ )?(?:\S+=\S+ )*(rag \w.*)$", line))]


def test_every_rag_command_and_flag_the_docs_show_exists() -> None:
    commands = _subcommands()
    shown = 0
    for page in PAGES:
        for line in _shown_commands(page.read_text()):
            words = line.split("#")[0].split()
            name = words[1]
            assert name in commands, f"{page.name}: `{line}` names no command {name!r}"
            flags = {o for a in commands[name]._actions for o in a.option_strings}
            for flag in re.findall(r"(?<![\w-])--[a-z][a-z-]*", " ".join(words[2:])):
                assert flag in flags, f"{page.name}: `{line}` shows {flag}, which rag {name} lacks"
            shown += 1
    assert shown >= 10  # the README's command block at least


def test_the_check_sees_a_flag_that_does_not_exist() -> None:
    assert _shown_commands("```sh\nrag ingest x --bogus\n```") == ["rag ingest x --bogus"]
    flags = {o for a in _subcommands()["ingest"]._actions for o in a.option_strings}
    assert "--bogus" not in flags and "--follow-links" in flags


def test_every_relative_link_leads_to_a_file() -> None:
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
