"""What a user sees: at the default level no inner library's bar or dict dump reaches the console;
the terminal results table reads at 80 columns; the full log lands in the run folder."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from synthneg.data.triples import Triple, write_triples
from synthneg.experiment.terminal import results_table
from synthneg.generate.engine import Attempt, Task, TaskOutcome
from synthneg.generate.ledger import CostLedger
from synthneg.generate.outputs import stage_summary
from synthneg.llm import GenerationResult
from synthneg.llm.parse import Verdict

from conftest import make_beir, tiny_sentence_transformer

FOREIGN = (
    "Batches:",
    "Loading weights",
    "Computing widget examples",
    "Writing model shards",
    "{'train_runtime'",
    "{'loss'",
    "'train_loss'",
    "pin_memory",
    "Split strings",
    "BM25S",
    "it/s]",
    "[transformers]",
    "Running training",
)
QUIETING = (
    "TQDM_DISABLE",
    "HF_HUB_DISABLE_PROGRESS_BARS",
    "TRANSFORMERS_VERBOSITY",
    "HF_DATASETS_DISABLE_PROGRESS_BARS",
    "DATASETS_VERBOSITY",
)
WORDS = ["plants", "sunlight", "gravity", "black", "hole", "bread", "yeast", "river", "fish", "music", "guitar"]


@pytest.fixture(scope="module")
def tiny_st(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_sentence_transformer(tmp_path_factory.mktemp("console-st"), WORDS)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    for var in (*QUIETING, "COLUMNS"):  # set by an earlier in-process CLI call of this worker (the quieting) or
        # by the shell (COLUMNS): the child finds its own, as under nohup
        env.pop(var, None)
    return subprocess.run(
        [sys.executable, "-m", "synthneg", *args], capture_output=True, text=True, env=env, timeout=600, check=False
    )


def test_train_and_evaluate_show_no_foreign_bars_at_the_default_level(tiny_st: Path, tmp_path: Path) -> None:
    pairs = [
        ("plants sunlight", "plants sunlight leaves"),
        ("black hole", "gravity black hole"),
        ("bread", "bread yeast"),
    ]
    rows = [
        Triple(f"q{i}-{r}", q, f"d{i}", p, pairs[(i + 1) % 3][1], "test")
        for r in range(4)
        for i, (q, p) in enumerate(pairs)
    ]
    data = write_triples(rows, tmp_path / "triples.jsonl")
    out = tmp_path / "model"
    train = _cli("train", "--triples", str(data), "--out", str(out), "--model", str(tiny_st), "--batch-size", "4")
    assert train.returncode == 0, train.stderr[-2000:]
    console = train.stdout + train.stderr
    assert not [f for f in FOREIGN if f in console], console
    assert "saved" in console and "steps" in console  # synthneg's own line

    beir = make_beir(tmp_path / "tiny")
    ev = _cli("evaluate", "--model", str(out), "--dataset", str(beir))
    assert ev.returncode == 0, ev.stderr[-2000:]
    console = ev.stdout + ev.stderr
    assert not [f for f in FOREIGN if f in console], console
    # a pipe, not a terminal: each log record is one plain line (time, level, message; not wrapped or padded to
    # 80 columns), and the results table keeps its headers whole
    logged = [line for line in train.stderr.splitlines() if " INFO " in line]
    assert len(logged) >= 2 and all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO    \S.*\S", x) for x in logged)
    assert any(x.startswith("saved ") and x.endswith(f"train loss {x.split()[-1]}") for x in train.stderr.splitlines())
    assert all(h in ev.stdout for h in ("dataset", "nDCG@10", "MAP@100", "time (s)")), ev.stdout
    ev_bm25 = _cli("evaluate", "--model", "bm25", "--dataset", str(beir))
    assert ev_bm25.returncode == 0 and not [f for f in FOREIGN if f in ev_bm25.stdout + ev_bm25.stderr]

    verbose = _cli("-v", "evaluate", "--model", "bm25", "--dataset", str(beir))  # no torch: a fast child
    assert verbose.returncode == 0 and "BM25S" in verbose.stdout + verbose.stderr  # -v: the libraries' bars too


@pytest.mark.slow
def test_train_at_verbose_shows_the_trainers_own_logs(tiny_st: Path, tmp_path: Path) -> None:
    """-v keeps the trainer's printer callback and bar (the default run above checks they are gone)."""
    data = write_triples(
        [Triple(f"q{i}", "bread", f"d{i}", "bread yeast", "black hole", "test") for i in range(4)], tmp_path / "t.jsonl"
    )
    verbose = _cli("-v", "train", "--triples", str(data), "--out", str(tmp_path / "m2"), "--model", str(tiny_st))
    assert verbose.returncode == 0 and "train_runtime" in verbose.stdout + verbose.stderr


def _summary() -> dict:
    def entry(v: float) -> dict:
        return {"seeds": 3, "nDCG@10": {"mean": v, "sd": 0.001}}

    arms = {
        a: {"scifact": entry(0.65), "nfcorpus": entry(0.32)}
        for a in ("zero-shot", "bm25", "llm-query-positive", "bm25-matched", "labeled")
    }
    test = {"diff": -0.0106, "p_value": 0.021, "p_holm": 0.104, "ci_low": -0.02, "ci_high": -0.001, "n": 300}
    sig = {a: {ds: {"bm25": test} for ds in ("scifact", "nfcorpus")} for a in arms if a != "bm25"}
    return {"metric": "nDCG@10", "arms": arms, "significance": sig}


def test_results_table_reads_at_80_columns() -> None:
    console = Console(width=80, record=True)
    console.print(results_table(_summary()))
    lines = console.export_text().splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80
    rows = [line for line in lines if line.strip().startswith(("zero-shot", "BM25", "LLM", "labeled"))]
    assert len(rows) == 5  # one line per arm: no cell wrapped onto a second line
    assert all("-0.0106" in r and ".104" in r for r in rows if not r.strip().startswith("BM25 neg. "))


