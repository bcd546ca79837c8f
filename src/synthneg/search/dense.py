"""Dense retrieval: encode with sentence-transformers (corpus embeddings cached on disk), then exact
top-k by chunked matrix product, or FAISS for large corpora."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np

from synthneg.console import library_bars, progress_bar
from synthneg.data.beir import Corpus
from synthneg.data.locate import cache_dir
from synthneg.errors import SynthnegError
from synthneg.models import load_bi_encoder, model_identity, resolve_bi_encoder

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

Run = dict[str, dict[str, float]]
SearchBackend = Literal["exact", "faiss"]
Precision = Literal["fp32", "bf16"]
PRECISIONS: tuple[str, ...] = get_args(Precision)
EncoderBackend = Literal["torch", "openvino"]
ENCODER_BACKENDS: tuple[str, ...] = get_args(EncoderBackend)


@dataclass
class DenseEncoder:
    """A sentence-transformers bi-encoder with query/passage prefixes and an on-disk corpus cache.

    ``model`` is a sentence-transformers name or path, or ``minilm`` for the embedded default.
    E5 models need ``query_prefix="query: "`` and ``passage_prefix="passage: "``.
    ``precision="bf16"`` runs the forward pass under bfloat16 autocast: about 1.6x faster on CPUs with
    AVX512-BF16/AMX (SciFact corpus: 131 s vs about 210 s, docs/evaluation.md; cosine >= 0.9999 to the fp32 embeddings there); its
    embeddings are cached apart from the fp32 ones.
    ``backend="openvino"`` runs the same weights without torch (synthneg.search.openvino_backend): the
    model is converted once, in a child process, and cached; this process never imports torch. Its
    embeddings are cached apart from torch's.
    """

    model: str = "minilm"
    query_prefix: str = ""
    passage_prefix: str = ""
    normalize: bool = True
    batch_size: int = 64
    max_seq_length: int | None = None
    device: str | None = None
    cache: bool = True
    cache_root: Path | None = None
    show_progress: bool = True
    precision: Precision = "fp32"
    backend: EncoderBackend = "torch"
    _st: SentenceTransformer | None = field(default=None, init=False, repr=False)
    _ov: Any = field(default=None, init=False, repr=False)

    @property
    def st(self) -> SentenceTransformer:
        if self._st is None:
            self._st = load_bi_encoder(self.model, self.device)
            if self.max_seq_length is not None:
                self._st.max_seq_length = self.max_seq_length
        return self._st

    @property
    def identity(self) -> str:
        return model_identity(resolve_bi_encoder(self.model))

    @property
    def accelerator(self) -> str | None:
        """The GPU the loaded torch model runs on (its name, e.g. ``NVIDIA H200 (cuda)``), else None: evaluations
        record it beside the CPU, since scores (bf16 above all) differ between machines."""
        if self._st is None or self._st.device.type != "cuda":
            return None
        import torch

        return f"{torch.cuda.get_device_name(self._st.device)} (cuda)"

    def encode(self, texts: Sequence[str], *, prefix: str = "", show_progress: bool | None = None) -> np.ndarray:
        """Encode texts to float32 ``(n, dim)`` (L2-normalised if ``normalize``)."""
        texts = [prefix + t for t in texts] if prefix else list(texts)
        show = self.show_progress if show_progress is None else show_progress
        if self.backend == "openvino":
            return self.openvino.encode(texts, batch_size=self.batch_size, normalize=self.normalize, show_progress=show)
        if self.backend != "torch":
            raise SynthnegError(f"backend must be one of {', '.join(ENCODER_BACKENDS)}, got {self.backend!r}")
        if show and not library_bars():
            if len(texts) > self.batch_size:
                return self._encode_with_bar(texts)
            show = False  # one batch: no bar at all
        with self._autocast():
            emb = self.st.encode(
                texts,
                batch_size=self.batch_size,
                show_progress_bar=show,
                convert_to_numpy=True,
                normalize_embeddings=self.normalize,
            )
        return np.asarray(emb, dtype=np.float32)

    def _encode_with_bar(self, texts: list[str]) -> np.ndarray:
        """Encode under synthneg's own bar: texts sorted by length as sentence-transformers sorts them,
        then encoded in chunks of 8 batches (the same batches, so the same padding), then put back."""
        order = np.argsort([-len(t) for t in texts], kind="stable")
        chunk = self.batch_size * 8
        parts = []
        with progress_bar("encoding", len(texts), unit="texts") as bar, self._autocast():
            for start in range(0, len(texts), chunk):
                ids = order[start : start + chunk]
                emb = self.st.encode(
                    [texts[i] for i in ids],
                    batch_size=self.batch_size,
                    show_progress_bar=False,
                    convert_to_numpy=True,
                    normalize_embeddings=self.normalize,
                )
                parts.append(np.asarray(emb, dtype=np.float32))
                bar.advance(len(ids))
        out = np.empty((len(texts), parts[0].shape[1]), dtype=np.float32)
        out[order] = np.concatenate(parts)
        return out

    @property
    def openvino(self) -> Any:
        """The OpenVINO encoder (converted on first use, then loaded from the cache; no torch import)."""
        if self._ov is None:
            from synthneg.search.openvino_backend import OpenVINOEncoder, openvino_model_dir

            if self.precision == "bf16" and not _cpu_has_fast_bf16():
                _warn_slow_bf16()
            folder = openvino_model_dir(self.model, self.identity)
            self._ov = OpenVINOEncoder(folder, precision=self.precision, max_seq_length=self.max_seq_length)
        return self._ov

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.precision == "fp32":
            return contextlib.nullcontext()
        if self.precision != "bf16":
            raise SynthnegError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        import torch

        device = self.st.device.type
        if device == "cpu" and not _cpu_has_fast_bf16():
            _warn_slow_bf16()
        return torch.autocast(device_type=device, dtype=torch.bfloat16)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode(texts, prefix=self.query_prefix, show_progress=False)

    def _effective_max_seq_length(self) -> int | None:
        """The model's max_seq_length, read from its folder's config when possible so that a cache hit
        does not need to load the model (and torch)."""
        if self.max_seq_length is not None:
            return self.max_seq_length
        if self._st is not None:
            return self._st.max_seq_length
        config = Path(resolve_bi_encoder(self.model)) / "sentence_bert_config.json"
        if config.is_file():
            try:
                value = json.loads(config.read_text(encoding="utf-8")).get("max_seq_length")
            except (OSError, ValueError):
                value = None
            if isinstance(value, int):
                return value
        if self.backend == "openvino":
            return int(self.openvino.meta["max_seq_length"])
        return self.st.max_seq_length

    def cache_key(self, corpus: Corpus) -> str:
        spec = {
            "model": self.identity,
            "prefix": self.passage_prefix,
            "normalize": self.normalize,
            "max_seq_length": self._effective_max_seq_length(),
            "corpus": corpus.fingerprint,
        }
        if self.precision != "fp32":
            spec["precision"] = self.precision  # fp32 keys stay as they were before precision existed
            # bf16 embeddings differ between machines: a cache shared by several (a network home) keeps them apart
            on_gpu = (self.device or "").startswith("cuda")
            spec["machine"] = machine_signature() if on_gpu else cpu_signature()
        if self.backend != "torch":
            spec["backend"] = self.backend  # likewise torch keys
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:32]

    def encode_corpus(self, corpus: Corpus) -> tuple[np.ndarray, bool]:
        """Corpus embeddings in corpus order, and whether they came from the cache."""
        path = None
        if self.cache:
            path = (self.cache_root or cache_dir() / "embeddings") / f"{self.cache_key(corpus)}.npy"
            if path.is_file():
                try:
                    emb = np.load(path, mmap_mode="r")
                    if emb.shape[0] == len(corpus):
                        logger.info("corpus embeddings from cache %s", path)
                        return np.asarray(emb), True
                except (OSError, ValueError):
                    logger.warning("ignoring unreadable embedding cache %s", path)
        emb = self.encode(corpus.texts(), prefix=self.passage_prefix)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npy.tmp")
            with os.fdopen(fd, "wb") as fh:
                np.save(fh, emb)
            os.replace(tmp, path)
        return emb, False


@lru_cache(maxsize=1)
def _cpuinfo() -> str | None:
    """``/proc/cpuinfo``, or None off Linux."""
    try:
        return Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _cpu_has_fast_bf16() -> bool:
    """Whether the CPU has native bfloat16 arithmetic (AVX512-BF16 or AMX-BF16); True when unknown."""
    flags = _cpuinfo()
    return flags is None or "avx512_bf16" in flags or "amx_bf16" in flags  # not Linux: do not guess


@lru_cache(maxsize=1)
def cpu_signature() -> str | None:
    """The CPU's model name and its bfloat16 path (``amx``, ``avx512_bf16`` or ``no-bf16``), or None off Linux.

    Evaluations record it: bf16 results of one model differ across CPUs (zero-shot MiniLM on SciFact: 0.6457
    on an AVX512-BF16 machine, 0.6472 on an AMX one), so arms evaluated on different machines are compared by
    their gains over a baseline evaluated on the same machine, not by their raw scores."""
    info = _cpuinfo()
    if info is None:
        return None
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "cpu")
    path = "amx" if "amx_bf16" in info else "avx512_bf16" if "avx512_bf16" in info else "no-bf16"
    return f"{name} ({path})"


def machine_signature() -> str | None:
    """Where torch work runs by default: the first GPU's name when CUDA is available, else :func:`cpu_signature`.
    Fine-tunes record it (the trainer takes the GPU when there is one)."""
    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} (cuda)"
    return cpu_signature()


def software_signature() -> str:
    """The versions that can move a score in the last digits (``torch 2.13.0+cpu, sentence-transformers 6.3.0,
    transformers 5.25.0``): evaluations and fine-tunes record them beside the machine."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ("torch", "sentence-transformers", "transformers"):
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            continue
    return ", ".join(found)


