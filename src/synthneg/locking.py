"""One writer per store and per output folder: a second process refuses at once with a clear message.

Two ``synthneg queries`` into one ``--out``, or two ``synthneg experiment`` on one config, would append to the same call
store and rewrite the same outputs. :func:`exclusive` takes an operating-system lock (``filelock``: ``flock`` on POSIX),
so the lock goes away with its process, even after ``kill -9``: a crashed run never leaves a stale lock behind. Within
one process the lock is re-entrant (the experiment runner holds its folder while its stages take their stores).
Who holds a lock (pid, command line, start time) is written next to it, for the refusal message.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from synthneg.errors import SynthnegError

FOLDER_LOCK = ".synthneg.lock"
_held: set[Path] = set()


class InUseError(SynthnegError):
    """Another process is writing the same store or output folder."""


def _holder(info: Path) -> str:
    try:
        data = json.loads(info.read_text(encoding="utf-8"))
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(data["since"])))
        return f" (pid {data['pid']}, `{data['command']}`, since {since})"
    except (OSError, ValueError, KeyError, TypeError):
        return ""


@contextmanager
def exclusive_folder(folder: str | Path, *, what: str = "output folder") -> Iterator[Path]:
    """Hold ``folder``'s lock (``<folder>/.synthneg.lock``) while the block runs; refuse if another process has it."""
    with _exclusive(Path(folder) / FOLDER_LOCK, Path(folder), what) as path:
        yield path


@contextmanager
def exclusive_file(store: str | Path, *, what: str = "store") -> Iterator[Path]:
    """Hold the lock of one store file (``<file>.lock``) while the block runs; refuse if another process has it."""
    store = Path(store)
    with _exclusive(store.with_name(store.name + ".lock"), store, what) as path:
        yield path


@contextmanager
def _exclusive(lock_file: Path, target: Path, what: str) -> Iterator[Path]:
    path = lock_file.resolve()
    if path in _held:  # re-entrant within this process: the outermost holder releases
        yield path
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    info = path.with_name(path.name + ".json")
    lock = FileLock(path, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise InUseError(
            f"{target}: this {what} is being written by another synthneg process{_holder(info)}; "
            "wait for it to finish, or write to another folder"
        ) from None
    _held.add(path)
    try:
        command = " ".join(["synthneg", *sys.argv[1:]]) if sys.argv else "python"
        info.write_text(json.dumps({"pid": os.getpid(), "command": command, "since": time.time()}), encoding="utf-8")
        yield path
    finally:
        _held.discard(path)
        info.unlink(missing_ok=True)
        lock.release()
