"""Print a seeded sample of a near-miss run's candidates as markdown, unedited, for reading by eye:
kept (verified) triples and refused candidates, each with its verdicts.

    .venv/bin/python scripts/near_miss_examples.py docs/results/scifact-indomain-500 --kept 30 --refused 10

Reads ``generation/negatives-<arm>.candidates.jsonl`` (every candidate with its drift, passage and judge
verdicts, written by ``--strategy near-miss`` and the ``llm-near-miss`` / ``llm-query-verified`` arms) and the
run's query records (``generation/queries.jsonl``, rebuilt by rerunning the experiment at no LLM cost) for the
original queries. A refused candidate is one that was not kept: its rewrite failed the drift check, its passage
failed the output rules, or the judge found that it answers the original query.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def cell(text: str, limit: int = 400) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def refusal(row: dict[str, Any]) -> str:
    """Why a candidate was not kept, in a few words."""
    rewrite = row.get("rewrite", {})
    if rewrite.get("reason"):
        return f"rewrite refused: {rewrite['reason']}"
    passage = row.get("passage")
    if passage is None:
        return "no passage"
    if passage.get("reason"):
        return f"passage refused: {passage['reason']}"
    judge = row.get("judge")
    if judge and judge.get("answers_query"):
        return f"answers the query (judge {judge['negative']:+.2f} vs positive {judge['positive']:+.2f})"
    return "passed; another candidate of its query was kept (harder, or earlier without an encoder)"


def render(rows: list[dict[str, Any]], queries: dict[str, str], kept: int, refused: int, seed: int) -> str:
    rng = random.Random(seed)
    kept_rows = [r for r in rows if r.get("kept")]
    refused_rows = [r for r in rows if not r.get("kept")]
    kept_pick = rng.sample(kept_rows, min(kept, len(kept_rows)))
    refused_pick = rng.sample(refused_rows, min(refused, len(refused_rows)))
    out = [
        f"{len(rows)} candidates for {len({r['query_id'] for r in rows})} queries; {len(kept_rows)} kept. "
        f"Drawn with `random.Random({seed})`: {len(kept_pick)} kept, {len(refused_pick)} refused.",
        "",
        "**Kept (verified)**",
        "",
        "| # | query | near-miss query | negative | judge neg / pos | hardness |",
        "| ---: | --- | --- | --- | --- | ---: |",
    ]
    for i, r in enumerate(kept_pick, 1):
        judge = r.get("judge")
        scores = f"{judge['negative']:+.2f} / {judge['positive']:+.2f}" if judge else "-"
        out.append(
            f"| {i} | {cell(queries.get(r['query_id'], '?'))} | {cell(r['rewrite']['text'])} | "
            f"{cell(r['passage']['text'])} | {scores} | {r.get('hardness', '-')} |"
        )
    out += [
        "",
        "**Refused**",
        "",
        "| # | query | near-miss query | negative | why |",
        "| ---: | --- | --- | --- | --- |",
    ]
    for i, r in enumerate(refused_pick, 1):
        passage = (r.get("passage") or {}).get("text", "-")
        out.append(
            f"| {i} | {cell(queries.get(r['query_id'], '?'))} | {cell(r['rewrite'].get('text') or '-')} | "
            f"{cell(passage)} | {refusal(r)} |"
        )
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="the run folder (output_dir of the experiment)")
    parser.add_argument("--arm", default="llm-query-verified")
    parser.add_argument("--kept", type=int, default=30)
    parser.add_argument("--refused", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    generation = args.run / "generation"
    rows = read_jsonl(generation / f"negatives-{args.arm}.candidates.jsonl")
    queries = {r["query_id"]: r["query"] for r in read_jsonl(generation / "queries.jsonl")}
    print(render(rows, queries, args.kept, args.refused, args.seed), end="")


if __name__ == "__main__":
    main()
