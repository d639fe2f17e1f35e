"""Loaders: paths (files and folders) and URLs into Articles, or Skips that say why not.

Nothing here raises on bad input: every problem becomes a Skip naming the file (and line)
and the reason, so the rest of a batch still goes in.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from index.loaded import Loaded, Skip, bom_encoding, megabytes, nonempty
from index.metadata import make_article

TEXT_EXT = {".txt", ".md", ".markdown"}
HTML_EXT = {".html", ".htm"}
JSON_EXT = {".json", ".jsonl", ".ndjson"}
SUPPORTED = TEXT_EXT | HTML_EXT | JSON_EXT
TEXT_FIELDS = ("text", "body", "content")
# json's C parser counts each nested [ or { against the interpreter's recursion limit and
# raises RecursionError past it (about a thousand levels): the bound holds while parsing,
# before the nesting is built in memory. Articles nest two or three levels deep.
TOO_DEEP = ("JSON nested too deeply to read (about a thousand [ or { inside each other): "
            "not an article or a list of articles")


def load_paths(paths: list[str], max_bytes: int, fetch_timeout: float) -> Iterator[Loaded]:
    """Articles from files, folders (recursive) and http(s) URLs, in a stable order."""
    for raw in paths:
        if raw.startswith(("http://", "https://")):
            from index.web import load_url

            yield from load_url(raw, fetch_timeout, max_bytes)
            continue
        path = Path(raw).expanduser()
        if not path.exists():
            yield Skip(raw, missing_reason(path))
        elif path.is_dir():
            yield from _load_dir(path, max_bytes)
        elif not path.is_file():
            # A FIFO or device would block or never end on read_bytes().
            yield Skip(raw, "not a regular file (a pipe, socket or device)")
        else:
            yield from load_file(path, max_bytes)


def _load_dir(folder: Path, max_bytes: int) -> Iterator[Loaded]:
    found = False
    for path in sorted(p for p in folder.rglob("*") if p.is_file() or p.is_symlink()):
        if any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue  # hidden files and folders (.git, .DS_Store) are not articles
        if path.is_file():
            found = True
            yield from load_file(path, max_bytes)
        elif not path.exists():  # a link that leads nowhere, or back to itself
            found = True
            yield Skip(str(path), missing_reason(path))
    if not found:
        yield Skip(str(folder), "empty folder: no files to ingest")


def load_file(path: Path, max_bytes: int) -> Iterator[Loaded]:
    where = str(path)
    ext = path.suffix.lower()
    if ext not in SUPPORTED:
        yield Skip(where, f"unsupported file type {ext or '(no extension)'}: "
                          f"expected one of {' '.join(sorted(SUPPORTED))}")
        return
    try:
        size = path.stat().st_size
    except OSError as exc:  # gone or unreadable since the folder was listed
        yield Skip(where, f"cannot read the file: {exc.strerror or exc}")
        return
    if size > max_bytes:
        yield Skip(where, f"file is {megabytes(size)}, over the {megabytes(max_bytes)} "
                          "limit (RAG_MAX_FILE_MB)")
        return
    text_or_skip = read_text(path)
    if isinstance(text_or_skip, Skip):
        yield text_or_skip
        return
    origin = str(path.resolve())
    if ext in JSON_EXT:
        yield from _json_records(text_or_skip, origin, jsonl=ext != ".json")
    elif ext in HTML_EXT:
        from index.web import article_from_html

        yield article_from_html(text_or_skip, origin=origin, url=None)
    else:
        if ext != ".txt":
            from index.metadata import strip_markdown

            text_or_skip = strip_markdown(text_or_skip)
        yield nonempty(make_article(text_or_skip, origin=origin))


def missing_reason(path: Path) -> str:
    """Why a path that does not exist (for os.path.exists) cannot be read: a symlink loop, a
    broken symlink, or nothing there at all."""
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop: the link leads back to itself"
    if path.is_symlink():
        return f"broken symbolic link: it points to {os.readlink(path)}, which does not exist"
    return "no such file or folder"


def read_text(path: Path) -> str | Skip:
    """Decide text by decoding, never by magic bytes (`file` calls a text starting 'Blin'
    binary): a UTF-16/32 byte order mark means that encoding; else NUL bytes mean binary;
    otherwise it must be UTF-8."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return Skip(str(path), f"cannot read the file: {exc.strerror or exc}")
    wide = bom_encoding(data)
    if wide:
        try:
            return data.decode(wide).removeprefix("\ufeff")
        except UnicodeDecodeError as exc:
            return Skip(str(path), f"starts like {wide.upper()} text but is not valid "
                                   f"{wide.upper()} (bad bytes at offset {exc.start}); "
                                   "re-save it as UTF-8")
    if b"\x00" in data[:65536]:
        return Skip(str(path), "binary file (contains NUL bytes), not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return Skip(str(path), f"not UTF-8 text (invalid byte 0x{data[exc.start]:02x} at "
                               f"offset {exc.start}); re-save it as UTF-8")


def _json_records(text: str, origin: str, jsonl: bool) -> Iterator[Loaded]:
    if jsonl:
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield Skip(f"{origin}:{lineno}", f"malformed JSON line: {exc.msg}")
                continue
            except RecursionError:
                yield Skip(f"{origin}:{lineno}", TOO_DEEP)
                continue
            yield _record(record, f"{origin}#{lineno}", f"{origin}:{lineno}")
        return
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        yield Skip(origin, f"malformed JSON at line {exc.lineno}: {exc.msg}")
        return
    except RecursionError:
        yield Skip(origin, TOO_DEEP)
        return
    if isinstance(data, dict) and isinstance(data.get("articles"), list):
        data = data["articles"]
    records = data if isinstance(data, list) else [data]
    for i, record in enumerate(records):
        yield _record(record, f"{origin}#{i}", f"{origin}[{i}]")


def _record(record: Any, origin: str, where: str) -> Loaded:
    if not isinstance(record, dict):
        return Skip(where, "record is not a JSON object")
    text = next((record[f] for f in TEXT_FIELDS if isinstance(record.get(f), str)), None)
    if text is None:
        return Skip(where, "record has no text, body or content field")
    url = record.get("url") if isinstance(record.get("url"), str) else None
    article = make_article(text, origin=url or origin, url=url,
                           title=_str(record.get("title")), source=_str(record.get("source")),
                           date=_str(record.get("date")))
    return nonempty(article) if article.text else Skip(where, "empty article: no text")


def _str(v: Any) -> str | None:
    return str(v) if isinstance(v, str | int | float) and str(v).strip() else None
