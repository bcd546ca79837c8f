"""What a user sees: synthneg's own lines and bars, not the inner libraries' ones.

The CLI picks a level (``--quiet``: errors and the final summary; default: synthneg's stage lines and
bars; ``-v``: also the libraries' own bars and logs) and calls :func:`configure`. At the default and
quiet levels the libraries' progress bars (transformers' weight loading and shard writing, datasets,
the Hugging Face hub, sentence-transformers' encode and model-card bars) and their info logs are
silenced; synthneg's own bars stand for them. :func:`log_to_folder` writes the full log of a command
to its output folder whatever the console shows.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sized
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from rich.progress import Progress, ProgressColumn, TaskID
from rich.text import Text

logger = logging.getLogger(__name__)
T = TypeVar("T")

_LIBRARY_LOGGERS = (
    "httpx",
    "sentence_transformers",
    "transformers",
    "datasets",
    "bm25s",
    "urllib3",
    "filelock",
    "huggingface_hub",
    "torch",
    "accelerate",
)
_state: dict[str, Any] = {"library_bars": True, "level": logging.INFO}
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def library_bars() -> bool:
    """Whether the inner libraries may show their own progress bars (only at ``-v``)."""
    return _state["library_bars"]


def console_shows(level: int) -> bool:
    """Whether the console shows records of ``level`` (the CLI's choice; INFO when not configured)."""
    return level >= _state["level"]


def configure(level: int, *, verbose: bool) -> None:
    """Silence the libraries' bars and info logs unless ``verbose``; set their log level."""
    _state["library_bars"] = verbose
    _state["level"] = level
    for name in _LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(level if verbose else max(level, logging.WARNING))
    if verbose:
        return
    os.environ.setdefault("TQDM_DISABLE", "1")  # read when tqdm is imported: bm25s, sentence-transformers
    # read when transformers, datasets and huggingface_hub are imported (importing them here would cost a second on
    # every command, the ones that never touch them included); a value the user set wins
    # (TRANSFORMERS_VERBOSITY=info shows transformers' info logs)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("DATASETS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    _quiet_transformers()


def _quiet_transformers() -> None:
    """transformers', datasets' and huggingface_hub's own switches, for those already imported (the environment
    above covers a later import)."""
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    if "datasets" in sys.modules:
        import datasets

        datasets.disable_progress_bars()
        datasets.logging.set_verbosity_error()
    if "huggingface_hub" in sys.modules:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()


INTERRUPTED = "interrupted: every finished LLM call and stage is kept; rerun the same command to resume"


class _FolderLog(logging.FileHandler):
    """The run folder's log file; if it cannot be written (disk full), it says so once and stops, instead of
    logging's traceback per record. The run itself goes on (the console still shows its lines)."""

    failed = False

    def handleError(self, record: logging.LogRecord) -> None:
        if self.failed:
            return
        self.failed = True
        exc = sys.exc_info()[1]
        stderr_console().print(
            f"[yellow]warning:[/] cannot write the log file {self.baseFilename} ({exc}); "
            "it stops here, the console goes on",
            highlight=False,
            soft_wrap=True,
        )

    def emit(self, record: logging.LogRecord) -> None:
        if not self.failed:
            super().emit(record)


@contextmanager
def log_to_folder(folder: str | Path, name: str = "synthneg.log") -> Iterator[Path]:
    """Append every log record (DEBUG and up, synthneg's and the libraries') to ``folder/name``."""
    path = Path(folder) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = _FolderLog(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    # the console handler keeps its own level; the root must let DEBUG records reach the file
    for h in root.handlers:
        if h is not handler and h.level == logging.NOTSET:
            h.setLevel(old_level)
    root.setLevel(logging.DEBUG)
    syn = logging.getLogger("synthneg")
    old_syn = syn.level
    syn.setLevel(logging.DEBUG)
    try:
        yield path
    except KeyboardInterrupt:  # the console's line is the entry point's (cli.main); the file gets its own
        handler.handle(syn.makeRecord(syn.name, logging.WARNING, __file__, 0, INTERRUPTED, None, None))
        raise
    finally:
        root.removeHandler(handler)
        handler.close()
        root.setLevel(old_level)
        syn.setLevel(old_syn)


def console_handler(level: int) -> logging.Handler:
    """The handler of the command line's log lines: rich's (time and level columns, fitted to the width) on a
    terminal; elsewhere (nohup, CI, a pipe) one plain line per record, never wrapped or padded to 80 columns, so that
    a background run's log can be grepped."""
    console = stderr_console()
    if console.is_terminal:
        from rich.logging import RichHandler

        handler: logging.Handler = RichHandler(console=console, show_path=False, rich_tracebacks=False)
    else:
        handler = logging.StreamHandler(console.file)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%Y-%m-%d %H:%M:%S"))
    handler.setLevel(level)
    return handler


#: the width of a console that is not a terminal (a file, a pipe): tables and lines are not cut to 80 columns
FILE_WIDTH = 200


def _console(*, stderr: bool) -> Console:
    console = Console(stderr=stderr)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(stderr=stderr, width=FILE_WIDTH)
    return console


def stderr_console() -> Console:
    """The one console that synthneg's log lines and bars share (standard error), so that they never tear; where
    standard error is not a terminal, :data:`FILE_WIDTH` columns wide (``COLUMNS`` wins)."""
    if _state.get("console") is None:
        _state["console"] = _console(stderr=True)
    return _state["console"]


def stdout_console() -> Console:
    """A console on standard output for results tables; as wide as :func:`stderr_console` where it is not a
    terminal, so that a table written to a file or a pipe keeps its headers and figures whole."""
    return _console(stderr=False)


def track(
    iterable: Iterable[T], description: str, *, total: int | None = None, show: bool = True, unit: str = "items"
) -> Iterator[T]:
    """``iterable`` with a :func:`progress_bar` over it (``total`` defaults to ``len(iterable)``)."""
    if total is None:
        total = len(iterable) if isinstance(iterable, Sized) else 0
    with progress_bar(description, total, show=show, unit=unit) as bar:
        for item in iterable:
            yield item
            bar.advance(1)


def heartbeat_seconds() -> float:
    """How often a long step logs its progress where no bar can be drawn (``SYNTHNEG_HEARTBEAT_S``, default 60)."""
    try:
        return max(0.0, float(os.environ.get("SYNTHNEG_HEARTBEAT_S", "60")))
    except ValueError:
        return 60.0


class LoggedProgress(Progress):
    """rich's ``Progress`` that, with ``heartbeat`` (standard error is a file, a pipe, a CI log: no bar is drawn),
    logs one INFO line per :func:`heartbeat_seconds` for each unfinished task: its count, its rate over the last
    ten lines' span (items advanced as ``stored`` left out), the ETA at that rate, and
    ``extra()`` (generation: tok/s). The lines reach the console and the run folder's log, so a background run
    shows where it stands."""

    WINDOW = 10

    def __init__(
        self, *columns: Any, heartbeat: bool = False, extra: Callable[[], str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*columns, **kwargs)
        self._heartbeat, self._extra = heartbeat, extra
        self._every = heartbeat_seconds()
        self._samples: dict[TaskID, deque[tuple[float, float]]] = {}
        self._last_beat = time.monotonic()

    def advance(self, task_id: TaskID, advance: float = 1, *, stored: bool = False) -> None:
        """Move the task on; ``stored`` items (a resumed run's stored calls) count as done but not in the rate,
        so that the ETA is the remaining work at the speed of the work being done."""
        super().advance(task_id, advance)
        samples = self._samples.get(task_id)
        if stored and samples:
            self._samples[task_id] = deque(((t, done + advance) for t, done in samples), maxlen=self.WINDOW + 1)
        self._beat()

    def update(self, task_id: TaskID, **kwargs: Any) -> None:
        super().update(task_id, **kwargs)
        self._beat()

    def _beat(self) -> None:
        if not self._heartbeat:
            return
        now = time.monotonic()
        for task in self.tasks:  # first seen: the baseline sample, no line
            self._samples.setdefault(task.id, deque([(now, task.completed)], maxlen=self.WINDOW + 1))
        if now - self._last_beat < self._every:
            return
        self._last_beat = now
        for task in self.tasks:
            samples = self._samples[task.id]
            t0, done0 = samples[0]
            if task.finished or not task.total or now <= t0:
                continue
            samples.append((now, task.completed))
            rate = (task.completed - done0) / (now - t0)
            eta = str(timedelta(seconds=round((task.total - task.completed) / rate))) if rate > 0 else "-"
            speed = f"{rate * 60:.1f}/min" if rate < 1 else f"{rate:.1f}/s"
            extra = f", {self._extra()}" if self._extra else ""
            logger.info(
                "%s: %d of %d (%.0f%%), %s%s, eta %s",
                task.description,
                task.completed,
                task.total,
                100 * task.completed / task.total,
                speed,
                extra,
                eta,
            )


@contextmanager
def progress_bar(description: str, total: int, *, show: bool = True, unit: str = "items") -> Iterator[Any]:
    """One rich bar (count, rate, ETA) for a long step; ``bar.advance(n)`` moves it. Transient: it gives
    way to the step's summary line when done. Shown only on a terminal; elsewhere (a log file) a line per
    :func:`heartbeat_seconds` instead (:class:`LoggedProgress`); a no-op bar when ``show`` is false."""
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(unit),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    console = stderr_console()
    drawn = show and console.is_terminal
    with LoggedProgress(
        *columns, console=console, disable=not drawn, transient=True, heartbeat=show and not drawn
    ) as prog:
        task = prog.add_task(description, total=total)

        class _Bar:
            def advance(self, n: int = 1) -> None:
                prog.advance(task, n)

        yield _Bar()


class RateColumn(ProgressColumn):
    """Items per second of a rich task (``-`` until rich has measured a speed)."""

    def __init__(self, unit: str = "items") -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Any) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-" if speed is None else f"{speed:,.1f} {self.unit}/s", style="progress.data.speed")


def step_bar() -> Any:
    """synthneg's training bar, as a transformers callback: steps done of the run's total, steps/s and
    ETA; each logged loss goes to the debug log (and so to the run folder's log file)."""
    from transformers import TrainerCallback

    class StepBar(TrainerCallback):  # type: ignore[misc]
        def __init__(self) -> None:
            self._ctx: Any = None
            self._bar: Any = None

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if state.is_world_process_zero and console_shows(logging.INFO):
                self._ctx = progress_bar("training", state.max_steps, unit="steps")
                self._bar = self._ctx.__enter__()
                self._bar.advance(state.global_step)

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self._bar is not None:
                self._bar.advance(1)

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
            if logs and "loss" in logs:
                logger.debug("step %d: loss %.4f", state.global_step, float(logs["loss"]))

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self._ctx is not None:
                self._ctx.__exit__(None, None, None)
                self._ctx = self._bar = None

    return StepBar()
