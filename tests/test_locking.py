"""One writer per store and output folder: a second process is refused with a clear message, and a killed holder
leaves no stale lock. Real processes throughout; the last test runs two real ``synthneg queries`` into one folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from synthneg.generate.store import CallStore
from synthneg.llm.types import GenerationResult
from synthneg.locking import FOLDER_LOCK, InUseError, exclusive_folder

from llm_support import queries_run

SRC = str(Path(__file__).resolve().parents[1] / "src")

HOLD = """
import sys, time
from synthneg.locking import exclusive_folder
from synthneg.generate.store import CallStore
kind, target = sys.argv[1], sys.argv[2]
ctx = exclusive_folder(target) if kind == "folder" else CallStore(target)
with ctx:
    print("held", flush=True)
    sys.stdin.read()  # until the test closes stdin (or kills us)
"""


def _holder(kind: str, target: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, kind, str(target)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def _result(text: str) -> GenerationResult:
    return GenerationResult(text=text, finish_reason="stop", prompt_tokens=3, completion_tokens=2)


def test_a_second_process_is_refused_and_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    holder = _holder("folder", tmp_path / "out")
    try:
        with (
            pytest.raises(
                InUseError,
                match=rf"out: this output folder is being written by another synthneg process \(pid {holder.pid}",
            ),
            exclusive_folder(tmp_path / "out"),
        ):
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with exclusive_folder(tmp_path / "out") as lock:  # the kernel dropped the dead holder's lock
        assert lock.name == FOLDER_LOCK
        with exclusive_folder(tmp_path / "out"):  # re-entrant within one process
            pass


def test_call_store_has_one_writer_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "queries.calls.jsonl"
    with CallStore(path) as store:
        store.put("k1", _result("first"))
    holder = _holder("store", path)
    try:
        with pytest.raises(InUseError, match=r"queries\.calls\.jsonl: this call store is being written by another"):
            CallStore(path)
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        assert holder.wait(timeout=30) == 0
    with CallStore(path) as store:  # released on close: the next writer gets it, with everything stored
        assert store.get("k1") is not None and store.get("k1").text == "first"
        store.put("k2", _result("second"))
    assert len(CallStore(path)) == 2


def test_two_queries_runs_into_one_folder(arxiv_path: Path, tmp_path: Path) -> None:
    cmd, out, env = queries_run(arxiv_path, tmp_path, n=2)
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    info = out / (FOLDER_LOCK + ".json")
    deadline = time.monotonic() + 120
    while not info.exists():
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    _, err1 = first.communicate(timeout=600)
    assert first.returncode == 0, err1
    assert second.returncode == 2
    error = [line for line in second.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "being written by another synthneg process" in error[0], second.stderr
    assert f"pid {first.pid}" in second.stderr and "Traceback" not in second.stderr
    # the first run's store is whole: one record per call, every line parses, and a rerun pays nothing
    lines = (out / "queries.calls.jsonl").read_text(encoding="utf-8").splitlines()
    assert lines and all(json.loads(line)["key"] for line in lines)
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert (out / "queries.calls.jsonl").read_text(encoding="utf-8").splitlines() == lines
    assert not info.exists()
