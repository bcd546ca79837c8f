"""sentence-transformers submodules by name, across its module layouts (v6 ``sentence_transformer.<name>``,
v5 ``<name>``), so that the trainer, the losses and the evaluator run on either major version."""

from __future__ import annotations

import importlib
from types import ModuleType


def st_module(name: str) -> ModuleType:
    """A sentence-transformers submodule (``losses``, ``evaluation``, ...) by its v6 path, else its v5 path."""
    try:
        return importlib.import_module(f"sentence_transformers.sentence_transformer.{name}")
    except ImportError:
        return importlib.import_module(f"sentence_transformers.{name}")
