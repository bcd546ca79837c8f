"""llama.cpp's own log lines, routed into Python logging at ggml's real levels.

llama-cpp-python 0.3.36 reads ggml's log levels in their old order (NONE, INFO, WARN, ERROR, DEBUG), while its
llama.cpp declares NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5 (``ggml.h``). With ``verbose=False`` its callback
therefore prints every llama.cpp *warning* to stderr and drops every *error*. :func:`route_llama_log` replaces that
callback: each line goes to the ``synthneg.llama_cpp`` logger at the level llama.cpp gave it, into the run's log file
and, from WARNING up, the console (``-vv`` shows the rest). Its INFO lines become DEBUG lines, its DEBUG lines (hundreds
per context) are dropped, and the warnings listed in ``_EXPECTED`` are logged at DEBUG.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import re
import threading
from typing import Any

logger = logging.getLogger("synthneg.llama_cpp")

# ggml.h: GGML_LOG_LEVEL_NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5 (continues the previous line)
# (its DEBUG lines, hundreds per context on the graph's tensors, are dropped; its INFO lines are synthneg DEBUG lines)
_DROP = 0
_LEVELS = {0: logging.ERROR, 1: _DROP, 2: logging.DEBUG, 3: logging.WARNING, 4: logging.ERROR}
_CONT = 5

#: Warnings that are expected, logged at DEBUG: the batched decoder gives its parallel sequences one unified KV
#: cache (prefix copies need it), so llama.cpp reports the whole cache as each sequence's context, while synthneg
#: bounds every sequence to its own ``n_ctx`` before decoding; and the Qwen2.5 GGUFs' ``</s>`` token, which
#: llama.cpp retypes as a control token at every load, as it should.
_EXPECTED = (
    re.compile(r"n_ctx_seq \(\d+\) > n_ctx_train \(\d+\)"),
    re.compile(r"control-looking token: .* was not control-type"),
)

_lock = threading.Lock()
_state: dict[str, Any] = {"callback": None, "pending": "", "level": logging.DEBUG}


def _emit(level: int, line: str) -> None:
    line = line.rstrip()
    if not line or level == _DROP:
        return
    if level == logging.WARNING and any(p.search(line) for p in _EXPECTED):
        level = logging.DEBUG
    logger.log(level, "%s", line)


def _on_log(level: int, text: bytes | None, _user_data: Any) -> None:
    with contextlib.suppress(Exception):  # never raise into llama.cpp (a late line at interpreter exit, say)
        _collect(level, (text or b"").decode("utf-8", errors="replace"))


def _collect(level: int, chunk: str) -> None:
    with _lock:
        if level != _CONT:
            if _state["pending"]:
                _emit(_state["level"], _state["pending"])
            _state["pending"] = ""
            _state["level"] = _LEVELS.get(level, _DROP)
        lines = (_state["pending"] + chunk).split("\n")
        _state["pending"] = lines.pop()
        for line in lines:
            _emit(_state["level"], line)


def route_llama_log() -> None:
    """Send llama.cpp's log to the ``synthneg.llama_cpp`` logger (once per process; later calls do nothing)."""
    with _lock:
        if _state["callback"] is not None:
            return
        import llama_cpp

        callback = llama_cpp.llama_log_callback(_on_log)
        _state["callback"] = callback  # ctypes needs the callback object alive as long as llama.cpp may call it
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
