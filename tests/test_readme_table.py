"""scripts/readme_table.py: the README's headline table is built from a run's results.json."""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "readme_table", Path(__file__).parents[1] / "scripts" / "readme_table.py"
)
assert _spec is not None and _spec.loader is not None
readme_table = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(readme_table)


def _entry(mean: float, sd: float = 0.0, seeds: int = 1) -> dict:
    return {"nDCG@10": {"mean": mean, "sd": sd}, "seeds": seeds}


def test_rows_cells_pending_and_ceiling_share() -> None:
    results = {
        "arms": {
            "zero-shot": {"scifact": _entry(0.6451)},
            "labeled": {"scifact": _entry(0.6669, 0.001, 3)},
            "bm25": {"scifact": _entry(0.6510, 0.0019, 3)},
            "llm-query": {"scifact": _entry(0.6217, 0.0010, 3)},
        },
        "pending": ["ce on scifact: 0/1 seeds"],
        "significance": {"llm-query": {"scifact": {"bm25": {"diff": -0.0293, "p_holm": 0.001}}}},
        "share_of_labeled_gain": {"llm-query": {"scifact": -1.07}, "bm25": {"scifact": 0.27}},
    }
    rows = readme_table.table(results).splitlines()
    assert rows[0].startswith("| arm | seeds | SciFact nDCG@10 | vs BM25 (Holm p) | share of labeled gain |")
    by_arm = {r.split(" | ")[0].lstrip("| "): r for r in rows[2:]}
    assert "0.6217 ± 0.0010 | -0.0293 (0.001) | -107%" in by_arm[readme_table.NAMES["llm-query"]]
    assert "| 0.6451 | - | - |" in by_arm[readme_table.NAMES["zero-shot"]]  # one run: no sd, no test, no share
    assert "| 0 | pending |" in by_arm[readme_table.NAMES["ce"]]  # pending arms are listed, not hidden
    assert [r.split(" | ")[0].lstrip("| ") for r in rows[2:]] == [
        readme_table.NAMES[a] for a in ("zero-shot", "labeled", "bm25", "llm-query", "ce")
    ]


def test_baseline_zero_shot_column() -> None:
    results = {
        "arms": {"zero-shot": {"scifact": _entry(0.6457)}, "bm25": {"scifact": _entry(0.65, 0.003, 3)}},
        "significance": {
            "bm25": {"scifact": {"zero-shot": {"diff": 0.0043, "p_holm": 0.595}}},
            "zero-shot": {"scifact": {"bm25": {"diff": -0.0043, "p_holm": 0.595}}},
        },
    }
    rows = readme_table.table(results, baseline="zero-shot").splitlines()
    assert "vs zero-shot (Holm p)" in rows[0]
    by_arm = {r.split(" | ")[0].lstrip("| "): r for r in rows[2:]}
    assert "| +0.0043 (0.595) |" in by_arm[readme_table.NAMES["bm25"]]
    assert "| 0.6457 | - |" in by_arm[readme_table.NAMES["zero-shot"]]
    with pytest.raises(ValueError, match="baseline must be one of"):
        readme_table.table(results, baseline="ce")


def test_ceiling_from_another_run_gives_the_shares_and_its_own_row() -> None:
    results = {
        "arms": {
            "zero-shot": {"nfcorpus": _entry(0.3153)},
            "labeled": {"nfcorpus": _entry(0.3041, 0.0039, 3)},  # this run's ceiling loses: no share
            "bm25": {"nfcorpus": _entry(0.3228, 0.0003, 3)},
        },
        "significance": {"bm25": {"nfcorpus": {"zero-shot": {"diff": 0.0075, "p_holm": 0.05}}}},
        "share_of_labeled_gain": {"bm25": {"nfcorpus": None}},
    }
    ceiling = {
        "name": "bm25top",
        "arms": {"zero-shot": {"nfcorpus": _entry(0.3153)}, "labeled": {"nfcorpus": _entry(0.3303, 0.001, 3)}},
        "significance": {"labeled": {"nfcorpus": {"zero-shot": {"diff": 0.015, "p_holm": 0.0002}}}},
    }
    rows = readme_table.table(results, baseline="zero-shot", ceiling=ceiling, ceiling_label="top ceiling").splitlines()
    assert rows[0].endswith("| share of ceiling gain |")
    by_arm = {r.split(" | ")[0].lstrip("| "): r for r in rows[2:]}
    assert list(by_arm)[:3] == [readme_table.NAMES["zero-shot"], readme_table.NAMES["labeled"], "top ceiling"]
    assert "| 0.3303 ± 0.0010 | +0.0150 (<0.001) | - |" in by_arm["top ceiling"]
    assert by_arm[readme_table.NAMES["bm25"]].endswith("| 50% |")  # (0.3228 - 0.3153) / (0.3303 - 0.3153)
    assert by_arm[readme_table.NAMES["labeled"]].endswith("| - |")
    ceiling["arms"]["zero-shot"]["nfcorpus"] = _entry(0.3160)
    with pytest.raises(ValueError, match="same zero-shot"):
        readme_table.table(results, baseline="zero-shot", ceiling=ceiling)
    with pytest.raises(ValueError, match="needs --baseline zero-shot"):
        readme_table.table(results, ceiling=ceiling)


@pytest.mark.parametrize("page", ["README.md", "docs/results.md"])
def test_readme_tables_match_the_committed_results(page: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every table a page says `readme_table.py` prints is what it prints from the committed run."""
    root = Path(__file__).parents[1]
    text = (root / page).read_text(encoding="utf-8")
    commands = set(re.findall(r"`python scripts/readme_table\.py ([^`]+)`", text))
    assert commands, f"{page} names no readme_table.py command"
    monkeypatch.chdir(root)
    for command in sorted(commands):
        assert readme_table.render(shlex.split(command)).strip() in text, (
            f"{page}: the table of `{command}` is stale; paste that command's output"
        )
