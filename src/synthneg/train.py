"""Fine-tune a bi-encoder on (query, positive[, negative]) rows with the sentence-transformers trainer.

One function does the job: :func:`train`. It turns :class:`~synthneg.data.triples.Triple` rows (or
query-positive :class:`~synthneg.data.triples.QueryRecord` pairs, the *in-batch* arm) into the
``anchor, positive[, negative]`` columns that sentence-transformers expects, and runs
``SentenceTransformerTrainer`` with MultipleNegativesRankingLoss (or its cached, GradCache variant),
the ``NO_DUPLICATES`` batch sampler, optional E5-style prefixes, checkpoints that resume and an
optional retrieval evaluator. Multi-GPU (or multi-process CPU) runs need nothing special: launch the
same call under ``torchrun`` / ``accelerate launch`` and the trainer does DDP.

>>> from synthneg.train import TrainConfig, train
>>> result = train("triples.jsonl", model="minilm", out="runs/minilm-llm", config=TrainConfig(epochs=1))  # doctest: +SKIP
>>> result.path, result.summary["global_step"]  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from synthneg.console import library_bars, step_bar
from synthneg.data.beir import BeirDataset
from synthneg.errors import SynthnegError
from synthneg.losses import LOSSES, LossName, judged_masked_mnrl, make_loss
from synthneg.models import resolve_bi_encoder
from synthneg.st_modules import st_module
from synthneg.train_data import (
    TrainingRows,
    dataset_shape,
    describe_columns,
    load_training_data,
    rows_columns,
    to_dataset,
    to_train_dataset,
    training_dataset,
)
from synthneg.train_resume import CHECKPOINT_DIR, checkpoint_step, resume_point

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
    from sentence_transformers.evaluation import InformationRetrievalEvaluator

__all__ = [
    "TrainConfig",
    "TrainResult",
    "beir_evaluator",
    "build_trainer",
    "load_training_data",
    "to_dataset",
    "to_train_dataset",
    "train",
]

logger = logging.getLogger(__name__)

Precision = Literal["fp32", "fp16", "bf16"]
SUMMARY_FILE = "train_summary.json"


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one fine-tuning run (defaults: the DESIGN.md calibration recipe).

    ``use_negatives=False`` drops the negative column: the *in-batch* arm trained on the same
    queries. ``save_steps=None`` saves a checkpoint at the end of every epoch; ``max_steps``
    (when set) overrides ``epochs``.
    """

    epochs: float = 1.0
    learning_rate: float = 2e-5
    batch_size: int = 32
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_seq_length: int | None = None
    seed: int = 0
    loss: LossName = "mnrl"
    scale: float = 20.0
    mini_batch_size: int = 32
    query_prefix: str = ""
    passage_prefix: str = ""
    use_negatives: bool = True
    save_steps: int | None = None
    save_total_limit: int | None = 2
    eval_steps: int | None = None
    logging_steps: int = 10
    max_steps: int | None = None
    precision: Precision = "fp32"

    def __post_init__(self) -> None:
        checks = [
            (self.epochs > 0, f"epochs must be > 0, got {self.epochs}"),
            (self.learning_rate > 0, f"learning_rate must be > 0, got {self.learning_rate}"),
            (self.batch_size >= 2, f"batch_size must be >= 2 for in-batch negatives, got {self.batch_size}"),
            (0.0 <= self.warmup_ratio < 1.0, f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}"),
            (self.max_seq_length is None or self.max_seq_length > 0, "max_seq_length must be > 0"),
            (self.loss in LOSSES, f"loss must be one of {', '.join(LOSSES)}, got {self.loss!r}"),
            (self.mini_batch_size > 0, "mini_batch_size must be > 0"),
            (self.save_steps is None or self.save_steps > 0, "save_steps must be > 0"),
            (self.eval_steps is None or self.eval_steps > 0, "eval_steps must be > 0"),
            (self.logging_steps > 0, "logging_steps must be > 0"),
            (self.max_steps is None or self.max_steps > 0, "max_steps must be > 0"),
            (
                self.precision in ("fp32", "fp16", "bf16"),
                f"precision must be fp32, fp16 or bf16, got {self.precision!r}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise SynthnegError(f"TrainConfig: {message}")


@dataclass(frozen=True)
class TrainResult:
    """Where the fine-tuned model was saved and the summary written beside it (``train_summary.json``)."""

    path: Path
    summary: dict[str, Any] = field(default_factory=dict)


def beir_evaluator(
    dataset: BeirDataset,
    *,
    query_prefix: str = "",
    passage_prefix: str = "",
    batch_size: int = 64,
) -> InformationRetrievalEvaluator:
    """A sentence-transformers InformationRetrievalEvaluator over a loaded BEIR split (grade > 0 is relevant)."""
    relevant = {q: {d for d, g in rels.items() if g > 0} for q, rels in dataset.qrels.items()}
    relevant = {q: docs for q, docs in relevant.items() if docs}
    return st_module("evaluation").InformationRetrievalEvaluator(
        queries={q: dataset.queries[q] for q in relevant},
        corpus={d.id: d.full_text() for d in dataset.corpus.documents},
        relevant_docs=relevant,
        name=f"{dataset.name}-{dataset.split}",
        ndcg_at_k=[10],
        mrr_at_k=[10],
        accuracy_at_k=[1, 10],
        precision_recall_at_k=[10, 100],
        map_at_k=[100],
        batch_size=batch_size,
        show_progress_bar=library_bars(),
        write_csv=False,
        query_prompt=query_prefix or None,
        corpus_prompt=passage_prefix or None,
    )


def _load_model(model: str | SentenceTransformer, config: TrainConfig) -> SentenceTransformer:
    from sentence_transformers import SentenceTransformer

    if isinstance(model, SentenceTransformer):
        st = model  # trained in place, as the sentence-transformers trainer does
    else:
        resolved = resolve_bi_encoder(model)
        if Path(resolved).is_dir():
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            st = SentenceTransformer(resolved)
        except OSError as exc:
            raise SynthnegError(f"could not load sentence-transformers model {resolved!r}: {exc}") from None
    if config.max_seq_length is not None:
        st.max_seq_length = config.max_seq_length
    return st


def _world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def _prompts(config: TrainConfig, has_negative: bool) -> dict[str, str] | None:
    prompts = {"anchor": config.query_prefix, "positive": config.passage_prefix}
    if has_negative:
        prompts["negative"] = config.passage_prefix
    prompts = {k: v for k, v in prompts.items() if v}
    return prompts or None


def build_trainer(
    data: TrainingRows | Dataset | DatasetDict,
    *,
    model: str | SentenceTransformer = "minilm",
    out: str | Path,
    config: TrainConfig | None = None,
    evaluator: BeirDataset | Any | None = None,
    qrels: Mapping[str, Mapping[str, int]] | None = None,
    show_progress: bool = True,
) -> SentenceTransformerTrainer:
    """Assemble (without running) the SentenceTransformerTrainer that :func:`train` runs.

    ``evaluator`` is a loaded :class:`BeirDataset` split or any sentence-transformers evaluator;
    it runs every ``eval_steps`` steps (or at the end of each epoch). ``qrels`` (labeled data) masks
    the in-batch candidates judged relevant to each query out of its loss (:mod:`synthneg.losses`).
    ``show_progress=False``: no step bar (nor its log line a minute where no bar is drawn).
    """
    from sentence_transformers import SentenceTransformerTrainer

    config = config or TrainConfig()
    if qrels is not None and (config.loss != "mnrl" or _world_size() > 1):
        raise SynthnegError("qrels masking works with loss 'mnrl' in a single process")
    dataset = training_dataset(
        data, use_negatives=config.use_negatives, row_ids=qrels is not None, world_size=_world_size()
    )
    rows, columns = dataset_shape(dataset)
    st = _load_model(model, config)
    if qrels is not None:
        loss = judged_masked_mnrl(st, data, qrels, scale=config.scale, use_negatives=config.use_negatives)  # type: ignore[arg-type]
    else:
        loss = make_loss(
            st, config.loss, scale=config.scale, mini_batch_size=config.mini_batch_size, ddp=_world_size() > 1
        )
    if isinstance(evaluator, BeirDataset):
        evaluator = beir_evaluator(evaluator, query_prefix=config.query_prefix, passage_prefix=config.passage_prefix)
    verbose = library_bars()  # the trainer's own bar and log dicts only at -v; synthneg's bar otherwise
    args = _training_args(
        config, Path(out), has_negative="negative" in columns, evaluate=evaluator is not None, verbose=verbose
    )
    logger.info(
        "training %s on %d rows (%s), loss=%s, batch %d, NO_DUPLICATES sampler%s",
        model if isinstance(model, str) else type(model).__name__,
        rows,
        describe_columns(dataset),
        config.loss + (" (judged candidates masked)" if qrels is not None else ""),
        config.batch_size,
        f", at most {config.max_steps} steps" if config.max_steps else "",
    )
    trainer = _rank_zero_saving(SentenceTransformerTrainer)(
        model=st,
        args=args,
        train_dataset=dataset,
        loss=loss,
        evaluator=evaluator,
    )
    if not verbose:
        _quiet_callbacks(trainer, show_progress)
    return trainer


def _quiet_callbacks(trainer: SentenceTransformerTrainer, show_progress: bool) -> None:
    """The trainer's raw log dicts (``{'loss': ..., 'train_runtime': ...}``) give way to synthneg's one step bar (none
    when ``show_progress`` is off)."""
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)
    if show_progress:
        trainer.add_callback(step_bar())


def _training_args(config: TrainConfig, out: Path, *, has_negative: bool, evaluate: bool, verbose: bool) -> Any:
    """The SentenceTransformerTrainingArguments of a run: NO_DUPLICATES batches, checkpoints under
    ``out/checkpoints``, the precision, CPU or accelerator, DDP over gloo on CPUs."""
    import torch
    import transformers
    from sentence_transformers import SentenceTransformerTrainingArguments

    save_strategy = "steps" if config.save_steps else "epoch"
    eval_strategy = "no" if not evaluate else ("steps" if config.eval_steps else "epoch")
    # transformers v5 takes the warmup ratio as a float warmup_steps; v4 has warmup_ratio
    warmup = (
        {"warmup_steps": config.warmup_ratio}
        if int(transformers.__version__.split(".")[0]) >= 5
        else {"warmup_ratio": config.warmup_ratio}
    )
    return SentenceTransformerTrainingArguments(
        output_dir=str(out / CHECKPOINT_DIR),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        **warmup,
        weight_decay=config.weight_decay,
        seed=config.seed,
        data_seed=config.seed,
        batch_sampler=st_module("training_args").BatchSamplers.NO_DUPLICATES,
        prompts=_prompts(config, has_negative),
        save_strategy=save_strategy,
        save_steps=config.save_steps or 500,
        save_total_limit=config.save_total_limit,
        eval_strategy=eval_strategy,
        eval_steps=config.eval_steps,
        logging_steps=config.logging_steps,
        logging_first_step=True,
        fp16=config.precision == "fp16",
        bf16=config.precision == "bf16",
        use_cpu=not torch.cuda.is_available(),
        dataloader_pin_memory=torch.cuda.is_available(),  # pinning needs an accelerator (else a UserWarning)
        ddp_backend=None if torch.cuda.is_available() or _world_size() == 1 else "gloo",
        disable_tqdm=not verbose,
        logging_nan_inf_filter=False,
        log_level="info" if verbose else "warning",
        report_to="none",
    )


def _rank_zero_saving(base: type[SentenceTransformerTrainer]) -> type[SentenceTransformerTrainer]:
    """The trainer, writing model files from the saving rank only.

    With transformers v5 the rank check moved into ``Trainer._save``, which sentence-transformers
    (6.2) overrides without it, so under DDP every rank wrote the same files concurrently.
    """

    class _Trainer(base):  # type: ignore[misc, valid-type]
        def _save(self, output_dir: str | None = None, state_dict: dict[str, Any] | None = None) -> None:
            if self.args.should_save:
                super()._save(output_dir, state_dict=state_dict)

    return _Trainer


def train(
    data: str | Path | TrainingRows,
    *,
    model: str | SentenceTransformer = "minilm",
    out: str | Path,
    config: TrainConfig | None = None,
    evaluator: BeirDataset | Any | None = None,
    resume: bool | str | Path = False,
    qrels: Mapping[str, Mapping[str, int]] | None = None,
    show_progress: bool = True,
) -> TrainResult:
    """Fine-tune ``model`` on triples or query-positive pairs and save it to ``out``.

    ``data`` is a file (JSONL[.gz] or Parquet; rows without ``negative`` train the in-batch arm)
    or a list of :class:`Triple` / :class:`QueryRecord`. The model lands in ``out`` (load it with
    ``SentenceTransformer(out)`` or pass ``out`` to :func:`synthneg.evaluate.evaluate`),
    checkpoints in ``out/checkpoints`` and the summary in ``out/train_summary.json``.
    ``resume=True`` continues from the last checkpoint there (a path picks one); with none it
    starts afresh. ``qrels`` (for labeled data with many judged documents per query) keeps the
    passages judged relevant to a query out of its in-batch negatives (:mod:`synthneg.losses`).
    ``show_progress=False`` turns the step bar off, as ``--no-progress`` does for every other stage.
    """
    config = config or TrainConfig()
    out = Path(out)
    source = str(data) if isinstance(data, (str, Path)) else None
    rows = load_training_data(data) if isinstance(data, (str, Path)) else data
    resume_from = resume_point(out, resume)
    trainer = build_trainer(
        rows, model=model, out=out, config=config, evaluator=evaluator, qrels=qrels, show_progress=show_progress
    )
    start_step = checkpoint_step(resume_from)  # read now: old checkpoints are rotated away while training
    if resume_from:
        logger.info("resuming from %s (step %d)", resume_from, start_step)
    t0 = time.perf_counter()
    output = trainer.train(resume_from_checkpoint=resume_from)
    wall_s = time.perf_counter() - t0
    st = trainer.model
    prompts = {k: v for k, v in (("query", config.query_prefix), ("document", config.passage_prefix)) if v}
    if prompts:
        st.prompts = {**st.prompts, **prompts}
    trainer.save_model(str(out))
    summary = _summary(trainer, output, model, source, config, start_step, resume_from, wall_s)
    if qrels is not None:  # candidates masked this run (a resumed run counts its own steps only)
        summary["judged_masked"] = getattr(trainer.loss, "masked_total", 0)
    if trainer.is_world_process_zero():
        (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        logger.info(
            "saved %s: %d steps in %.1f s, loss %.4f", out, summary["global_step"], wall_s, output.training_loss
        )
    return TrainResult(out, summary)


def _summary(
    trainer: Any,
    output: Any,
    model: str | SentenceTransformer,
    source: str | None,
    config: TrainConfig,
    start_step: int,
    resume_from: str | None,
    wall_s: float,
) -> dict[str, Any]:
    """``train_summary.json``: data, settings, steps, wall time and the loss and evaluation history."""
    history = trainer.state.log_history
    losses = [{"step": h["step"], "loss": h["loss"]} for h in history if "loss" in h]
    evals = [h for h in history if any(k.startswith("eval_") for k in h)]
    return {
        "model": model if isinstance(model, str) else type(model).__name__,
        "base_model": resolve_bi_encoder(model) if isinstance(model, str) else None,
        "data": source,
        **rows_columns(trainer.train_dataset),
        "config": asdict(config),
        "global_step": trainer.state.global_step,
        "epochs_done": trainer.state.epoch,
        "steps_this_run": trainer.state.global_step - start_step,
        "resumed_from": resume_from,
        "world_size": trainer.args.world_size,
        "wall_s": round(wall_s, 2),
        "train_loss": output.training_loss,
        "first_loss": losses[0]["loss"] if losses else None,
        "last_loss": losses[-1]["loss"] if losses else None,
        "loss_history": losses,
        "eval_history": evals,
    }
