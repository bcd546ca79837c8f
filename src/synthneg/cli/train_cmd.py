"""``synthneg train``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from synthneg.cli.options import option_groups

if TYPE_CHECKING:
    from synthneg.train import TrainConfig

Opt = typer.Option


def train_options(
    epochs: Annotated[float, Opt(help="Training epochs.")] = 1.0,
    lr: Annotated[float, Opt("--lr", help="Peak learning rate (AdamW, linear decay).")] = 2e-5,
    batch_size: Annotated[int, Opt(help="Per-device batch size (the in-batch negatives).")] = 32,
    warmup_ratio: Annotated[float, Opt(help="Fraction of steps with linear warmup.")] = 0.1,
    max_seq_length: Annotated[
        int | None, Opt(help="Truncate inputs to this many tokens (default: the model's).")
    ] = None,
    seed: Annotated[int, Opt(help="Random seed (initialisation, data order).")] = 0,
    loss: Annotated[
        str,
        Opt(
            help="'mnrl' (MultipleNegativesRankingLoss), 'cached-mnrl' (GradCache) or 'mnrl-symmetric' (also each "
            "passage against the batch's queries)."
        ),
    ] = "mnrl",
    mini_batch_size: Annotated[int, Opt(help="cached-mnrl: mini-batch size of the gradient cache.")] = 32,
    query_prefix: Annotated[str, Opt(help="Prepended to queries (E5: 'query: ').")] = "",
    passage_prefix: Annotated[str, Opt(help="Prepended to positives and negatives (E5: 'passage: ').")] = "",
    no_negatives: Annotated[
        bool, Opt("--no-negatives", help="Drop the negative column: in-batch negatives only.")
    ] = False,
    save_steps: Annotated[int | None, Opt(help="Checkpoint every N steps (default: every epoch).")] = None,
    max_steps: Annotated[int | None, Opt(help="Stop after N optimiser steps (overrides --epochs).")] = None,
    precision: Annotated[
        str, Opt(help="'fp32', 'fp16' (GPU) or 'bf16' (GPU, or CPU autocast: faster on AVX512-BF16).")
    ] = "fp32",
    eval_steps: Annotated[int | None, Opt(help="Evaluate every N steps (default: every epoch).")] = None,
) -> TrainConfig:
    """The trainer's hyper-parameters (synthneg.train.TrainConfig)."""
    from synthneg.errors import SynthnegError
    from synthneg.losses import LOSSES
    from synthneg.train import TrainConfig

    if loss not in LOSSES:
        raise SynthnegError(f"--loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    if precision not in ("fp32", "fp16", "bf16"):
        raise SynthnegError(f"--precision must be 'fp32', 'fp16' or 'bf16', got {precision!r}")
    return TrainConfig(
        epochs=epochs,
        learning_rate=lr,
        batch_size=batch_size,
        warmup_ratio=warmup_ratio,
        max_seq_length=max_seq_length,
        seed=seed,
        loss=loss,  # type: ignore[arg-type]
        mini_batch_size=mini_batch_size,
        query_prefix=query_prefix,
        passage_prefix=passage_prefix,
        use_negatives=not no_negatives,
        save_steps=save_steps,
        eval_steps=eval_steps,
        max_steps=max_steps,
        precision=precision,  # type: ignore[arg-type]
    )


@option_groups(config=train_options)
def train_command(
    triples: Annotated[
        Path,
        Opt(
            "--triples",
            "-t",
            help="Training rows (JSONL[.gz] or Parquet): triples, or query-positive pairs (no 'negative' field).",
        ),
    ],
    out: Annotated[Path, Opt("--out", "-o", help="Output folder: the model, checkpoints/, train_summary.json.")],
    config: TrainConfig,
    model: Annotated[str, Opt("--model", "-m", help="'minilm' (embedded) or a sentence-transformers name/path.")] = (
        "minilm"
    ),
    eval_dataset: Annotated[
        str | None, Opt(help="Evaluate nDCG@10 during training on this BEIR name or folder.")
    ] = None,
    eval_split: Annotated[str, Opt(help="Split of --eval-dataset.")] = "dev",
    data_dir: Annotated[Path | None, Opt(help="Folder holding BEIR datasets, for --eval-dataset.")] = None,
    resume: Annotated[bool, Opt("--resume", help="Continue from the last checkpoint in OUT/checkpoints.")] = False,
    qrels: Annotated[
        Path | None,
        Opt(
            help="BEIR qrels TSV of labeled triples: passages judged relevant to a query are masked out of its "
            "in-batch negatives (loss 'mnrl', one process)."
        ),
    ] = None,
    progress: Annotated[
        bool, Opt("--progress/--no-progress", help="Show the step bar (a log line a minute off a terminal).")
    ] = True,
) -> None:
    """Fine-tune a bi-encoder: MultipleNegativesRankingLoss, NO_DUPLICATES batches, resumable checkpoints.

    Multi-GPU / multi-process: `torchrun --nproc_per_node N -m synthneg train ...`.
    """
    from synthneg.console import log_to_folder, stderr_console
    from synthneg.train import train

    evaluator, judged = _evaluator_and_qrels(eval_dataset, eval_split, data_dir, qrels)
    with log_to_folder(out):
        result = train(
            triples,
            model=model,
            out=out,
            config=config,
            evaluator=evaluator,
            resume=resume,
            qrels=judged,
            show_progress=progress,
        )
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun, one line from rank 0
        return
    s = result.summary
    loss_txt = f"{s['train_loss']:.4f}" if s.get("train_loss") is not None else "n/a"
    stderr_console().print(
        f"saved {result.path}: {s['global_step']} steps, {s['wall_s']:.1f} s, train loss {loss_txt}"
        + (f", {s['judged_masked']} judged in-batch candidates masked" if "judged_masked" in s else ""),
        highlight=False,
    )


def _evaluator_and_qrels(
    eval_dataset: str | None, eval_split: str, data_dir: Path | None, qrels: Path | None
) -> tuple[Any, dict[str, dict[str, int]] | None]:
    """The split to evaluate during training (``--eval-dataset``) and the judged pairs to mask (``--qrels``)."""
    evaluator = judged = None
    if eval_dataset is not None:
        from synthneg.data import load_beir, resolve_dataset

        evaluator = load_beir(resolve_dataset(eval_dataset, data_dir=data_dir), eval_split)
    if qrels is not None:
        from synthneg.data.beir import load_qrels

        judged = load_qrels(qrels)
    return evaluator, judged


def register(app: typer.Typer) -> None:
    app.command("train")(train_command)
