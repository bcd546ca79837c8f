"""Stage bookkeeping for the experiment: a done-marker keyed by the stage's inputs, and the wall and
CPU seconds of every stage, so that a rerun redoes nothing finished and the report can state costs."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from synthneg import atomic

logger = logging.getLogger(__name__)


def file_digest(path: Path) -> str:
    """sha256 (first 16 hex) of a file's bytes."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically."""
    atomic.write_json(path, data)


def _read_marker(marker: Path) -> dict[str, Any]:
    if not marker.is_file():
        return {}
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, OSError):
        return {}
    return data if isinstance(data, dict) else {}


def is_done(marker: Path, key: str) -> bool:
    """Whether ``marker`` records a finished stage with this input ``key``."""
    return _read_marker(marker).get("key") == key


def write_marker(marker: Path, key: str, output: Path | None = None) -> str | None:
    """Mark a stage done under its input ``key``; with ``output``, also record that file's digest (returned),
    so that a checkout without the (git-ignored, rebuildable) file still knows what its next stages are
    keyed by."""
    digest = file_digest(output) if output is not None else None
    write_json(marker, {"key": key, **({"output": digest} if digest is not None else {})})
    return digest


def recorded_output(marker: Path, key: str) -> str | None:
    """The output digest that ``marker`` recorded when its stage finished under ``key``; None if it did not
    (another key, or a marker written before output digests were recorded)."""
    data = _read_marker(marker)
    return data.get("output") if data.get("key") == key else None


def mark_rebuilt(stage: str, marker: Path, key: str, output: Path) -> None:
    """Mark a data stage done; warn when it had finished before under the same key with other bytes
    (the fine-tunes keyed by the old bytes are then trained again)."""
    before = recorded_output(marker, key)
    after = write_marker(marker, key, output)
    if before is not None and before != after:
        logger.warning(
            "%s: rebuilt %s differs from the file this stage wrote before under the same inputs (digest %s, "
            "now %s); the fine-tunes on it will be trained again",
            stage,
            output.name,
            before,
            after,
        )


def differs(marker: Path, key: str, output: Path) -> bool:
    """Whether ``output`` is not the file that ``marker`` recorded under ``key`` (False when none was)."""
    before = recorded_output(marker, key)
    return before is not None and before != file_digest(output)


def record_output(marker: Path, key: str, output: Path) -> None:
    """Add the output's digest to a marker written before markers recorded it (a marker of an older run)."""
    if recorded_output(marker, key) is None:
        write_marker(marker, key, output)


NEW_OUTPUT = "_new_output"  # see StageLog.timed


class StageLog:
    """``stages.json``: per stage, the key, wall seconds and CPU seconds of the run that finished it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    @contextmanager
    def timed(self, name: str, key: str, **extra: Any) -> Iterator[dict[str, Any]]:
        """Time a stage; on success record ``{key, wall_s, cpu_s, finished, **extra}`` (extra may be filled in).

        A stage already logged under the same ``key`` keeps its entry: same inputs, same output, so a rerun
        is a rebuild (a fresh clone remaking its git-ignored files from the committed stores in seconds),
        and the entry of the run that did the work stays the stage's cost. A stage that finds its output
        differs from the one logged sets ``info[NEW_OUTPUT] = True``, and its entry is replaced.
        """
        info: dict[str, Any] = dict(extra)
        w0, c0 = time.perf_counter(), time.process_time()
        yield info
        if not info.pop(NEW_OUTPUT, False) and self.data.get(name, {}).get("key") == key:
            return
        info.update(
            key=key,
            wall_s=round(time.perf_counter() - w0, 2),
            cpu_s=round(time.process_time() - c0, 2),
            finished=time.strftime("%Y-%m-%dT%H:%M:%S"),
        )
        self.data[name] = info
        write_json(self.path, self.data)

    def get(self, name: str) -> dict[str, Any]:
        return self.data.get(name, {})
