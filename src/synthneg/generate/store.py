"""A resumable, content-addressed store of finished LLM calls: append-only JSONL, fsync'd per record.

Key = sha256 of (model identity, template text, rendered messages, sampling parameters incl. seed).
Each finished call is one line ``{"key": ..., "crc": ..., "result": {...}}`` written with a single
``write`` + ``fsync``, so after a SIGKILL at any moment the file holds every finished call and at
most one torn last line. Loading detects a torn tail (no newline, bad JSON or a checksum mismatch),
truncates it away and logs it; that call is simply redone. A bad line *before* the end is not
something a crash produces, so it raises :class:`DataError` naming the line.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from synthneg.errors import DataError
from synthneg.llm.types import ChatRequest, GenerationResult
from synthneg.locking import exclusive_file

logger = logging.getLogger(__name__)


def call_key(model_id: str, template_sha256: str, request: ChatRequest) -> str:
    """The content address of one call."""
    payload = {
        "model": model_id,
        "template": template_sha256,
        "messages": request.messages_as_dicts(),
        "sampling": request.sampling.to_dict(),
    }
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _crc(key: str, result_json: str) -> str:
    return format(zlib.crc32(f"{key}\n{result_json}".encode()), "08x")


def iter_records(path: str | Path) -> Iterator[tuple[str, GenerationResult, dict[str, Any]]]:
    """Every intact record of a call store: its key, its result, and the fields stored beside them (``task_id``).
    A torn or corrupt line is skipped (reading never repairs; :class:`CallStore` does when it opens the file)."""
    with Path(path).open("rb") as fh:
        for line in fh:
            record = CallStore._parse(line)
            if record is not None:
                obj = json.loads(line)
                yield record[0], record[1], {k: v for k, v in obj.items() if k not in ("key", "crc", "result")}


class CallStore:
    """Finished calls by key; ``put`` is durable when it returns. One process at a time: a second one opening the
    same store gets :class:`~synthneg.locking.InUseError` (the lock dies with its process, even on kill -9)."""

    def __init__(self, path: str | Path, *, fsync: bool = True) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._data: dict[str, GenerationResult] = {}
        self.torn_records = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # one writer per store: taken before the torn-tail repair in _load, released by close()
        self._lock = exclusive_file(self.path, what="call store")
        self._lock.__enter__()
        try:
            self._load()
            self._fh = self.path.open("ab")
        except BaseException:
            self._lock.__exit__(None, None, None)
            raise

    def _load(self) -> None:
        if not self.path.exists():
            return
        raw = self.path.read_bytes()
        good_end = 0
        pos = 0
        lineno = 0
        while pos < len(raw):
            lineno += 1
            nl = raw.find(b"\n", pos)
            end = len(raw) if nl < 0 else nl
            record = self._parse(raw[pos:end]) if nl >= 0 else None
            if record is None:
                if nl >= 0 and raw[nl + 1 :].strip():
                    raise DataError(
                        "corrupt record in the middle of the call store (not a torn tail); "
                        "move the file away to regenerate",
                        path=self.path,
                        line=lineno,
                    )
                self.torn_records += 1
                logger.warning(
                    "%s: torn last record at line %d (an interrupted write); it will be redone", self.path, lineno
                )
                break
            key, result = record
            self._data[key] = result
            pos = end + 1
            good_end = pos
        if good_end < len(raw):
            with self.path.open("r+b") as fh:
                fh.truncate(good_end)
                fh.flush()
                os.fsync(fh.fileno())

    @staticmethod
    def _parse(line: bytes) -> tuple[str, GenerationResult] | None:
        try:
            obj = json.loads(line)
            key, result = obj["key"], obj["result"]
            if obj.get("crc") != _crc(key, json.dumps(result, sort_keys=True, ensure_ascii=False)):
                return None
            return key, GenerationResult.from_dict(result)
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
            return None

    def __contains__(self, key: str) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: str) -> GenerationResult | None:
        return self._data.get(key)

    def put(self, key: str, result: GenerationResult, **extra: Any) -> None:
        """Append one finished call and make it durable (one write, flush, fsync)."""
        res = result.to_dict()
        res_json = json.dumps(res, sort_keys=True, ensure_ascii=False)
        rec = {"key": key, "crc": _crc(key, res_json), **extra, "result": res}
        self._fh.write((json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8"))
        self._fh.flush()
        if self.fsync:
            os.fsync(self._fh.fileno())
        self._data[key] = result

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()
            self._lock.__exit__(None, None, None)

    def __enter__(self) -> CallStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
