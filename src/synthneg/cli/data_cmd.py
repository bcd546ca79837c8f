"""``synthneg data``: locate, download and describe BEIR datasets."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from synthneg.console import stdout_console


def register(app: typer.Typer) -> None:
    data_app = typer.Typer(help="BEIR datasets: where they are, download, summary.", no_args_is_help=True)
    app.add_typer(data_app, name="data")

    @data_app.command("info")
    def info(
        dataset: list[str] = typer.Argument(..., help="BEIR names or folders."),
        split: str = typer.Option("test", help="qrels split."),
        data_dir: Path | None = typer.Option(None, help="Folder holding BEIR datasets."),
    ) -> None:
        """Load each dataset (validating every line) and print its size."""
        from synthneg.data import load_beir, resolve_dataset

        table = Table(title=f"BEIR datasets ({split})")
        for col in ("dataset", "path", "docs", "queries", "qrels"):
            table.add_column(col)
        for name in dataset:
            ds = load_beir(resolve_dataset(name, data_dir=data_dir), split)
            n_qrels = sum(len(v) for v in ds.qrels.values())
            table.add_row(ds.name, str(ds.path), str(len(ds.corpus)), str(len(ds.queries)), str(n_qrels))
        stdout_console().print(table)

    @data_app.command("download")
    def download(
        name: list[str] = typer.Argument(..., help="Official BEIR names, e.g. scifact nfcorpus."),
    ) -> None:
        """Download official BEIR zips into the cache (md5-verified, extracted safely)."""
        from synthneg.data.locate import download_beir

        for n in name:
            typer.echo(download_beir(n))
