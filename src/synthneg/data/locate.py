"""Where BEIR datasets live, and the checksummed download of the official zip files.

Lookup order for a dataset *name*: ``data_dir`` argument, ``$SYNTHNEG_DATA``, ``../shared/data``
(from the working directory, or beside this checkout), then the official BEIR zip, downloaded once
into ``$SYNTHNEG_CACHE/beir`` (default ``~/.cache/synthneg/beir``), md5-verified and extracted safely.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from synthneg.data.beir import beir_file
from synthneg.errors import DataError, SynthnegError

logger = logging.getLogger(__name__)

BEIR_URL = "https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/{name}.zip"

# md5 of the official zips, as published in the BEIR README.
BEIR_DATASETS: dict[str, str] = {
    "msmarco": "444067daf65d982533ea17ebd59501e4",
    "trec-covid": "ce62140cb23feb9becf6270d0d1fe6d1",
    "nfcorpus": "a89dba18a62ef92f7d323ec890a0d38d",
    "nq": "d4d3d2e48787a744b6f6e691ff534307",
    "hotpotqa": "f412724f78b0d91183a0e86805e16114",
    "fiqa": "17918ed23cd04fb15047f73e6c3bd9d9",
    "arguana": "8ad3e3c2a5867cdced806d6503f29b99",
    "webis-touche2020": "46f650ba5a527fc69e0a6521c5a23563",
    "cqadupstack": "4e41456d7df8ee7760a7f866133bda78",
    "quora": "18fb154900ba42a600f84b839c173167",
    "dbpedia-entity": "c2a39eb420a3164af735795df012ac2c",
    "scidocs": "38121350fc3a4d2f48850f6aff52e4a9",
    "fever": "5a818580227bfb4b35bb6fa46d9b6c03",
    "climate-fever": "8b66f0a9126c521bae2bde127b4dc99d",
    "scifact": "5f7d1de60b170fc8027bb7898e2efca1",
}


def cache_dir() -> Path:
    """Root of synthneg's caches: ``$SYNTHNEG_CACHE`` or ``~/.cache/synthneg``."""
    return Path(os.environ.get("SYNTHNEG_CACHE") or Path.home() / ".cache" / "synthneg")


def shared_data_dirs() -> list[Path]:
    """Candidate local data roots, most specific first."""
    roots: list[Path] = []
    if os.environ.get("SYNTHNEG_DATA"):
        roots.append(Path(os.environ["SYNTHNEG_DATA"]))
    roots.append(Path.cwd().parent / "shared" / "data")
    # A source checkout: <root>/src/synthneg/data/locate.py -> <root>/../shared/data
    roots.append(Path(__file__).resolve().parents[4] / "shared" / "data")
    seen: list[Path] = []
    for r in roots:
        if r not in seen:
            seen.append(r)
    return seen


def _is_beir_folder(path: Path) -> bool:
    return path.is_dir() and beir_file(path, "corpus") is not None


def resolve_dataset(
    name_or_path: str | Path,
    *,
    data_dir: str | Path | None = None,
    download: bool = True,
    base_url: str = BEIR_URL,
) -> Path:
    """Return the folder of a BEIR dataset given a path or a BEIR name (``scifact``, ``nfcorpus``, ...)."""
    as_path = Path(name_or_path).expanduser()
    if as_path.exists() or os.sep in str(name_or_path):
        if not as_path.is_dir():
            raise DataError("dataset path is not a directory", path=as_path)
        return as_path
    name = str(name_or_path)
    roots = [Path(data_dir)] if data_dir is not None else shared_data_dirs()
    for root in roots:
        for cand in (root / "beir" / name, root / name):
            if _is_beir_folder(cand):
                return cand
    if data_dir is not None:
        raise DataError(
            f"dataset {name!r} not found under --data-dir (looked in beir/{name} and {name})", path=data_dir
        )
    cached = cache_dir() / "beir" / name
    if _is_beir_folder(cached):
        return cached
    if name not in BEIR_DATASETS:
        raise SynthnegError(
            f"unknown dataset {name!r}: not a folder, not found in {', '.join(map(str, roots))}, "
            f"and not an official BEIR name ({', '.join(sorted(BEIR_DATASETS))})"
        )
    if not download:
        raise SynthnegError(f"dataset {name!r} is not available locally and download=False")
    return download_beir(name, base_url=base_url)


def _md5(path: Path) -> str:
    h = hashlib.md5()  # the checksum BEIR publishes
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def safe_extract(archive: Path, target: Path) -> None:
    """Extract a zip into ``target``, refusing absolute paths and entries that escape it."""
    target = target.resolve()
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            dest = (target / info.filename).resolve()
            if info.filename.startswith(("/", "\\")) or not dest.is_relative_to(target):
                raise DataError(f"unsafe path in archive: {info.filename!r} escapes the target folder", path=archive)
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise DataError(f"unsafe symlink in archive: {info.filename!r}", path=archive)
        zf.extractall(target)


def download_beir(
    name: str,
    *,
    base_url: str = BEIR_URL,
    md5: str | None = None,
    dest_root: Path | None = None,
    show_progress: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Download and extract an official BEIR zip once (md5-verified, atomic); return its folder."""
    import httpx
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

    expected = md5 if md5 is not None else BEIR_DATASETS.get(name)
    if expected is None:
        raise SynthnegError(f"no published checksum for {name!r}; pass md5= to download it anyway")
    root = (dest_root or cache_dir() / "beir").resolve()
    final = root / name
    if _is_beir_folder(final):
        return final
    root.mkdir(parents=True, exist_ok=True)
    url = base_url.format(name=name)
    with tempfile.TemporaryDirectory(dir=root, prefix=f".{name}-") as tmp:
        zpath = Path(tmp) / f"{name}.zip"
        try:
            with httpx.stream("GET", url, timeout=timeout, follow_redirects=True) as resp:
                resp.raise_for_status()
                total = int(resp.headers.get("content-length") or 0) or None
                with (
                    zpath.open("wb") as fh,
                    Progress(
                        "[progress.description]{task.description}",
                        BarColumn(),
                        DownloadColumn(),
                        TransferSpeedColumn(),
                        TimeRemainingColumn(),
                        disable=not show_progress,
                        transient=True,
                    ) as bar,
                ):
                    task = bar.add_task(f"download {name}", total=total)
                    for chunk in resp.iter_bytes(1 << 16):
                        fh.write(chunk)
                        bar.advance(task, len(chunk))
        except httpx.HTTPError as exc:
            raise SynthnegError(f"download of {url} failed: {exc}") from None
        got = _md5(zpath)
        if got != expected:
            raise SynthnegError(f"checksum mismatch for {url}: md5 {got}, expected {expected}; nothing was kept")
        extract = Path(tmp) / "x"
        safe_extract(zpath, extract)
        inner = extract / name if _is_beir_folder(extract / name) else extract
        if not _is_beir_folder(inner):
            raise DataError("downloaded archive is not a BEIR dataset (no corpus.jsonl)", path=zpath)
        if final.exists():
            shutil.rmtree(final)
        os.replace(inner, final)
    logger.info("downloaded %s into %s", name, final)
    return final
