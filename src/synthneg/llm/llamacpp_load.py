"""Load a GGUF with llama-cpp-python, working around the CPU back-end's AMX crash.

llama.cpp repacks the weights into "extra" CPU buffer types when it can. On CPUs with AMX (Intel
Sapphire Rapids and later) that includes the AMX buffer, and ``ggml_backend_amx_mul_mat`` then
segfaults on the first decode with Q4_K_M weights (llama.cpp issue 20824, closed without a fix;
reproduced here with llama-cpp-python 0.3.36 and the embedded Qwen2.5-Coder-0.5B, single stream and
batched alike). So on a CPU that reports AMX, synthneg loads models with ``use_extra_bufts=False``:
the weights stay in the plain CPU buffer, which decodes correctly. Elsewhere the default (repacking)
is kept. ``SYNTHNEG_LLAMA_EXTRA_BUFTS=1`` or ``0`` overrides the choice.
"""

from __future__ import annotations

import logging
import os
import threading
from functools import cache
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)
_PATCH_LOCK = threading.Lock()


@cache
def cpu_has_amx() -> bool:
    """Whether the CPU reports AMX (``amx_int8`` or ``amx_tile`` in /proc/cpuinfo; False where unknown)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="ignore")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[-1].split())
            return bool(flags & {"amx_int8", "amx_tile"})
    return False


def use_extra_buffers() -> bool:
    """Whether llama.cpp may repack weights into extra buffer types (see the module docstring)."""
    env = os.environ.get("SYNTHNEG_LLAMA_EXTRA_BUFTS", "").strip()
    if env in ("0", "1"):
        return env == "1"
    return not cpu_has_amx()


def load_llama(model_path: str | Path, **kwargs: Any) -> Any:
    """``llama_cpp.Llama(model_path, **kwargs)``, with extra weight buffers off on AMX CPUs."""
    import llama_cpp
    import llama_cpp.llama as llama_module

    if use_extra_buffers():
        return llama_cpp.Llama(model_path=str(model_path), **kwargs)
    low = llama_module.llama_cpp
    original = low.llama_model_default_params

    def params() -> Any:
        p = original()
        if hasattr(p, "use_extra_bufts"):
            p.use_extra_bufts = False
        return p

    logger.debug("loading %s without extra buffer types (AMX CPU)", model_path)
    with _PATCH_LOCK:
        low.llama_model_default_params = params
        try:
            return llama_cpp.Llama(model_path=str(model_path), **kwargs)
        finally:
            low.llama_model_default_params = original
