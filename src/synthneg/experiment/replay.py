"""Rebuilding a committed run's data from its tracked files alone: the call stores, the judge's and reranker's
score stores and the markers, with generators that answer no call (a fresh clone has no model but the default one).

Used by the replay check of the committed runs (``tests/test_committed_runs.py``) and by
``scripts/migrate_arm_digest.py``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from synthneg.experiment.config import ExperimentConfig
    from synthneg.experiment.runner import ExperimentRunner
    from synthneg.llm.types import ChatRequest


class StoreOnlyGenerator:
    """A llama.cpp generator stand-in whose every call must already be in the run's call store."""

    def __init__(self, model: str, parallel: int) -> None:
        from synthneg.llm.llamacpp import gguf_identity

        self.model_name, self.parallel = model, parallel
        self.model_id = gguf_identity(model)

    def describe(self) -> dict[str, Any]:
        """The real generator's description (it goes into every output's provenance, so into the keys)."""
        from synthneg.llm.llamacpp import LlamaCppGenerator

        return LlamaCppGenerator.describe(self)  # type: ignore[arg-type]

    def generate(self, requests: list[ChatRequest], on_result: Any = None) -> None:
        from synthneg.errors import SynthnegError

        raise SynthnegError(f"the replay needed {len(requests)} LLM call(s) that the committed store lacks")

    def close(self) -> None:
        pass


def tracked_copy(run: Path, dest: Path) -> None:
    """Copy the files git tracks under ``run`` (never the git-ignored triples, models or generated JSONL) to ``dest``."""
    run = run.resolve()
    top = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], cwd=run, capture_output=True, text=True, check=True
    ).stdout.strip()
    files = subprocess.run(
        ["git", "ls-files", "-z", "--", str(run)], cwd=top, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, files):
        src = Path(top) / name.decode()
        target = dest / src.relative_to(run)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)


def replay_runner(config: ExperimentConfig, folder: Path) -> ExperimentRunner:
    """A runner on ``folder`` (a tracked copy of ``config``'s run) whose LLMs answer from the stores only."""
    from synthneg.experiment.runner import ExperimentRunner

    runner = ExperimentRunner(config.model_copy(update={"output_dir": folder}), show_progress=False)
    neg = config.negatives_llm
    runner.use_generators(
        StoreOnlyGenerator(config.llm.model, config.llm.parallel),  # type: ignore[arg-type]
        StoreOnlyGenerator(neg.model, neg.parallel) if neg else None,  # type: ignore[arg-type]
    )
    return runner