@lru_cache(maxsize=1)
def _warn_slow_bf16() -> None:
    logger.warning("this CPU has no native bfloat16 (AVX512-BF16/AMX): bf16 encoding may be slower than fp32")


def top_k_exact(
    query_emb: np.ndarray, doc_emb: np.ndarray, k: int, chunk_size: int = 4096
) -> tuple[np.ndarray, np.ndarray]:
    """Exact inner-product top-``k`` by chunked matrix product; ``(n_q, k)`` positions and scores, best first."""
    import torch

    k = min(k, doc_emb.shape[0])
    q = torch.from_numpy(np.ascontiguousarray(query_emb, dtype=np.float32))
    best_s = torch.full((q.shape[0], 0), -torch.inf)
    best_i = torch.zeros((q.shape[0], 0), dtype=torch.long)
    for start in range(0, doc_emb.shape[0], chunk_size):
        d = torch.from_numpy(
            np.array(doc_emb[start : start + chunk_size], dtype=np.float32)
        )  # copy: may be a read-only mmap
        s, i = torch.topk(q @ d.T, min(k, d.shape[0]), dim=1)
        best_s, order = torch.topk(torch.cat([best_s, s], dim=1), min(k, best_s.shape[1] + s.shape[1]), dim=1)
        best_i = torch.gather(torch.cat([best_i, i + start], dim=1), 1, order)
    return best_i.numpy(), best_s.numpy()


