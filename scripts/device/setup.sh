#!/bin/bash
# On the device, call N of 4 (carry .gpu/pN and .gpu/setup.sh; the first also .gpu/whl, the second .gpu/data):
# keep this call's part of MiniLM under /tmp; the first installs the wheels and a llama_cpp stub (every LLM call of a
# finished stage is in the committed stores: the stub fails loudly if one is not).
set -e
mkdir -p /tmp/parts /tmp/site /tmp/data
cp .gpu/p"$1"/* /tmp/parts/
if [ "$1" = 1 ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/whl/*.whl
  mkdir -p /tmp/site/llama_cpp
  printf 'class _NoLLM:\n    def __init__(self, *a, **k):\n        raise RuntimeError("device: no LLM here")\n__version__ = "0"\ndef __getattr__(name):\n    return _NoLLM\n' > /tmp/site/llama_cpp/__init__.py
  PYTHONPATH=$PWD/src:/tmp/site python3 -c "import torch, synthneg.experiment.runner, synthneg.train; print(torch.cuda.get_device_name(0))"
fi
if [ -d .gpu/data ]; then cp -r .gpu/data/* /tmp/data/; fi
ls /tmp/parts /tmp/data/beir
