"""A full disk or an unwritable output folder: one clear error line, exit code 2, and every store written before stays
valid, so that the same command resumes. The disk fills for real: the run gets a file-size limit (RLIMIT_FSIZE, the
kernel's EFBIG, with SIGXFSZ ignored as a full disk raises ENOSPC), the only way to fill a disk without root mounts."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from synthneg.errors import STORAGE_ERRNOS

from conftest import make_beir
from llm_support import queries_run


def _limited(limit: int):
    def pre() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return pre


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def test_disk_full_during_generation_keeps_the_store_and_the_rerun_resumes(arxiv_path: Path, tmp_path: Path) -> None:
    cmd, out, env = queries_run(arxiv_path, tmp_path, n=2)
    full = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, preexec_fn=_limited(2000))
    assert full.returncode == 2, full.stderr
    errors = _error_lines(full.stderr)
    assert len(errors) == 1 and "cannot write: File too large" in errors[0] and "rerun" in errors[0], full.stderr
    assert "Traceback" not in full.stderr
    assert not list(out.glob("*.tmp")), "a failed atomic write left its temporary file"
    kept = [json.loads(line)["key"] for line in (out / "queries.calls.jsonl").read_bytes().splitlines()[:-1]]
    assert kept, "nothing was stored before the disk filled"

    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    records = [json.loads(line) for line in (out / "queries.calls.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["key"] for r in records[: len(kept)]] == kept  # the finished calls were kept and reused, not redone
    assert len({r["key"] for r in records}) == len(records)
    assert len((out / "queries.jsonl").read_text(encoding="utf-8").splitlines()) == 2
    ledger = json.loads((out / "queries.cost.json").read_text(encoding="utf-8"))
    assert ledger["cached_calls"] >= len(kept)


def _unwritable_folder(tmp_path: Path) -> Path:
    """A folder this process cannot create files in: a read-only tmp folder, or (as root) a sysfs path."""
    ro = tmp_path / "read-only"
    ro.mkdir()
    ro.chmod(0o555)
    for candidate in (ro, Path("/sys/synthneg-unwritable")):
        try:
            candidate.mkdir(exist_ok=True)
            (candidate / "probe").write_text("x")
        except OSError as exc:
            if exc.errno in STORAGE_ERRNOS:
                return candidate
            continue
        (candidate / "probe").unlink()
    pytest.skip("no unwritable folder on this machine (root on a writable sysfs)")


@pytest.mark.parametrize("command", ["queries", "evaluate"])
def test_unwritable_output_folder_is_one_clear_error(tmp_path: Path, command: str) -> None:
    folder = _unwritable_folder(tmp_path)
    if command == "queries":
        passages = tmp_path / "p.jsonl"
        passages.write_text(json.dumps({"id": "a", "text": "A passage about heat flow in thin films."}) + "\n")
        argv = ["queries", str(passages), "--out", str(folder / "out")]
    else:
        argv = ["evaluate", "--model", "bm25", "--dataset", str(make_beir(tmp_path / "tiny"))]
        argv += ["--output", str(folder / "r.json")]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    proc = subprocess.run(
        [sys.executable, "-m", "synthneg", *argv], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 2, proc.stderr
    errors = _error_lines(proc.stderr)
    assert len(errors) == 1 and "cannot write" in errors[0] and str(folder) in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr
