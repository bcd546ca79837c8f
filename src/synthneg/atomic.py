"""Atomic file replacement: a reader sees the old file or the new one, never half of one.

Every output that synthneg rewrites (stage markers, triples, query records, cost ledgers, results) goes through
:func:`atomic_path`: the content is written to ``<name>.tmp`` next to the target, flushed to disk, then renamed over it.
If writing fails (disk full, a crash), the target is untouched and the temporary file is removed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path to write; on success it replaces ``path`` (after fsync), on failure it is deleted."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        yield tmp
        with tmp.open("rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str) -> Path:
    """Replace ``path`` with ``text`` (UTF-8) atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | Path, data: Any, *, indent: int = 2, sort_keys: bool = True) -> Path:
    """Replace ``path`` with ``data`` as JSON atomically (non-JSON values as their ``str``)."""
    return write_text(path, json.dumps(data, indent=indent, sort_keys=sort_keys, default=str) + "\n")


def write_jsonl(rows: Iterable[dict[str, Any]], path: str | Path) -> Path:
    """Replace ``path`` with one JSON object per line, atomically."""
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    return Path(path)


def check_writable(*paths: str | Path | None) -> None:
    """Fail before the work, not after it: create each target's folder and a probe file beside the target.

    Raises the operating system's error (``PermissionError``, ``OSError`` with ENOSPC or EROFS), which the CLI turns
    into one line. ``None`` entries are skipped.
    """
    for target in (Path(p) for p in paths if p is not None):
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            probe = target.with_name(f".{target.name}.probe-{os.getpid()}")
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:  # name the target, not the probe
            raise OSError(exc.errno, exc.strerror, str(target)) from None
