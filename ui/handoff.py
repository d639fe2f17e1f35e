"""`rag ingest` while `rag serve` runs on the same embedded store: the server owns the store.

Chroma's embedded PersistentClient is not made for one process writing a folder that
another reads: a server answering while a CLI ingested into its folder gave HTTP 500s and
"Error finding id" until restarted. So `rag serve` announces itself in the store folder
(`serving.json`: its loopback URL, pid and a random key, readable by the folder's owner
only), and `rag ingest` on that folder hands the work to it over loopback: one writer, in
the process that also reads, and nothing extra to start by hand. Having access to the store
folder is what lets a caller ingest: the key is in that folder.

A Chroma server (CHROMA_HOST) takes writes from many processes itself: no hand-off then.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import RagError
from rag.settings import Settings

if TYPE_CHECKING:
    from index.pipeline import IngestSummary
    from rag.service import RagService

SERVING = "serving.json"
KEY_HEADER = "X-Rag-Ingest-Key"
_ingest_lock = threading.Lock()


def serving_file(settings: Settings) -> Path:
    return settings.store_dir / SERVING


def announce(settings: Settings, url: str) -> str | None:
    """Record this server in its embedded store folder; returns the hand-off key (None in
    server mode, where every process writes to the Chroma server directly)."""
    if settings.chroma_host:
        return None
    key = secrets.token_urlsafe(32)
    path = serving_file(settings)
    tmp = path.with_name(f".{SERVING}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"url": url, "pid": os.getpid(), "key": key}, f)
    tmp.replace(path)
    return key


def withdraw(settings: Settings, key: str | None) -> None:
    """Remove the announcement if it is still ours."""
    path = serving_file(settings)
    with contextlib.suppress(OSError, ValueError):
        if key and json.loads(path.read_text()).get("key") == key:
            path.unlink()


def running_server(settings: Settings) -> tuple[str, str] | None:
    """(url, key) of a live `rag serve` on this embedded store, or None."""
    if settings.chroma_host:
        return None
    try:
        info = json.loads(serving_file(settings).read_text())
        url, key, pid = str(info["url"]), str(info["key"]), int(info["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None  # left by a server that was killed
    except PermissionError:
        pass
    import httpx

    try:
        if httpx.get(f"{url}/healthz", timeout=5).is_success:
            return url, key
    except httpx.HTTPError:
        pass
    return None


def ingest_via_server(url: str, key: str, paths: list[str], prune: bool,
                      follow_links: bool = False) -> IngestSummary:
    """Ask the running server to ingest `paths` (made absolute here: the server resolves
    them from its own folder) and return its summary."""
    import httpx

    from index.pipeline import IngestSummary, as_named

    sent = [p if "://" in p else str(Path(p).absolute()) for p in paths]
    try:
        r = httpx.post(f"{url}/api/ingest", json={"paths": sent, "prune": prune,
                                                        "follow_links": follow_links},
                       headers={KEY_HEADER: key}, timeout=httpx.Timeout(10, read=None))
    except httpx.HTTPError as exc:
        raise RagError(f"the running `rag serve` at {url} did not take the ingest: {exc}"
                       ) from None
    body: dict[str, Any] = r.json() if r.headers.get("content-type", "").startswith(
        "application/json") else {}
    if not r.is_success:
        raise RagError(f"the running `rag serve` at {url} refused the ingest: "
                       f"{body.get('error', r.text[:200])}")
    return as_named(IngestSummary(**body["summary"]), paths)


def ingest_in_server(service: RagService, settings: Settings, paths: list[str],
                     prune: bool, follow_links: bool = False) -> IngestSummary:
    """The server side: one ingest at a time, with the service's embedder; the lexical
    index is caught up before returning, so the next question finds the new articles."""
    from index.pipeline import Ingestor

    with _ingest_lock:
        ingestor = Ingestor(settings, embedder=service.embedder)
        try:
            summary = ingestor.run(paths, prune=prune, follow_links=follow_links)
        finally:
            ingestor.close()
        service.lexical.ensure_current(service.store)
        service.lexical.refresh()
    return summary
