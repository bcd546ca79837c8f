"""A torch-free encoder for sentence-transformers bi-encoders: the model's transformer converted once
to OpenVINO IR, then run by the OpenVINO runtime with the model's own fast tokenizer and pooling.

Why it exists (measured in docs/mining.md): importing torch and sentence-transformers alone costs about
530 MB, more than half of what sentence-transformers' ``mine_hard_negatives`` peaks at, so no
torch-based miner can reach half its memory; OpenVINO runs the same weights without torch, and in
bf16 on CPUs with AVX512-BF16/AMX it is also faster than torch.

The conversion needs torch and runs once per model, in a child process, so that the process that
encodes never imports torch (in the process itself when torch is already imported there; concurrent
processes convert a model once). Its output is cached under ``$SYNTHNEG_CACHE/openvino/``. Supported models:
a Transformer module followed by mean or CLS pooling and optionally Normalize (the all-MiniLM, E5,
BGE and GTE families); anything else gets a clear error that points back to the torch backend.

    python -m synthneg.search.openvino_backend MODEL OUT_DIR    # the conversion (what the cache runs)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from synthneg.data.locate import cache_dir
from synthneg.errors import ModelError

logger = logging.getLogger(__name__)

META = "synthneg_openvino.json"
POOLINGS = ("mean", "cls")


def _require_openvino() -> Any:
    try:
        import openvino
    except ImportError:
        raise ModelError(
            "the openvino encoder backend needs OpenVINO: pip install 'synthneg[openvino]' (or use the torch backend)"
        ) from None
    return openvino


def check_modules(model: str, modules: Sequence[str]) -> None:
    """Refuse a model whose sentence-transformers modules are not Transformer + Pooling (+ Normalize)."""
    if (
        len(modules) < 2
        or modules[0] != "Transformer"
        or modules[1] != "Pooling"
        or list(modules[2:]) not in ([], ["Normalize"])
    ):
        raise ModelError(
            f"{model}: the openvino backend supports Transformer + Pooling (+ Normalize) models; this one has "
            f"{' + '.join(modules)}. Use the torch backend."
        )


def _check_local_modules(model: str) -> None:
    """The module check on a local model folder's ``modules.json``, before a conversion child imports torch."""
    from synthneg.models import resolve_bi_encoder

    listing = Path(resolve_bi_encoder(model)) / "modules.json"
    if listing.is_file():
        entries = json.loads(listing.read_text(encoding="utf-8"))
        check_modules(model, [str(e.get("type", "")).rsplit(".", 1)[-1] for e in entries])


def export_openvino(model: str, out: Path) -> dict[str, Any]:
    """Convert a sentence-transformers bi-encoder to OpenVINO IR in ``out`` (imports torch)."""
    import torch

    from synthneg.models import load_bi_encoder, model_identity, resolve_bi_encoder

    ov = _require_openvino()
    st = load_bi_encoder(model)
    modules = [type(m).__name__ for m in st]
    check_modules(model, modules)
    pool = st[1].get_config_dict() if hasattr(st[1], "get_config_dict") else {}
    mode = pool.get("pooling_mode")  # sentence-transformers >= 5: one string; older: pooling_mode_* flags
    if mode is None:
        flags = [k.removeprefix("pooling_mode_") for k, v in pool.items() if k.startswith("pooling_mode_") and v]
        mode = {"mean_tokens": "mean", "cls_token": "cls"}.get(flags[0], flags[0]) if len(flags) == 1 else str(flags)
    if mode not in POOLINGS:
        raise ModelError(f"{model}: pooling {mode!r} is not supported by the openvino backend (mean or cls); use torch")
    transformer = st[0]
    tokenizer = transformer.tokenizer
    if not getattr(tokenizer, "is_fast", False):
        raise ModelError(f"{model}: the openvino backend needs a fast tokenizer (tokenizer.json); use torch")
    inputs = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in tokenizer.model_input_names]
    example = {n: torch.ones(2, 16, dtype=torch.long) for n in inputs}
    if "token_type_ids" in example:
        example["token_type_ids"] = torch.zeros(2, 16, dtype=torch.long)
    auto = transformer.auto_model.eval()
    with torch.no_grad():
        converted = ov.convert_model(auto, example_input=example)
    out.mkdir(parents=True, exist_ok=True)
    ov.save_model(converted, str(out / "model.xml"), compress_to_fp16=False)
    # the bf16 path reads fp16-stored weights: half the memory, and bf16 keeps fewer bits than fp16 anyway
    ov.save_model(converted, str(out / "model-fp16.xml"), compress_to_fp16=True)
    tokenizer.backend_tokenizer.save(str(out / "tokenizer.json"))
    meta = {
        "model": model,
        "identity": model_identity(resolve_bi_encoder(model)),
        "pooling": mode,
        "normalize": modules[2:] == ["Normalize"],
        "max_seq_length": st.max_seq_length,
        "inputs": inputs,
        "output": converted.outputs[0].get_any_name(),
        "dim": (getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension)(),
        "openvino": ov.__version__,
    }
    (out / META).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return meta


