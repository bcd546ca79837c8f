"""The ``synthneg`` command line as a user runs it (a real subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import make_beir


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "synthneg", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300
    )


def test_help_and_version() -> None:
    out = run_cli("--help")
    assert out.returncode == 0 and "evaluate" in out.stdout
    assert run_cli("--version").stdout.startswith("synthneg ")


def test_evaluate_bm25_writes_json_and_run(tmp_path: Path) -> None:
    folder = make_beir(tmp_path / "tiny")
    out = run_cli(
        "evaluate",
        "--model",
        "bm25",
        "--dataset",
        str(folder),
        "--output",
        str(tmp_path / "r.json"),
        "--save-run",
        str(tmp_path / "run.trec"),
    )
    assert out.returncode == 0, out.stderr
    assert "nDCG@10" in out.stdout and "bm25" in out.stdout
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["model"] == "bm25" and data["metrics"]["nDCG@10"] > 0.9
    assert (tmp_path / "run.trec").read_text().count("\n") >= 3


def test_bad_input_exits_2_with_location(tmp_path: Path) -> None:
    folder = make_beir(tmp_path / "tiny")
    (folder / "corpus.jsonl").write_text('{"_id": "d1", "text": "ok"}\n{"_id": "d2"}\n', encoding="utf-8")
    out = run_cli("evaluate", "--model", "bm25", "--dataset", str(folder))
    assert out.returncode == 2
    assert "corpus.jsonl line 2: field 'text' is missing" in out.stderr
    assert "Traceback" not in out.stderr


def test_not_a_beir_folder_exits_2(tmp_path: Path) -> None:
    out = run_cli("data", "info", str(tmp_path))
    assert out.returncode == 2 and "not a BEIR folder" in out.stderr and "Traceback" not in out.stderr


def test_data_info_scifact(scifact_dir: Path) -> None:
    out = run_cli("data", "info", str(scifact_dir))
    assert out.returncode == 0 and "5183" in out.stdout and "300" in out.stdout


def test_usage_error_exits_2_without_traceback() -> None:
    out = run_cli("evaluate", "--no-such-option")
    assert out.returncode == 2 and "No such option" in out.stderr and "Traceback" not in out.stderr
