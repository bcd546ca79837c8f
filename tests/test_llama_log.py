"""llama.cpp's log through Python logging at its real levels, on the real 0.5B: the batched decoder's expected
context warning stays off the console, and a load error is logged as an error (llama-cpp-python's own callback
does the reverse: it prints warnings and drops errors)."""

from __future__ import annotations

import logging

import pytest

from synthneg.errors import ModelError
from synthneg.llm import ChatRequest, SamplingParams, load_template
from synthneg.llm.llamacpp import LlamaCppGenerator

from llm_support import gguf_path

LOGGER = "synthneg.llama_cpp"


def test_the_batched_contexts_expected_warning_is_a_debug_line_not_console_noise(capfd, caplog):
    tpl = load_template("negative-query")
    reqs = [ChatRequest(tpl.render(query=q), SamplingParams(max_tokens=2, seed=1)) for q in ("dark matter", "MYC")]
    # 9 sequences x 4096 tokens in one unified cache exceed the 0.5B's 32,768 training context: llama.cpp warns
    gen = LlamaCppGenerator(str(gguf_path()), parallel=9, n_ctx=4096)
    capfd.readouterr()
    try:
        with caplog.at_level(logging.DEBUG, logger=LOGGER):
            out = gen.generate(reqs)
    finally:
        gen.close()
    assert len(out) == 2
    assert "n_ctx_seq" not in capfd.readouterr().err
    seen = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == LOGGER]
    assert any(level == logging.DEBUG and "n_ctx_seq (36864) > n_ctx_train" in msg for level, msg in seen), seen
    assert not [msg for level, msg in seen if level >= logging.WARNING], seen


def test_a_broken_gguf_is_a_model_error_with_llama_cpps_reason_logged_as_an_error(tmp_path, caplog):
    gguf_path()  # skips where llama-cpp-python or the model is missing
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\xff" * 56)
    with caplog.at_level(logging.DEBUG, logger=LOGGER), pytest.raises(ModelError, match="could not load"):
        LlamaCppGenerator(str(broken))
    errors = [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == logging.ERROR]
    assert any("gguf" in msg.lower() for msg in errors), [r.getMessage() for r in caplog.records]
