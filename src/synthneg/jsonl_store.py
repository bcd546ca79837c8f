"""An append-only ``key -> value`` store in a JSONL file, for the stores committed beside a run.

Each line is ``{"key": ..., <field>: value}``: text that diffs and merges in git. A torn last line (a crash mid-write)
is skipped on load, with a warning, and closed so that new records start on their own line; a key written twice keeps
its last value. Writes are flushed and fsynced before :meth:`JsonlStore.put_many` returns.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

logger = logging.getLogger(__name__)


class JsonlStore:
    """``key -> value`` (any JSON value) in the JSONL file at ``path``; subclasses name the value's ``field`` and check
    what they read in :meth:`decode` (an exception there marks the line unreadable)."""

    field: ClassVar[str] = "value"

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._values: dict[str, Any] = {}
        if path.is_file():
            with path.open(encoding="utf-8") as fh:
                for line in fh:
                    try:
                        row = json.loads(line)
                        self._values[str(row["key"])] = self.decode(row[self.field])
                    except (ValueError, KeyError, TypeError):
                        logger.warning("%s: skipping an unreadable line (an interrupted write?)", path)
            if _last_byte(path) not in (b"", b"\n"):
                with path.open("a", encoding="utf-8") as fh:
                    fh.write("\n")  # close the torn line so that new records start on their own line

    def decode(self, value: Any) -> Any:
        return value

    def __len__(self) -> int:
        return len(self._values)

    def get_many(self, keys: Sequence[str]) -> dict[str, Any]:
        return {k: self._values[k] for k in keys if k in self._values}

    def put_many(self, items: dict[str, Any]) -> None:
        new = {k: v for k, v in items.items() if self._values.get(k) != v}
        if not new:
            return
        with self.path.open("a", encoding="utf-8") as fh:
            fh.writelines(json.dumps({"key": k, self.field: v}) + "\n" for k, v in new.items())
            fh.flush()
            os.fsync(fh.fileno())
        self._values.update(new)

    def close(self) -> None:
        pass


def _last_byte(path: Path) -> bytes:
    with path.open("rb") as fh:
        if fh.seek(0, os.SEEK_END) == 0:
            return b""
        fh.seek(-1, os.SEEK_END)
        return fh.read(1)
