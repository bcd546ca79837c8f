"""SIGKILL during a generation subprocess, then rerun: no finished call lost or paid twice, same output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from llm_support import arxiv_documents, gguf_path, subprocess_env, write_passages

N = 2


def _cmd(passages, out, model):
    return [
        sys.executable,
        "-m",
        "synthneg",
        "-q",
        "queries",
        str(passages),
        "--out",
        str(out),
        "--model",
        str(model),
        "--no-progress",
        "--parallel",
        "1",  # the single stream: byte-identical replay after a crash (the batched default is not bit-stable)
        "--max-attempts",
        "2",
        "--seed",
        "3",
    ]


def _keys(store):
    return [json.loads(line)["key"] for line in store.read_text().splitlines() if line.strip()]


def test_kill9_then_resume_equals_uninterrupted_run(arxiv_path, tmp_path):
    model = gguf_path()
    passages = write_passages(tmp_path / "passages.jsonl", arxiv_documents(arxiv_path, N, max_words=70))
    env = subprocess_env(tmp_path / "cache")

    killed = tmp_path / "killed"
    store = killed / "queries.calls.jsonl"
    proc = subprocess.Popen(_cmd(passages, killed, model), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if store.is_file() and len(_keys(store)) >= 1:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed: " + proc.stderr.read().decode()[-500:]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _keys(store)
    assert 1 <= len(before) < N
    with store.open("ab") as fh:  # the worst case: killed in the middle of writing a record
        fh.write(b'{"key": "deadbeef", "crc": "0000')

    rerun = subprocess.run(
        _cmd(passages, killed, model), env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert rerun.returncode == 0, rerun.stderr
    after = _keys(store)
    assert after[: len(before)] == before  # nothing finished was lost
    assert len(after) == len(set(after))  # nothing was paid twice
    cost = json.loads((killed / "queries.cost.json").read_text())
    assert cost["cached_calls"] == len(before) and cost["calls"] == len(after) - len(before)

    clean = tmp_path / "clean"
    full = subprocess.run(
        _cmd(passages, clean, model), env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert full.returncode == 0, full.stderr
    assert (killed / "queries.jsonl").read_text() == (clean / "queries.jsonl").read_text()
    assert (killed / "queries.rejects.jsonl").read_text() == (clean / "queries.rejects.jsonl").read_text()
    assert sorted(after) == sorted(_keys(clean / "queries.calls.jsonl"))
