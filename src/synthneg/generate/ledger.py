"""The cost ledger of a stage (calls, tokens, seconds, failures by kind) and its progress bar."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.progress import BarColumn, MofNCompleteColumn, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.text import Text

if TYPE_CHECKING:
    from synthneg.console import LoggedProgress


@dataclass
class CostLedger:
    """What a stage cost. ``calls`` are paid calls this run; ``cached_calls`` were reused from the store."""

    stage: str
    calls: int = 0
    cached_calls: int = 0
    failed_calls: int = 0
    transport_retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    cached_completion_tokens: int = 0
    wall_seconds: float = 0.0
    tasks: int = 0
    accepted: int = 0
    gave_up: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    _t0: float = field(default_factory=time.perf_counter, repr=False)

    def tokens_per_second(self) -> float:
        elapsed = time.perf_counter() - self._t0
        return self.completion_tokens / elapsed if elapsed > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        wall = self.wall_seconds
        return {
            "stage": self.stage,
            "tasks": self.tasks,
            "accepted": self.accepted,
            "gave_up": self.gave_up,
            "calls": self.calls,
            "cached_calls": self.cached_calls,
            "failed_calls": self.failed_calls,
            "transport_retries": self.transport_retries,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cached_prompt_tokens": self.cached_prompt_tokens,
            "cached_completion_tokens": self.cached_completion_tokens,
            "wall_seconds": round(wall, 3),
            "completion_tokens_per_second": round(self.completion_tokens / wall, 2) if wall > 0 else None,
            "failures": dict(sorted(self.failures.items())),
        }

    def write(self, path: str | Path) -> Path:
        """Write the ledger as JSON (atomically)."""
        from synthneg.atomic import write_json

        return write_json(path, self.to_dict(), sort_keys=False)


class _TokRate(ProgressColumn):
    def __init__(self, ledger: CostLedger) -> None:
        super().__init__()
        self.ledger = ledger

    def render(self, task: Task) -> Text:
        return Text(f"{self.ledger.tokens_per_second():.1f} tok/s", style="progress.data.speed")


def make_progress(ledger: CostLedger, *, show: bool) -> LoggedProgress:
    """A bar with description, count, generated tokens/s (paid calls) and ETA, on synthneg's console; where standard
    error is not a terminal, also a log line per minute with the same figures (:class:`~synthneg.console.LoggedProgress`)."""
    from synthneg.console import LoggedProgress, stderr_console

    console = stderr_console()
    return LoggedProgress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _TokRate(ledger),
        TimeRemainingColumn(),
        console=console,
        disable=not (show and console.is_terminal),  # elsewhere the heartbeat lines, not a bar's last frame
        transient=False,
        heartbeat=show and not console.is_terminal,
        extra=lambda: f"{ledger.tokens_per_second():.1f} tok/s",
    )
