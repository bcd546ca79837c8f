"""Load a GGUF with llama-cpp-python, guarding against the CPU back-end's AMX crash.

llama.cpp repacks the weights into "extra" CPU buffer types when it can: ``CPU_REPACK`` (interleaved
quant blocks for AVX2/AVX-512 kernels) and, in a build for a CPU with AMX (Intel Sapphire Rapids and
later), ``AMX`` first.
With the AMX buffer, ``ggml_backend_amx_mul_mat`` segfaults on the first decode of a Q4_K_M model
(llama.cpp issue 20824, closed without a fix; reproduced with llama-cpp-python 0.3.36 and the embedded
Qwen2.5-Coder-0.5B, single stream and batched alike).

``scripts/bootstrap.sh`` therefore builds llama-cpp-python without AMX on such CPUs; its buffer list
is then ``CPU_REPACK`` only and models load as usual. When the installed build *does* offer the AMX
buffer (a native build from pip's cache, say), synthneg loads models with ``use_extra_bufts=False``,
which decodes correctly (on a 2-core AMX machine about 3% slower than with ``CPU_REPACK``), and says
so once. ``SYNTHNEG_LLAMA_EXTRA_BUFTS=1`` or ``0``
overrides the choice.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
from functools import cache
from pathlib import Path
from typing import Any

from synthneg.llm.llama_log import route_llama_log

logger = logging.getLogger(__name__)
_PATCH_LOCK = threading.Lock()


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask: a container's cpuset, ``taskset``), the default thread
    count of llama.cpp here; ``os.cpu_count()`` counts the machine's, and more threads than CPUs stall llama.cpp's
    thread barriers."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@cache
def cpu_extra_buffer_types() -> tuple[str, ...]:
    """The names of the extra weight buffer types the installed llama.cpp CPU back-end offers here
    (``("AMX", "CPU_REPACK")`` in a native build on an AMX CPU); empty when they cannot be read."""
    try:
        import llama_cpp
    except ImportError:
        return ()
    lib = Path(llama_cpp.__file__).parent / "lib"
    try:
        base = ctypes.CDLL(str(lib / "libggml-base.so"))
        cpu = ctypes.CDLL(str(lib / "libggml-cpu.so"))
    except OSError:
        return ()
    cpu.ggml_backend_cpu_reg.restype = ctypes.c_void_p
    base.ggml_backend_reg_get_proc_address.restype = ctypes.c_void_p
    base.ggml_backend_reg_get_proc_address.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    base.ggml_backend_reg_dev_get.restype = ctypes.c_void_p
    base.ggml_backend_reg_dev_get.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    base.ggml_backend_buft_name.restype = ctypes.c_char_p
    base.ggml_backend_buft_name.argtypes = [ctypes.c_void_p]
    reg = cpu.ggml_backend_cpu_reg()
    fn = base.ggml_backend_reg_get_proc_address(reg, b"ggml_backend_dev_get_extra_bufts")
    if not reg or not fn:
        return ()
    get = ctypes.CFUNCTYPE(ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p)(fn)
    bufts = get(base.ggml_backend_reg_dev_get(reg, 0))
    names = []
    i = 0
    while bufts and bufts[i]:
        names.append(base.ggml_backend_buft_name(bufts[i]).decode())
        i += 1
    return tuple(names)


def use_extra_buffers() -> bool:
    """Whether llama.cpp may repack weights into extra buffer types (see the module docstring)."""
    env = os.environ.get("SYNTHNEG_LLAMA_EXTRA_BUFTS", "").strip()
    if env in ("0", "1"):
        return env == "1"
    return "AMX" not in cpu_extra_buffer_types()


@cache
def _warn_amx_once() -> None:
    logger.warning(
        "this llama-cpp-python build offers llama.cpp's AMX weight buffer, whose kernels crash on Q4_K "
        "models; loading without weight repacking (correct, slightly slower). "
        "Rebuild it without AMX: rm -rf .venv && make install (scripts/bootstrap.sh)"
    )


def load_llama(model_path: str | Path, **kwargs: Any) -> Any:
    """``llama_cpp.Llama(model_path, **kwargs)``, without the AMX weight buffer (module docstring); llama.cpp's log
    goes to the ``synthneg.llama_cpp`` logger at its real levels (:mod:`synthneg.llm.llama_log`)."""
    import llama_cpp
    import llama_cpp.llama as llama_module

    route_llama_log()
    if use_extra_buffers():
        return llama_cpp.Llama(model_path=str(model_path), **kwargs)
    if "AMX" in cpu_extra_buffer_types():
        _warn_amx_once()
    low = llama_module.llama_cpp
    original = low.llama_model_default_params

    def params() -> Any:
        p = original()
        if hasattr(p, "use_extra_bufts"):
            p.use_extra_bufts = False
        return p

    with _PATCH_LOCK:
        low.llama_model_default_params = params
        try:
            return llama_cpp.Llama(model_path=str(model_path), **kwargs)
        finally:
            low.llama_model_default_params = original
