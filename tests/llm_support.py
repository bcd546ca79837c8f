"""Helpers for the tests that run the embedded LLM: find the 0.5B GGUF, read a few arXiv passages."""

from __future__ import annotations

import gzip
import json
import os
import socket
from pathlib import Path

import pytest

from synthneg.data.beir import Document
from synthneg.llm.registry import DEFAULT_LLM, EMBEDDED_LLMS


def require_llama_cpp() -> None:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install 'synthneg[llm]')")


def gguf_path() -> Path:
    """The assembled 0.5B model: the user cache when it is already there (verified stamp), else assemble it."""
    require_llama_cpp()
    model = EMBEDDED_LLMS[DEFAULT_LLM]
    cached = Path.home() / ".cache" / "synthneg" / "models" / model.filename
    stamp = cached.with_suffix(".sha256")
    if cached.is_file() and stamp.is_file() and stamp.read_text().strip() == model.sha256:
        return cached
    from synthneg.errors import ModelError
    from synthneg.llm.registry import resolve_gguf

    try:
        return resolve_gguf(DEFAULT_LLM)
    except ModelError as exc:
        pytest.skip(f"embedded model unavailable: {exc}")


def arxiv_documents(path: Path, n: int, max_words: int = 120) -> list[Document]:
    """The first ``n`` arXiv records with abstracts of at most ``max_words`` words (short prompts = fast tests)."""
    docs: list[Document] = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            abstract = " ".join(rec["abstract"].split())
            if len(abstract.split()) <= max_words:
                docs.append(Document(rec["id"], " ".join(rec["title"].split()), abstract))
            if len(docs) == n:
                break
    return docs


def write_passages(path: Path, docs: list[Document]) -> Path:
    path.write_text(
        "".join(json.dumps({"id": d.id, "title": d.title, "text": d.text}) + "\n" for d in docs), encoding="utf-8"
    )
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def subprocess_env(cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    env["SYNTHNEG_CACHE"] = str(cache)
    return env


def queries_run(arxiv_path: Path, tmp_path: Path, n: int = 3) -> tuple[list[str], Path, dict[str, str]]:
    """A real ``synthneg queries`` command line on ``n`` arXiv passages with the embedded 0.5B, single stream (so
    reruns replay byte for byte): the argv, its output folder and the environment to run it in."""
    import sys

    passages = write_passages(tmp_path / "p.jsonl", arxiv_documents(arxiv_path, n))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "synthneg", "queries", str(passages), "--out", str(out), "--model", str(gguf_path())]
    cmd += ["--no-progress", "--parallel", "1", "--seed", "5"]
    return cmd, out, subprocess_env(tmp_path / "cache")