def openvino_model_dir(
    model: str, identity: str, cache_root: Path | None = None, *, in_process: bool | None = None
) -> Path:
    """The converted model's folder, converting it first when it is not cached: in a child process, so that this
    process never imports torch, or here when ``in_process`` (default: when torch is already imported, where a child
    would only import it again, about 6 s)."""
    ov = _require_openvino()
    key = hashlib.sha256(json.dumps([identity, ov.__version__.split("-")[0]]).encode()).hexdigest()[:16]
    folder = (cache_root or cache_dir() / "openvino") / key
    if _converted(folder):
        return folder
    _check_local_modules(model)  # a model the backend cannot run is refused in a second, not after the child's imports
    folder.parent.mkdir(parents=True, exist_ok=True)
    from filelock import FileLock

    # two processes that need the same model convert it once: the second waits, then reads the first one's folder
    with FileLock(folder.with_name(f"{key}.lock")):
        if not _converted(folder):
            _convert(model, folder, "torch" in sys.modules if in_process is None else in_process)
    return folder


def _converted(folder: Path) -> bool:
    return all((folder / name).is_file() for name in (META, "model.xml", "model-fp16.xml", "tokenizer.json"))


def _convert(model: str, folder: Path, in_process: bool) -> None:
    """Convert into a temp folder next to ``folder`` (here or in a child process) and move it in place."""
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f"{folder.name}.tmp"))
    logger.info("converting %s to OpenVINO IR (once; cached in %s)", model, folder)
    error: str | None = None
    if in_process:
        try:
            with warnings.catch_warnings():  # torch's tracer warns about every Python branch it freezes
                warnings.simplefilter("ignore")
                export_openvino(model, tmp)
        except Exception as exc:  # any failure of the export is this model's conversion error
            error = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    else:
        proc = subprocess.run(
            [sys.executable, "-m", "synthneg.search.openvino_backend", model, str(tmp)],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            error = ((proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"])[0]
    if error is not None:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ModelError(f"could not convert {model!r} to OpenVINO: {error}")
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)


class OpenVINOEncoder:
    """Encode texts with a converted model: length-sorted batches, the model's pooling, float32 output."""

    def __init__(
        self, folder: Path, *, precision: str = "fp32", max_seq_length: int | None = None, threads: int | None = None
    ) -> None:
        from tokenizers import Tokenizer

        ov = _require_openvino()
        self.meta = json.loads((folder / META).read_text(encoding="utf-8"))
        if precision not in ("fp32", "bf16"):
            raise ModelError(f"precision must be fp32 or bf16, got {precision!r}")
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        padding = self.tokenizer.padding or {}
        self.pad_id = int(
            padding.get(
                "pad_id", next((i for i in map(self.tokenizer.token_to_id, ("[PAD]", "<pad>")) if i is not None), 0)
            )
        )
        self.tokenizer.no_padding()  # tokenizer.json files may pad to a fixed length; batches pad themselves
        self.tokenizer.enable_truncation(max_seq_length or self.meta["max_seq_length"])
        config: dict[str, Any] = {
            "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
            "PERFORMANCE_HINT": "LATENCY",
        }
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        xml = folder / ("model-fp16.xml" if precision == "bf16" else "model.xml")
        self.model = ov.Core().compile_model(str(xml), "CPU", config)
        self.output = self.model.outputs[0]

    @property
    def dim(self) -> int:
        return int(self.meta["dim"])

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, normalize: bool = True, show_progress: bool = False
    ) -> np.ndarray:
        from synthneg.console import progress_bar

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        # longest first by characters, as sentence-transformers sorts; each batch is tokenized on its own,
        # so memory stays flat with corpus size (a whole corpus of Encoding objects costs hundreds of MB)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        inputs = self.meta["inputs"]
        with progress_bar("encode", len(texts), show=show_progress, unit="texts") as bar:
            for start in range(0, len(texts), batch_size):
                idx = order[start : start + batch_size]
                encodings = self.tokenizer.encode_batch([texts[i] for i in idx])
                width = max(len(e.ids) for e in encodings)
                ids = np.full((len(idx), width), self.pad_id, dtype=np.int64)
                mask = np.zeros((len(idx), width), dtype=np.int64)
                types = np.zeros((len(idx), width), dtype=np.int64)
                for row, e in enumerate(encodings):
                    ids[row, : len(e.ids)] = e.ids
                    mask[row, : len(e.ids)] = 1
                    types[row, : len(e.ids)] = e.type_ids
                feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
                hidden = self.model({k: feed[k] for k in inputs})[self.output].astype(np.float32, copy=False)
                if self.meta["pooling"] == "cls":
                    vec = hidden[:, 0]
                else:
                    vec = (hidden * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1)
                if normalize or self.meta["normalize"]:
                    vec = vec / np.maximum(np.linalg.norm(vec, axis=1, keepdims=True), 1e-12)
                out[idx] = vec
                bar.advance(len(idx))
        return out


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m synthneg.search.openvino_backend MODEL OUT_DIR", file=sys.stderr)
        return 2
    try:
        meta = export_openvino(args[0], Path(args[1]))
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(meta))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
