"""`rag ask`: one question, answered with cited evidence (streamed when an LLM writes it)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from rag.errors import InputError
from rag.settings import Settings
from rag.text import json_safe
from rag.types import Turn
from ui.render import answer_text


def read_history(path: str) -> list[Turn]:
    """A JSON list of {role, content}; anything else is an InputError naming the file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"--history {path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"--history {path}: not a JSON file ({exc})") from None
    try:
        return TypeAdapter(list[Turn]).validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise InputError(f"--history {path}: expected a list of {{role, content}} "
                         f"({where}: {first['msg']})") from None


def run_ask(args: argparse.Namespace, settings: Settings) -> int:
    from rag.service import RagService

    history = read_history(args.history) if args.history else []
    service = RagService(settings)
    streaming = not args.json and not args.no_stream and sys.stdout.isatty()
    answer = None
    for event in service.stream(args.question, history):
        if event.type == "token" and streaming:
            print(event.text, end="", flush=True)
        elif event.type == "answer":
            answer = event.answer
    assert answer is not None
    if args.json:
        print(json_safe(answer.model_dump_json(indent=2)))
        return 0
    if streaming and answer.backend != "extractive":
        print("\n\n--- verified answer ---")
    print(answer_text(answer))
    return 0
