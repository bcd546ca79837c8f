"""``synthneg train``."""

from __future__ import annotations

import os
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train_command(
        triples: Path = typer.Option(
            ...,
            "--triples",
            "-t",
            help="Training rows (JSONL[.gz] or Parquet): triples, or query-positive pairs (no 'negative' field).",
        ),
        out: Path = typer.Option(
            ..., "--out", "-o", help="Output folder: the model, checkpoints/, train_summary.json."
        ),
        model: str = typer.Option(
            "minilm", "--model", "-m", help="'minilm' (embedded) or a sentence-transformers name/path."
        ),
        epochs: float = typer.Option(1.0, help="Training epochs."),
        lr: float = typer.Option(2e-5, "--lr", help="Peak learning rate (AdamW, linear decay)."),
        batch_size: int = typer.Option(32, help="Per-device batch size (the in-batch negatives)."),
        warmup_ratio: float = typer.Option(0.1, help="Fraction of steps with linear warmup."),
        max_seq_length: int | None = typer.Option(
            None, help="Truncate inputs to this many tokens (default: the model's)."
        ),
        seed: int = typer.Option(0, help="Random seed (initialisation, data order)."),
        loss: str = typer.Option("mnrl", help="'mnrl' (MultipleNegativesRankingLoss) or 'cached-mnrl' (GradCache)."),
        mini_batch_size: int = typer.Option(32, help="cached-mnrl: mini-batch size of the gradient cache."),
        query_prefix: str = typer.Option("", help="Prepended to queries (E5: 'query: ')."),
        passage_prefix: str = typer.Option("", help="Prepended to positives and negatives (E5: 'passage: ')."),
        no_negatives: bool = typer.Option(
            False, "--no-negatives", help="Drop the negative column: in-batch negatives only."
        ),
        save_steps: int | None = typer.Option(None, help="Checkpoint every N steps (default: every epoch)."),
        max_steps: int | None = typer.Option(None, help="Stop after N optimiser steps (overrides --epochs)."),
        precision: str = typer.Option(
            "fp32", help="'fp32', 'fp16' (GPU) or 'bf16' (GPU, or CPU autocast: faster on AVX512-BF16)."
        ),
        eval_dataset: str | None = typer.Option(
            None, help="Evaluate nDCG@10 during training on this BEIR name or folder."
        ),
        eval_split: str = typer.Option("dev", help="Split of --eval-dataset."),
        eval_steps: int | None = typer.Option(None, help="Evaluate every N steps (default: every epoch)."),
        data_dir: Path | None = typer.Option(None, help="Folder holding BEIR datasets, for --eval-dataset."),
        resume: bool = typer.Option(False, "--resume", help="Continue from the last checkpoint in OUT/checkpoints."),
        qrels: Path | None = typer.Option(
            None,
            help="BEIR qrels TSV of labeled triples: passages judged relevant to a query are masked out of its "
            "in-batch negatives (loss 'mnrl', one process).",
        ),
    ) -> None:
        """Fine-tune a bi-encoder: MultipleNegativesRankingLoss, NO_DUPLICATES batches, resumable checkpoints.

        Multi-GPU / multi-process: `torchrun --nproc_per_node N -m synthneg train ...`.
        """
        from rich.console import Console

        from synthneg.errors import SynthnegError
        from synthneg.train import TrainConfig, train

        if loss not in ("mnrl", "cached-mnrl"):
            raise SynthnegError(f"--loss must be 'mnrl' or 'cached-mnrl', got {loss!r}")
        if precision not in ("fp32", "fp16", "bf16"):
            raise SynthnegError(f"--precision must be 'fp32', 'fp16' or 'bf16', got {precision!r}")
        config = TrainConfig(
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
        evaluator = None
        if eval_dataset is not None:
            from synthneg.data import load_beir, resolve_dataset

            evaluator = load_beir(resolve_dataset(eval_dataset, data_dir=data_dir), eval_split)
        judged = None
        if qrels is not None:
            from synthneg.data.beir import load_qrels

            judged = load_qrels(qrels)
        from synthneg.console import log_to_folder

        with log_to_folder(out):
            result = train(
                triples, model=model, out=out, config=config, evaluator=evaluator, resume=resume, qrels=judged
            )
        if int(os.environ.get("RANK", "0")) != 0:  # under torchrun, one line from rank 0
            return
        s = result.summary
        loss_txt = f"{s['train_loss']:.4f}" if s.get("train_loss") is not None else "n/a"
        Console(stderr=True).print(
            f"saved {result.path}: {s['global_step']} steps, {s['wall_s']:.1f} s, train loss {loss_txt}"
            + (f", {s['judged_masked']} judged in-batch candidates masked" if "judged_masked" in s else ""),
            highlight=False,
        )
