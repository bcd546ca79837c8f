"""Diagnostics: hand-checked overlap, duplicates and false-negative rate; CLI writes markdown + PNG."""

from __future__ import annotations

import numpy as np
import pytest

from synthneg.data.triples import Triple, write_triples
from synthneg.diagnostics import coverage, inspect_triples, render_markdown, terms

ROWS = [
    Triple(
        "q1",
        "solar panels efficiency",
        "d1",
        "Solar panels convert light.",
        "Wind turbines efficiency data.",
        "bm25",
        "d2",
    ),
    Triple(
        "q1",
        "solar panels efficiency",
        "d1",
        "Solar panels convert light.",
        "Wind turbines efficiency data.",
        "bm25",
        "d2",
    ),
    Triple("q2", "bread yeast", "d3", "Yeast makes bread rise.", "Yeast makes bread rise.", "llm", None),
]


class FakeReranker:
    identity = "fake"

    def score(self, pairs, *, show_progress=None):
        # relevant iff the passage mentions "yeast" or "solar"
        return np.array([1.0 if "yeast" in p.lower() or "solar" in p.lower() else 0.0 for _, p in pairs], np.float32)


def test_terms_and_coverage():
    assert terms("The panels are EFFICIENT") == {"panel", "effici"}
    assert coverage(terms("solar panels efficiency"), terms("efficiency of wind")) == pytest.approx(1 / 3)


def test_inspect_counts_overlap_duplicates_and_fn_rate():
    reports = {r.method: r for r in inspect_triples(ROWS, reranker=FakeReranker(), fn_sample=10)}
    bm25, llm = reports["bm25"], reports["llm"]
    assert (bm25.count, bm25.queries, bm25.duplicate_rows) == (2, 1, 1)
    assert bm25.query_terms_in_negative == pytest.approx(1 / 3)
    assert bm25.query_terms_in_positive == pytest.approx(2 / 3)
    assert bm25.fn_rate == 0.0 and bm25.fn_judged == 2
    assert llm.negative_equals_positive == 1 and llm.fn_rate == 1.0
    assert bm25.sim_query_negative is None  # no encoder given
    md = render_markdown(list(reports.values()))
    assert "| bm25 | 2 | 1 |" in md and "100.0% (n=1)" in md


def test_cli_inspect_writes_report_and_png(tmp_path):
    from typer.testing import CliRunner

    from synthneg.cli import app

    src = write_triples(ROWS, tmp_path / "t.jsonl")
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["inspect", str(src), "--out", str(out), "--model", "none", "--reranker", "none"])
    assert result.exit_code == 0, result.output
    assert (out / "report.md").read_text().startswith("# Negatives report")
    assert (out / "histograms.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_inspect_reads_the_triples_of_a_mixed_training_file(tmp_path):
    """A mixed file (an arm's triples and its other queries as pairs, negative null): only triples are inspected."""
    from typer.testing import CliRunner

    from synthneg.cli import app
    from synthneg.data.triples import QueryRecord, write_training_rows

    src = write_training_rows(
        [ROWS[0], QueryRecord("q3", "tidal power", "d5", "Tides turn turbines."), ROWS[2]], tmp_path / "m.jsonl"
    )
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["inspect", str(src), "--out", str(out), "--model", "none", "--reranker", "none"])
    assert result.exit_code == 0, result.output
    report = (out / "report.md").read_text()
    assert "| bm25 | 1 |" in report and "| llm | 1 |" in report and "tidal" not in report


def test_cli_inspect_first_queries_keeps_the_same_queries_in_every_file(tmp_path):
    from typer.testing import CliRunner

    from synthneg.cli import app

    a = write_triples(ROWS, tmp_path / "a.jsonl")  # q1, q1, q2
    other = [Triple("q2", "bread yeast", "d3", "Yeast makes bread rise.", "Flatbread.", "random", "d9")]
    other.append(Triple("q2", "bread yeast", "d3", "Yeast makes bread rise.", "Rye.", "random", "d7"))
    other.append(Triple("q1", "solar panels efficiency", "d1", "Solar panels convert light.", "Tides.", "random", "d8"))
    b = write_triples(other, tmp_path / "b.jsonl")
    out = tmp_path / "report"
    args = ["inspect", str(a), str(b), "--out", str(out), "--model", "none", "--reranker", "none"]
    result = CliRunner().invoke(app, [*args, "--first-queries", "1"])
    assert result.exit_code == 0, result.output
    report = (out / "report.md").read_text()
    # q1 only (the first query of the first file): two bm25 rows and q1's one random row; q2's rows are gone
    assert "| bm25 | 2 |" in report and "| random | 1 |" in report and "| llm |" not in report
    assert "Flatbread" not in report and "Rye" not in report


def test_in_batch_judged_counts_what_other_rows_bring_into_a_batch() -> None:
    """Hand-checked: qa's judged d3 and d7 arrive with rows r1 and r3; r2 shares qa's positive text, so
    the NO_DUPLICATES sampler never batches them together; a grade-0 judgment is not relevant."""
    from synthneg.diagnostics import in_batch_judged
    from synthneg.errors import SynthnegError

    rows = [
        Triple("qa", "query a", "d1", "P1", "N2", "labeled", "d2"),
        Triple("qb", "query b", "d3", "P3", "N4", "labeled", "d4"),
        Triple("qc", "query c", "d1", "P1", "N5", "labeled", "d5"),
        Triple("qd", "query d", "d6", "P6", "N7", "labeled", "d7"),
    ]
    qrels = {"qa": {"d1": 1, "d3": 1, "d7": 2, "d5": 0}, "qc": {"d1": 1}, "qd": {"d9": 1}}
    whole = in_batch_judged(rows, qrels, batch_size=4)  # one batch holds every row
    assert (whole.per_query, whole.queries_exposed, whole.rows) == (pytest.approx(0.5), 0.25, 4)
    pairs = in_batch_judged(rows, qrels, batch_size=2)  # another row shares the batch with chance 1/3
    assert pairs.per_query == pytest.approx(2 / 3 / 4)
    assert in_batch_judged(rows, {}, batch_size=4).per_query == 0.0
    with pytest.raises(SynthnegError, match="batch_size must be at least 2"):
        in_batch_judged(rows, qrels, batch_size=1)
