"""The lexical index's merged segment on disk: one folder per merge, named by the index file
it came from and the last row and deletion it holds, published by an atomic rename (a
reader sees a whole segment or none) and superseded by the next merge. A process that still
maps an older folder keeps reading it after it is removed (the files live until unmapped).

    <root>/seg-<file id>-<max rowid>-<max seq>/  the arrays of rag/retrieve/postings.py
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
from pathlib import Path

from rag.retrieve.postings import MappedSegment, Segment, write_segment

log = logging.getLogger("rag.retrieve.lexical")

_NAME = re.compile(r"^seg-([0-9a-f]+)-(\d+)-(\d+)$")


def latest(root: Path, file_id: str) -> tuple[Path, int, int] | None:
    """The newest published segment of this index file: (folder, max rowid, max seq)."""
    best: tuple[Path, int, int] | None = None
    if not root.is_dir():
        return None
    for entry in root.iterdir():
        m = _NAME.match(entry.name)
        if m and m.group(1) == file_id:
            found = (entry, int(m.group(2)), int(m.group(3)))
            if best is None or found[1:] > best[1:]:
                best = found
    return best


def load(root: Path, file_id: str) -> tuple[MappedSegment, int, int] | None:
    """The newest segment mapped, or None (none yet, or unreadable: then it is rebuilt)."""
    found = latest(root, file_id)
    if found is None:
        return None
    folder, max_rowid, max_seq = found
    try:
        return MappedSegment(folder), max_rowid, max_seq
    except (OSError, ValueError) as exc:
        log.warning("lexical segment %s is unreadable (%s): rebuilding it", folder, exc)
        shutil.rmtree(folder, ignore_errors=True)
        return None


def save(root: Path, file_id: str, seg: Segment, max_rowid: int, max_seq: int) -> Path:
    """Publish a segment; remove the ones it supersedes. Returns its folder."""
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"seg-{file_id}-{max_rowid}-{max_seq}"
    if not final.exists():
        tmp = root / f".tmp-{os.getpid()}-{final.name}"
        shutil.rmtree(tmp, ignore_errors=True)
        write_segment(seg, tmp)
        try:
            tmp.rename(final)
        except OSError:  # another process published the same state first
            shutil.rmtree(tmp, ignore_errors=True)
    for entry in root.iterdir():
        m = _NAME.match(entry.name)
        older = m is not None and (m.group(1) != file_id
                                   or (int(m.group(2)), int(m.group(3))) < (max_rowid, max_seq))
        # A killed writer's leftovers go once they are an hour old; a live writer's stay.
        abandoned = entry.name.startswith(".tmp-") and time.time() - _mtime(entry) > 3600
        if older or abandoned:
            shutil.rmtree(entry, ignore_errors=True)
    return final


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()
