"""Where a fine-tune resumes: the checkpoint to continue from, and its step."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from synthneg.errors import SynthnegError

logger = logging.getLogger("synthneg.train")

CHECKPOINT_DIR = "checkpoints"


def resume_point(out: Path, resume: bool | str | Path) -> str | None:
    """The checkpoint to resume from: ``resume`` itself when it is a path, the last one under ``out`` when True."""
    if not resume:
        return None
    if not isinstance(resume, bool):
        path = Path(resume)
        if not (path / "trainer_state.json").is_file():
            raise SynthnegError(f"not a training checkpoint (no trainer_state.json): {path}")
        return str(path)
    from transformers.trainer_utils import get_last_checkpoint

    ckpt_dir = out / CHECKPOINT_DIR
    last = get_last_checkpoint(str(ckpt_dir)) if ckpt_dir.is_dir() else None
    if last is None:
        logger.debug("no checkpoint under %s: starting from scratch", ckpt_dir)
    return last


def checkpoint_step(checkpoint: str | None) -> int:
    """The global step a checkpoint was saved at (0 for none)."""
    if checkpoint is None:
        return 0
    state = json.loads((Path(checkpoint) / "trainer_state.json").read_text(encoding="utf-8"))
    return int(state.get("global_step", 0))
