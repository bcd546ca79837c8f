"""``synthneg.evaluate``: a model (dense or BM25) or an existing run on a BEIR dataset split."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from synthneg.data.beir import BeirDataset, load_beir
from synthneg.data.locate import resolve_dataset
from synthneg.evaluate.metrics import DEFAULT_METRICS, MetricResult, Run, compute_metrics
from synthneg.evaluate.runs import read_trec_run, write_trec_run
from synthneg.search.bm25 import BM25Index
from synthneg.search.dense import (
    DenseEncoder,
    EncoderBackend,
    Precision,
    SearchBackend,
    cpu_signature,
    dense_search,
    software_signature,
)

logger = logging.getLogger(__name__)


@dataclass
class EvaluationResult:
    """Metrics of one model on one dataset split, with per-query values and timings."""

    dataset: str
    split: str
    model: str
    metrics: dict[str, float]
    per_query: dict[str, dict[str, float]]
    timing: dict[str, Any] = field(default_factory=dict)
    run: Run = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("run")
        return out

    def save(self, path: str | Path) -> None:
        """Write ``{dataset, split, model, metrics, per_query, timing}`` as JSON."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")


def evaluate(
    model: str = "minilm",
    dataset: str | Path | BeirDataset = "scifact",
    *,
    split: str = "test",
    data_dir: str | Path | None = None,
    run: str | Path | Run | None = None,
    k: int = 100,
    metrics: tuple[str, ...] = DEFAULT_METRICS,
    query_prefix: str = "",
    passage_prefix: str = "",
    normalize: bool = True,
    batch_size: int = 64,
    max_seq_length: int | None = None,
    backend: SearchBackend = "exact",
    precision: Precision = "fp32",
    encoder: EncoderBackend = "torch",
    cache: bool = True,
    save_run: str | Path | None = None,
    show_progress: bool = True,
) -> EvaluationResult:
    """Evaluate a retriever on a BEIR split.

    ``model`` is ``bm25``, ``minilm`` (the embedded default) or any sentence-transformers name or
    path; ``run`` (a TREC run file or a run dict) replaces the model. ``dataset`` is a BEIR name,
    a folder or a loaded :class:`BeirDataset`. ``encoder`` runs a dense model with sentence-transformers
    (``"torch"``) or with OpenVINO (``"openvino"``, the same weights without torch; see
    :mod:`synthneg.search.openvino_backend`); ``timing`` records which, with the precision.

    >>> res = evaluate("minilm", "scifact")           # doctest: +SKIP
    >>> res.metrics["nDCG@10"]                        # doctest: +SKIP
    0.6451
    """
    t_start = time.perf_counter()
    ds = dataset if isinstance(dataset, BeirDataset) else load_beir(resolve_dataset(dataset, data_dir=data_dir), split)
    timing: dict[str, Any] = {"load_s": time.perf_counter() - t_start}
    if isinstance(run, dict):
        the_run, label = run, model
    elif run is not None:
        the_run, label = read_trec_run(run), f"run:{Path(run).name}"
    elif model.lower() == "bm25":
        the_run, label = _bm25_run(ds, k, timing, show_progress), "bm25"
    else:
        dense = DenseEncoder(
            model=model,
            query_prefix=query_prefix,
            passage_prefix=passage_prefix,
            normalize=normalize,
            batch_size=batch_size,
            max_seq_length=max_seq_length,
            cache=cache,
            show_progress=show_progress,
            precision=precision,
            backend=encoder,
        )
        the_run, label = _dense_run(dense, ds, k, backend, timing), model
    scores = _score(ds, the_run, metrics, timing, t_start)
    if save_run is not None:
        write_trec_run(the_run, save_run, tag=label.replace(" ", "_"))
    return EvaluationResult(ds.name, split, label, scores.aggregate, scores.per_query, timing, the_run)


def _score(
    ds: BeirDataset, the_run: Run, metrics: tuple[str, ...], timing: dict[str, Any], t_start: float
) -> MetricResult:
    """The run's metrics against ``ds``'s qrels; the time it took and the total go into ``timing``."""
    t0 = time.perf_counter()
    scores = compute_metrics(ds.qrels, the_run, metrics)
    timing.update(metrics_s=time.perf_counter() - t0, total_s=time.perf_counter() - t_start)
    return scores


def _dense_run(dense: DenseEncoder, ds: BeirDataset, k: int, backend: SearchBackend, timing: dict[str, Any]) -> Run:
    """Search ``ds`` with ``dense``; its timings, precision and encoder back-end go into ``timing``."""
    the_run, t = dense_search(dense, ds.corpus, ds.queries, k=k, backend=backend)
    timing.update(
        t, precision=dense.precision, encoder=dense.backend, cpu=cpu_signature(), software=software_signature()
    )
    if gpu := dense.accelerator:
        timing["gpu"] = gpu
    return the_run


def _bm25_run(ds: BeirDataset, k: int, timing: dict[str, Any], show_progress: bool) -> Run:
    """BM25's top ``k`` for every query of ``ds``; index and search times go into ``timing``."""
    t0 = time.perf_counter()
    index = BM25Index.shared(ds.corpus, show_progress=show_progress)
    t1 = time.perf_counter()
    run = index.search(ds.queries, k=k)
    t2 = time.perf_counter()
    timing.update(index_s=t1 - t0, search_s=t2 - t1, queries_per_s=len(ds.queries) / max(t2 - t1, 1e-9))
    return run
