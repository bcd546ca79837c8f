"""How far each fine-tune moved the model, against what it gained: one row per trained arm of each run folder.

For runs that share a base model, an evaluation set and a labeled ceiling, the row puts the training budget
(rows, optimizer steps, peak learning rate, and their product ``steps x lr``: a rough measure of how far the
weights can move from the base model) beside nDCG@10 and the share of the labeled gain. A share that falls
as ``steps x lr`` grows, at equal data quality, points at drift from the base model rather than at the data.

    python3 scripts/steps_table.py docs/results/scifact-indomain-curve-cpu*/n* \\
        --zero-shot 0.6451 --labeled 0.6693

The zero-shot and labeled figures default to each run's own arms (``results.json``) when it has them.
Reads ``config.json``, ``stages.json`` and ``results.json`` only; prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _mean(results: dict, arm: str, dataset: str) -> tuple[float, float, int] | None:
    """An arm's nDCG@10 mean, sd and seed count as ``results.json`` records them."""
    cell = results.get("arms", {}).get(arm, {}).get(dataset)
    if not cell:
        return None
    ndcg = cell["nDCG@10"]
    return ndcg["mean"], ndcg["sd"], len(ndcg["values"])


def _rows(rows: int, seen: int) -> str:
    """The training rows, and how many a step budget (``train.max_steps``) reached when it cut the epoch short."""
    return f"{min(rows, seen)} of {rows}" if seen < rows else str(rows)


def rows(run: Path, zero_shot: float | None, labeled: float | None) -> list[list[str]]:
    """The table rows of one run folder (one per trained arm with an evaluation)."""
    config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    stages = json.loads((run / "stages.json").read_text(encoding="utf-8"))
    results = json.loads((run / "results.json").read_text(encoding="utf-8"))
    dataset = config["eval"]["datasets"][0]
    train = config["train"]
    zs = zero_shot if zero_shot is not None else (_mean(results, "zero-shot", dataset) or (None,))[0]
    lab = labeled if labeled is not None else (_mean(results, "labeled", dataset) or (None,))[0]
    out = []
    for arm in results.get("arms", {}):
        runs = [v for k, v in stages.items() if k.startswith(f"train:{arm}:")]
        score = _mean(results, arm, dataset)
        if not runs or score is None or arm == "labeled":
            continue
        steps = runs[0]["steps"]
        lr = train["learning_rate"]
        mean, sd, n = score
        share = f"{(mean - zs) / (lab - zs):.0%}" if zs is not None and lab is not None and lab != zs else "-"
        out.append(
            [
                f"{run.parent.name}/{run.name}",
                arm,
                _rows(runs[0]["rows"], steps * train["batch_size"]),
                str(steps),
                f"{lr:g}",
                train.get("loss", "mnrl"),
                f"{steps * lr:.1e}",
                f"{mean:.4f} ± {sd:.4f} ({n})",
                share,
            ]
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (a curve point: docs/results/<run>/n<N>)")
    parser.add_argument("--zero-shot", type=float, help="the zero-shot nDCG@10 (default: each run's own)")
    parser.add_argument("--labeled", type=float, help="the labeled ceiling's mean nDCG@10 (default: each run's own)")
    args = parser.parse_args()
    table = [
        r for run in args.runs if (run / "results.json").is_file() for r in rows(run, args.zero_shot, args.labeled)
    ]
    table.sort(key=lambda r: float(r[6]))
    head = ["run", "arm", "rows", "steps", "peak lr", "loss", "steps x lr", "nDCG@10 (seeds)", "share of labeled gain"]
    print("| " + " | ".join(head) + " |")
    print("| " + " | ".join("---" if i < 2 or i == 5 else "---:" for i in range(len(head))) + " |")
    for r in table:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