def test_stage_summary_counts_rejections_in_one_line() -> None:
    def attempt(ok: bool, reason: str | None) -> Attempt:
        return Attempt(0, 1, "k", False, GenerationResult("x", "stop"), Verdict(ok, "x", reason))

    t = Task("a", (), lambda r: Verdict(True, ""))
    outcomes = [
        TaskOutcome(t, [attempt(False, "near_duplicate_positive"), attempt(False, "near_duplicate_positive")]),
        TaskOutcome(t, [attempt(False, "too_short"), attempt(True, None)]),
    ]
    ledger = CostLedger(stage="negatives-llm-query", calls=4)
    line = stage_summary("negatives-llm-query", outcomes, ledger, 1)
    assert line.startswith(
        "negatives-llm-query: 1 of 2 kept; rejected attempts: near-copy of the positive 2, too short 1"
    )
    assert "\n" not in line


def test_log_to_folder_keeps_debug_lines_whatever_the_console_shows(tmp_path: Path) -> None:
    from synthneg.console import log_to_folder

    log = logging.getLogger("synthneg.test")
    with log_to_folder(tmp_path) as path:
        log.debug("a debug line")
        log.info("an info line")
    log.info("after: not in the file")
    text = path.read_text()
    assert "a debug line" in text and "an info line" in text and "after" not in text


def test_configure_quiets_the_hf_libraries_without_importing_them() -> None:
    """A command that never touches transformers or datasets does not pay their import (a second) to quiet them;
    one imported already is switched to errors and no bars; one imported later reads the environment."""
    code = (
        "import logging, sys\n"
        "pre = sys.argv[1] == 'pre'\n"
        "if pre:\n"
        "    from transformers.utils import logging as hf\n"
        "    hf.set_verbosity_info()\n"
        "from synthneg.console import configure\n"
        "configure(logging.INFO, verbose=False)\n"
        "imported = ['transformers' in sys.modules, 'datasets' in sys.modules]\n"
        "from transformers.utils import logging as hf\n"
        "import datasets\n"
        "print(imported, hf.get_verbosity(), hf.is_progress_bar_enabled(), datasets.is_progress_bar_enabled(),\n"
        "      datasets.logging.get_verbosity())\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in QUIETING}
    for case in ("fresh", "pre"):
        out = subprocess.run(
            [sys.executable, "-c", code, case], capture_output=True, text=True, env=env, timeout=300, check=False
        )
        assert out.returncode == 0, out.stderr[-2000:]
        imported = "[True, False]" if case == "pre" else "[False, False]"
        assert out.stdout.split("]")[0] + "]" == imported
        assert out.stdout.split("]")[1].split() == [str(logging.ERROR), "False", "False", str(logging.ERROR)], (
            out.stdout
        )


def test_a_long_step_logs_its_progress_where_no_bar_is_drawn(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """nohup, CI, a pipe: no bar is drawn, so a line per heartbeat gives the count, rate and ETA (generation: tok/s
    too); on a terminal the bar alone, and nothing when progress is off."""
    import io

    from synthneg import console as con
    from synthneg.generate.ledger import make_progress

    monkeypatch.setenv("SYNTHNEG_HEARTBEAT_S", "0")

    def lines(terminal: bool, show: bool = True) -> list[str]:
        caplog.clear()
        out = Console(file=io.StringIO(), force_terminal=terminal)
        monkeypatch.setattr(con, "stderr_console", lambda: out)
        with (
            caplog.at_level(logging.INFO, logger="synthneg.console"),
            con.progress_bar("encoding", 4, show=show, unit="texts") as bar,
        ):
            for _ in range(4):
                bar.advance(1)
        return [r.getMessage() for r in caplog.records if r.name == "synthneg.console"]

    logged = lines(terminal=False)
    assert [m.split(",")[0] for m in logged] == ["encoding: 2 of 4 (50%)", "encoding: 3 of 4 (75%)"], logged
    assert all("/s" in m and "eta 0:00:00" in m for m in logged)  # the first item is the baseline, not a line
    assert lines(terminal=True) == [] and lines(terminal=False, show=False) == []

    ledger = CostLedger("queries")
    caplog.clear()
    pipe = Console(file=io.StringIO(), force_terminal=False)
    monkeypatch.setattr(con, "stderr_console", lambda: pipe)
    with caplog.at_level(logging.INFO, logger="synthneg.console"), make_progress(ledger, show=True) as prog:
        task = prog.add_task("queries", total=3)
        prog.advance(task)
        prog.update(task, total=5)  # a retry round adds to the total
        prog.advance(task)
    logged = [r.getMessage() for r in caplog.records if r.name == "synthneg.console"]
    assert logged and logged[-1].startswith("queries: 2 of 5 (40%)") and "tok/s" in logged[-1], logged
    assert "━" not in pipe.file.getvalue()  # no bar's last frame in a log: the lines above say it

    # a resumed run: 90 stored calls at once, then one paid call a minute; the rate and ETA are the paid calls'
    clock = [0.0]
    monkeypatch.setattr(con.time, "monotonic", lambda: clock[0])
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="synthneg.console"), make_progress(ledger, show=True) as prog:
        task = prog.add_task("queries", total=100)
        for _ in range(90):
            prog.advance(task, stored=True)
        for _ in range(2):
            clock[0] += 60
            prog.advance(task)
    logged = [r.getMessage() for r in caplog.records if r.name == "synthneg.console"]
    assert logged[-1].startswith("queries: 92 of 100 (92%), 1.0/min,") and logged[-1].endswith("eta 0:08:00"), logged
