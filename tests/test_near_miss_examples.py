"""scripts/near_miss_examples.py: a seeded sample of a near-miss run's candidates, every refusal explained."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def _row(qid: str, c: int, kept: bool) -> dict:
    return {"query_id": qid, "candidate": c, "kept": kept, "rewrite": {"text": f"{qid} rewritten {c}", "reason": None}}


def test_kept_and_refused_candidates_with_their_reasons(tmp_path: Path) -> None:
    gen = tmp_path / "run" / "generation"
    gen.mkdir(parents=True)
    queries = [{"query_id": f"q{i}", "query": f"original query {i}"} for i in range(4)]
    judge_ok = {"negative": -1.5, "positive": 2.0, "answers_query": False}
    rows = [
        {
            **_row("q0", 0, True),
            "passage": {"text": "kept | passage", "reason": None},
            "judge": judge_ok,
            "hardness": 0.7,
        },
        {**_row("q0", 1, False), "passage": {"text": "easier one", "reason": None}, "judge": judge_ok, "hardness": 0.2},
        {
            **_row("q1", 0, False),
            "passage": {"text": "answers it", "reason": None},
            "judge": {"negative": 2.5, "positive": 2.0, "answers_query": True},
        },
        {**_row("q2", 0, False), "rewrite": {"text": "same words", "reason": "paraphrase", "detail": ""}},
        {**_row("q3", 0, False), "passage": {"text": "def f(): pass", "reason": "code"}},
    ]
    (gen / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries), encoding="utf-8")
    (gen / "negatives-llm-query-verified.candidates.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8"
    )
    script = ROOT / "scripts" / "near_miss_examples.py"
    proc = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "run"), "--kept", "5", "--refused", "10"],
        capture_output=True,
        text=True,
        check=True,
    )
    out = proc.stdout
    assert out.startswith("5 candidates for 4 queries; 1 kept.")
    assert "| 1 | original query 0 | q0 rewritten 0 | kept \\| passage | -1.50 / +2.00 | 0.7 |" in out
    refused = out.split("**Refused**")[1]
    assert "answers the query (judge +2.50 vs positive +2.00)" in refused
    assert "rewrite refused: paraphrase" in refused and "passage refused: code" in refused
    assert "passed; another candidate of its query was kept" in refused
    assert refused.count("\n| ") == 2 + 4  # the header, its separator line and four refused rows
