"""`rag`: the command line. Heavy modules are imported inside each command so `rag --help`
is instant. Errors become one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from rag.errors import RagError
from rag.settings import Settings, load_settings
from rag.text import json_safe

if TYPE_CHECKING:
    from index.pipeline import IngestSummary


def _settings(args: argparse.Namespace, **extra: object) -> Settings:
    overrides: dict[str, object] = {k: v for k, v in extra.items() if v is not None}
    for opt, field in (("store", "store_dir"), ("llm", "llm"), ("top_k", "top_k"),
                       ("retrieval", "retrieval_mode"), ("collection", "collection"),
                       ("judge", "judge"), ("judge_model", "judge_model"),
                       ("host", "host"), ("port", "port")):
        value = getattr(args, opt, None)
        if value is not None:
            overrides[field] = value
    return load_settings(**overrides)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", help="store folder (RAG_STORE_DIR)")
    p.add_argument("--collection", help="collection name (RAG_COLLECTION)")


def _add_listen_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", help="address to listen on (RAG_HOST)")
    p.add_argument("--port", type=int, help="port to listen on (RAG_PORT)")


def _add_answer_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--llm", choices=["auto", "extractive", "openai", "local", "scripted"],
                   help="answer backend (RAG_LLM)")
    p.add_argument("--top-k", type=int, help="passages handed to the answerer (RAG_TOP_K)")
    p.add_argument("--retrieval", choices=["hybrid", "dense", "bm25"],
                   help="retriever (RAG_RETRIEVAL)")


# --- ingest / stats -------------------------------------------------------------------------
def cmd_ingest(args: argparse.Namespace) -> int:
    from index.pipeline import ingest
    from ui.handoff import ingest_via_server, running_server

    settings = _settings(args)
    server = running_server(settings)
    if server is not None:  # it owns the embedded store: it does the writing
        print(f"rag ingest: `rag serve` ({server[0]}) is using this store; it is ingesting",
              file=sys.stderr)
        summary = ingest_via_server(*server, args.paths, args.prune, args.follow_links)
        return _ingest_report(args, summary)
    bar = _progress_bar(args)
    summary = ingest(args.paths, settings, prune=args.prune, follow_links=args.follow_links,
                     progress=bar.wrap if bar else None,
                     on_embedded=bar.embedded if bar else None,
                     on_wait=lambda why: print(f"rag ingest: {why}", file=sys.stderr))
    if bar:
        bar.close()
    return _ingest_report(args, summary)


class _Bar:
    """A progress bar on stderr: files read, chunks embedded, the rate. It appears only
    once an ingest has taken 1.5 s, so a quick one prints its summary alone."""

    def __init__(self) -> None:
        from tqdm import tqdm

        self.bar = tqdm(desc="ingesting", unit=" file", file=sys.stderr, delay=1.5,
                        dynamic_ncols=True)

    def wrap(self, items: Any) -> Any:
        for item in items:
            self.bar.update(1)
            yield item

    def embedded(self, chunks: int) -> None:
        self.bar.set_postfix_str(f"{chunks:,} chunks embedded", refresh=True)

    def close(self) -> None:
        self.bar.close()


def _progress_bar(args: argparse.Namespace) -> _Bar | None:
    """None with --json or when stderr is not a terminal (a log, a pipe, CI)."""
    return None if args.json or not sys.stderr.isatty() else _Bar()


def _ingest_report(args: argparse.Namespace, summary: IngestSummary) -> int:
    if args.json:
        print(json_safe(json.dumps(summary.to_json(), ensure_ascii=False)))
    else:
        from ui.render import ingest_summary

        print(ingest_summary(summary))
    if summary.interrupted:
        return 130
    nothing = summary.ingested == 0 and summary.removed == 0
    return 1 if nothing and (summary.skipped or not args.prune) else 0


def cmd_stats(args: argparse.Namespace) -> int:
    from rag.retrieve.stats import store_stats

    stats = store_stats(_settings(args))
    if args.json:
        print(json_safe(json.dumps(stats, ensure_ascii=False)))
    else:
        size = stats["bytes"]
        print(f"store       {stats['store']}\n"
              f"articles    {stats['articles']}\n"
              f"chunks      {stats['chunks']}\n"
              f"embed model {stats['embed_model']}\n"
              f"size        {'n/a (server)' if size is None else f'{size / 1e6:.1f} MB'}")
    return 0


# --- ask / eval / chat / serve --------------------------------------------------------------
def cmd_ask(args: argparse.Namespace) -> int:
    from ui.ask import run_ask

    return run_ask(args, _settings(args))


def cmd_eval(args: argparse.Namespace) -> int:
    from evals.cli import run_eval

    return run_eval(args, _settings(args))


def cmd_chat(args: argparse.Namespace) -> int:
    from ui.api import launch_chat

    return launch_chat(_settings(args), share=False, open_browser=not args.no_browser)


def cmd_serve(args: argparse.Namespace) -> int:
    from ui.api import serve

    return serve(_settings(args))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag", description="Answers from your articles, every claim quoted and cited.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("ingest", help="add files, folders and URLs to the store")
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help=".txt .md .html .json .jsonl files, folders, http(s) pages or feeds")
    p.add_argument("--prune", action="store_true", help="remove articles whose files are gone")
    p.add_argument("--follow-links", action="store_true",
                   help="inside a folder, follow symbolic links that lead out of it")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    _add_common(p)
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("stats", help="what the store holds")
    p.add_argument("--json", action="store_true")
    _add_common(p)
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("ask", help="answer a question with cited evidence")
    p.add_argument("question")
    p.add_argument("--history", metavar="FILE",
                   help="JSON list of {role, content}: earlier turns of the conversation")
    p.add_argument("--json", action="store_true", help="print the Answer object as JSON")
    p.add_argument("--no-stream", action="store_true", help="do not stream LLM tokens")
    _add_common(p)
    _add_answer_opts(p)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("eval", help="run an eval set and report metrics")
    p.add_argument("set", nargs="?", metavar="SET.jsonl")
    p.add_argument("--docs", metavar="DIR", help="ingest DIR into a fresh temporary store first")
    p.add_argument("--out", metavar="DIR", help="where report.json, report.md and the chart go")
    p.add_argument("--compare", nargs=2, metavar=("A.json", "B.json"),
                   help="print metric deltas and flipped questions between two reports "
                        "(with --out, also compare.md and a chart)")
    p.add_argument("--baseline", metavar="A.json",
                   help="compare this run with an earlier report.json (report.md and chart)")
    p.add_argument("--limit", type=int, help="only the first N questions")
    p.add_argument("--fail-under", action="append", metavar="METRIC=VALUE",
                   help="exit 3 when METRIC ends below VALUE (above, for latency_*_ms); "
                        "repeatable, e.g. --fail-under quote_validity=1")
    p.add_argument("--judge", choices=["off", "openai", "local"],
                   help="support judge: checks each cited sentence against its quotes (RAG_JUDGE)")
    p.add_argument("--judge-model", metavar="MODEL",
                   help="judge model name (openai) or .gguf path (local) (RAG_JUDGE_MODEL)")
    _add_common(p)
    _add_answer_opts(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("chat", help="open the chat window (Gradio)")
    p.add_argument("--no-browser", action="store_true")
    _add_common(p)
    _add_answer_opts(p)
    _add_listen_opts(p)
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("serve", help="HTTP API, OpenAI-compatible endpoint, chat and widget")
    _add_common(p)
    _add_answer_opts(p)
    _add_listen_opts(p)
    p.set_defaults(func=cmd_serve)
    return parser


def _stdout_closed() -> bool:
    """Is stdout a pipe whose reader has gone? If so, point it at /dev/null so the exit
    flush stays silent."""
    import os
    import select

    try:
        fd = sys.stdout.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        closed = any(ev & select.POLLERR for _, ev in poller.poll(0))
    except (OSError, ValueError, AttributeError):  # a replaced stdout (tests, embedding)
        return False
    if closed:
        os.dup2(os.open(os.devnull, os.O_WRONLY), fd)
    return closed


def _sigterm_as_ctrl_c() -> None:
    """SIGTERM (`timeout`, `kill`, a service manager) stops an ingest or an eval as Ctrl-C
    does: the batch finished, the summary printed, exit 130."""
    import signal

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    with contextlib.suppress(ValueError):  # not the main thread (embedded in a host)
        signal.signal(signal.SIGTERM, interrupt)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in ("ingest", "eval"):  # long work; `rag serve` has uvicorn's own
        _sigterm_as_ctrl_c()
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        code = func(args)
        sys.stdout.flush()  # a closed pipe shows here, not at exit where it cannot be caught
        return code
    except RagError as exc:
        print(f"rag {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"rag {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError as exc:
        if not _stdout_closed():
            print(f"rag {args.command}: unexpected error: {exc}", file=sys.stderr)
            return 1
        return 141  # `rag ask ... | head`: the reader left; nothing to report
    except Exception as exc:  # the last line of defence: one line, no traceback
        print(f"rag {args.command}: unexpected error: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
