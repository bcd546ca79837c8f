"""The ``synthneg`` command line: thin wrappers over the Python API.

Each stage lives in its own module with a ``register(app)`` function.
"""

from __future__ import annotations

import logging
import sys

import typer

from synthneg import __version__
from synthneg.console import stderr_console
from synthneg.errors import SynthnegError

console = stderr_console()

app = typer.Typer(
    name="synthneg",
    help="Label-free training data for dense retrievers: LLM queries, corpus-free LLM hard negatives, "
    "mined baselines, fine-tuning and BEIR evaluation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"synthneg {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: int = typer.Option(
        0, "--verbose", "-v", count=True, help="Also the libraries' own bars and logs (-v); debug lines (-vv)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only warnings, errors and the final summary."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    from synthneg.console import configure, console_handler

    level = logging.WARNING if quiet else (logging.DEBUG if verbose >= 2 else logging.INFO)
    handler = console_handler(level)
    logging.basicConfig(level=level, format="%(message)s", handlers=[handler], force=True)
    configure(level, verbose=verbose >= 1)


def _register_all() -> None:
    from synthneg.cli import (
        data_cmd,
        demo_cmd,
        evaluate_cmd,
        experiment_cmd,
        export_cmd,
        filter_cmd,
        generate_cmd,
        inspect_cmd,
        mine_cmd,
        train_cmd,
    )

    for module in (
        evaluate_cmd,
        data_cmd,
        demo_cmd,
        generate_cmd,
        filter_cmd,
        train_cmd,
        mine_cmd,
        export_cmd,
        inspect_cmd,
        experiment_cmd,
    ):
        module.register(app)


_register_all()


def main() -> None:
    """Console entry point: user errors print one clear line and exit with code 2 (usage errors too,
    as click reports them); so do a full disk, a read-only or forbidden output folder. Ctrl-C (SIGINT)
    logs one line saying what is kept and exits with code 130."""
    from synthneg.errors import storage_error

    try:
        app()  # standalone: click prints usage errors and exits 2; typer turns Ctrl-C into exit code 130
    except SynthnegError as exc:
        _fail(str(exc))
    except SystemExit as exc:
        if exc.code == 130 and _by_ctrl_c(exc):
            from synthneg.console import INTERRUPTED

            logging.getLogger("synthneg").warning(INTERRUPTED)
        raise
    except Exception as exc:
        message = storage_error(exc)
        if message is None:
            raise
        _fail(message)


def _by_ctrl_c(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt):
            return True
        seen = seen.__context__
    return False


def _fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)  # one line, any width
    sys.exit(2)
