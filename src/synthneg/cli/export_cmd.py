"""``synthneg export``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("export")
    def export_command(
        triples: Annotated[list[Path], typer.Argument(help="Triples files (.jsonl[.gz] / .parquet); several merge.")],
        out: Annotated[Path, typer.Option("--out", "-o", help="New folder for the datasets export.")],
        with_metadata: Annotated[
            bool, typer.Option("--with-metadata", help="Add ids, method, scores and provenance columns.")
        ] = False,
        licence: Annotated[
            list[str] | None, typer.Option("--licence", help="Licence of a source, for the card (repeatable).")
        ] = None,
        title: Annotated[str, typer.Option(help="Dataset card title.")] = "synthneg training triples",
        push_to_hub: Annotated[
            str | None, typer.Option("--push-to-hub", help="Also push to this Hub repo id (needs login).")
        ] = None,
        public: Annotated[bool, typer.Option("--public", help="Make the Hub dataset public.")] = False,
    ) -> None:
        """Export triples to a Hugging Face datasets folder with (anchor, positive, negative) columns and a card."""
        from synthneg import export
        from synthneg.data.triples import read_triples

        rows = [t for path in triples for t in read_triples(path)]
        folder = export.export_triples(rows, out, with_metadata=with_metadata, licences=licence or (), title=title)
        typer.echo(f"exported {len(rows)} triples to {folder} (datasets.load_from_disk)")
        if push_to_hub:
            url = export.push_to_hub(folder, push_to_hub, private=not public)
            typer.echo(f"pushed to {url}")