def top_k_faiss(query_emb: np.ndarray, doc_emb: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Inner-product top-``k`` with a FAISS flat index (``pip install synthneg[faiss]``)."""
    try:
        import faiss
    except ImportError:
        from synthneg.errors import SynthnegError

        raise SynthnegError("FAISS is not installed: pip install 'synthneg[faiss]' (faiss-cpu)") from None
    index = faiss.IndexFlatIP(doc_emb.shape[1])
    index.add(np.ascontiguousarray(doc_emb, dtype=np.float32))
    scores, positions = index.search(np.ascontiguousarray(query_emb, dtype=np.float32), min(k, doc_emb.shape[0]))
    return positions, scores


def dense_search(
    encoder: DenseEncoder,
    corpus: Corpus,
    queries: dict[str, str],
    k: int = 100,
    backend: SearchBackend = "exact",
) -> tuple[Run, dict[str, float | bool]]:
    """Retrieve top-``k`` per query; returns the run and timing ``{encode_corpus_s, ...}``."""
    import time

    t0 = time.perf_counter()
    doc_emb, cached = encoder.encode_corpus(corpus)
    t1 = time.perf_counter()
    qids = list(queries)
    q_emb = encoder.encode_queries([queries[q] for q in qids])
    t2 = time.perf_counter()
    search = top_k_faiss if backend == "faiss" else top_k_exact
    positions, scores = search(q_emb, doc_emb, k)
    t3 = time.perf_counter()
    ids = corpus.ids
    run: Run = {
        qid: {ids[int(p)]: float(s) for p, s in zip(positions[qi], scores[qi], strict=True) if p >= 0}
        for qi, qid in enumerate(qids)
    }
    timing: dict[str, float | bool] = {
        "encode_corpus_s": t1 - t0,
        "corpus_from_cache": cached,
        "encode_queries_s": t2 - t1,
        "search_s": t3 - t2,
    }
    return run, timing
