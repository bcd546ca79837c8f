"""TREC run files: ``qid Q0 docid rank score tag`` per line."""

from __future__ import annotations

from pathlib import Path

from synthneg.data.io import iter_lines
from synthneg.errors import DataError
from synthneg.evaluate.metrics import Run, truncate_run


def write_trec_run(run: Run, path: str | Path, tag: str = "synthneg") -> None:
    """Write ``run`` in TREC format, ranked by score (ties by doc id, as trec_eval orders them)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ranked = truncate_run(run, k=10**9)
    with path.open("w", encoding="utf-8") as fh:
        for qid, docs in ranked.items():
            for rank, (doc_id, score) in enumerate(docs.items(), start=1):
                fh.write(f"{qid} Q0 {doc_id} {rank} {score:.6f} {tag}\n")


def read_trec_run(path: str | Path) -> Run:
    """Read a TREC run file (6 whitespace-separated columns)."""
    path = Path(path)
    run: Run = {}
    seen = False
    for lineno, text in iter_lines(path):
        seen = True
        cols = text.split()
        if len(cols) != 6:
            raise DataError(
                f"expected 6 columns 'qid Q0 docid rank score tag', got {len(cols)}", path=path, line=lineno
            )
        qid, _, doc_id, _, score, _ = cols
        try:
            run.setdefault(qid, {})[doc_id] = float(score)
        except ValueError:
            raise DataError(f"score {score!r} is not a number", path=path, line=lineno, field="score") from None
    if not seen:
        raise DataError("file is empty", path=path)
    return run
