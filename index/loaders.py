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


def load_paths(paths: list[str], max_bytes: int, fetch_timeout: float,
               follow_links: bool = False) -> Iterator[Loaded]:
    """Articles from files, folders (recursive) and http(s) URLs, in a stable order. Inside
    a folder, a symbolic link that leads out of it is not followed unless `follow_links`."""
    for raw in paths:
        if raw.startswith(("http://", "https://")):
            yield from _load_url(raw, fetch_timeout, max_bytes)
            continue
        path = Path(raw).expanduser()
        if not path.exists():
            yield Skip(raw, missing_reason(path))
        elif path.is_dir():
            yield from _load_dir(path, max_bytes, follow_links)
        elif not path.is_file():
            # A FIFO or device would block or never end on read_bytes().
            yield Skip(raw, "not a regular file (a pipe, socket or device)")
        else:
            yield from load_file(path, max_bytes)


def _load_url(url: str, fetch_timeout: float, max_bytes: int) -> Iterator[Loaded]:
    """A page or feed's articles, or Skips; a failure of its own is a Skip for that URL."""
    from index.web import load_url

    try:
        yield from load_url(url, fetch_timeout, max_bytes)
    except Exception as exc:
        yield Skip(url, f"could not read it: {type(exc).__name__}: {exc}")


def _load_dir(folder: Path, max_bytes: int, follow_links: bool) -> Iterator[Loaded]:
    found = False
    for path, skip in walk(folder, follow_links):
        found = True
        if skip is not None:
            yield Skip(str(path), skip)
        else:
            yield from load_file(path, max_bytes)
    if not found:
        yield Skip(str(folder), "empty folder: no files to ingest")


def walk(folder: Path, follow_links: bool) -> Iterator[tuple[Path, str | None]]:
    """Every file under `folder` as (path as named under it, None), in a stable order, or
    (path, why it is not read): a link that leads out of the folder (unless `follow_links`),
    a link back into a folder being walked (a loop), a broken link. Hidden files and
    folders (.git, .DS_Store) are not articles and are passed over.

    Example: list(walk(Path("empty"), False)) == []
    """
    top = folder.resolve()
    stack: list[tuple[Path, frozenset[Path]]] = [(folder, frozenset({top}))]
    while stack:
        here, ancestors = stack.pop()
        try:
            entries = sorted(os.scandir(here), key=lambda e: e.name)
        except OSError as exc:
            yield here, f"cannot read the folder: {exc.strerror or exc}"
            continue
        subfolders = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = here / entry.name
            if entry.is_symlink():
                why = _link_problem(path, top, ancestors, follow_links)
                if why is not None:
                    yield path, why
                    continue
            if entry.is_dir():
                subfolders.append((path, ancestors | {path.resolve()}))
            elif entry.is_file():
                yield path, None
        stack.extend(reversed(subfolders))


def _link_problem(path: Path, top: Path, ancestors: frozenset[Path],
                  follow_links: bool) -> str | None:
    """Why a symbolic link inside a walked folder is not read, or None to read it. A link to
    a file inside the folder is read (the duplicate check stores its text once); a link to a
    folder inside it is not walked again (its files are read where they are)."""
    if not path.exists():
        return missing_reason(path)
    target = path.resolve()
    inside = target == top or top in target.parents
    if not inside and not follow_links:
        return (f"symbolic link to {target}, outside {top}: not followed "
                "(rag ingest --follow-links follows it)")
    if target.is_dir() and any(target == a or target in a.parents for a in ancestors):
        return f"symbolic link loop: it leads back to {target}, a folder being read"
    if target.is_dir() and inside:
        return f"symbolic link to {target}, a folder already read where it is"
    return None


def load_file(path: Path, max_bytes: int) -> Iterator[Loaded]:
    """The file's articles, or Skips. Whatever goes wrong inside an extractor (a missing
    optional package, a parser's recursion limit) is a Skip for this file alone."""
    produced = 0
    try:
        for item in _load_file(path, max_bytes):
            produced += 1
            yield item
    except Exception as exc:
        what = "another record of it" if produced else "it"
        yield Skip(str(path), f"could not read {what}: {type(exc).__name__}: {exc}")


def _load_file(path: Path, max_bytes: int) -> Iterator[Loaded]:
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
