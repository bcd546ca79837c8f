"""Every command that reads a user file, on every kind of malformed file: exit code 2, one error line, no traceback,
the file named, and the line where there is one.

The sweep runs in one subprocess (tests/cli_sweep.py); each case is a real ``synthneg`` command line.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import make_beir

HERE = Path(__file__).parent


@dataclass
class Bad:
    name: str
    data: bytes | None  # None: the path does not exist; b"<dir>": a directory
    line: int | None  # the line the error must name, if any
    suffix: str = ""


def _jsonl(*rows: object) -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode("utf-8")


def _jsonl_cases(good: dict[str, object], required: str, text_field: str) -> list[Bad]:
    """The malformations of a JSON-lines file whose rows look like ``good``."""
    missing = {k: v for k, v in good.items() if k != required}
    return [
        Bad("not-utf8", _jsonl(good) + b'{"x": "\xff\xfe"}\n', 2),
        Bad("invalid-json", _jsonl(good, '{"unclosed": '), 2),
        Bad("not-an-object", _jsonl(good, "[1, 2]"), 2),
        Bad("missing-field", _jsonl(good, missing), 2),
        Bad("number-as-text", _jsonl(good, {**good, text_field: 42}), 2),
        Bad("empty-file", b"", None),
        Bad("truncated-gzip", gzip.compress(_jsonl(good) * 50)[:40], None, ".gz"),
        Bad("no-such-file", None, None),
        Bad("a-directory", b"<dir>", None),
    ]


PASSAGE = {"id": "p1", "title": "Photosynthesis", "text": "Plants convert sunlight into glucose."}
RECORD = {"query_id": "q1", "query": "how do plants make glucose", "positive_id": "d1", "positive": PASSAGE["text"]}
TRIPLE = {**RECORD, "negative": "A black hole traps light.", "negative_id": "d3", "method": "bm25"}

PASSAGE_CSV = [
    Bad("csv-unterminated-quote", b'id,text\np1,"fine"\np2,"never closed\np3,more\n', 3),
    Bad("csv-field-count", b"id,text\np1,fine\np2,one,two\n", 3),
    Bad("csv-not-utf8", b"id,text\np1,fine\np2,caf\xe9\n", 3),
    Bad("csv-header-only", b"id,text\n", None),
    Bad("csv-no-text-column", b"id,body2\np1,x\n", None),
]
CONFIG = [
    Bad("yaml-syntax", b"name: x\npassages: {beir: scifact\nseeds: [0]\n", 3),
    Bad("yaml-unknown-field", b"name: x\npassages: {beir: scifact, sample: 50}\nbogus: 1\n", 3),
    Bad("yaml-wrong-type", b"name: x\npassages: {beir: scifact, sample: many}\n", 2),
    Bad("yaml-not-mapping", b"- a\n- b\n", 1),
    Bad("yaml-not-utf8", b"name: x\ndescription: caf\xe9\n", 2),
    Bad("no-such-file", None, None),
]
QRELS = [
    Bad("qrels-score-not-int", b"query-id\tcorpus-id\tscore\nq1\td1\tyes\n", 2),
    Bad("qrels-columns", b"query-id\tcorpus-id\tscore\nq1\td1\n", 2),
    Bad("qrels-header-only", b"query-id\tcorpus-id\tscore\n", None),
    Bad("qrels-unknown-ids", b"query-id\tcorpus-id\tscore\nzz\td1\t1\n", None),
]
RUNS = [
    Bad("run-columns", b"q1 Q0 d1 1 0.5 tag\nq1 Q0 d2 2\n", 2),
    Bad("run-score", b"q1 Q0 d1 1 high tag\n", 1),
    Bad("empty-file", b"", None),
]
EXAMPLES = [
    Bad("examples-too-many", _jsonl(*({"query": f"example {i}"} for i in range(9))), None),
    Bad("examples-number", _jsonl({"query": "fine"}, {"query": 7}), 2),
]


def _write(root: Path, stem: str, bad: Bad, ext: str) -> Path:
    path = root / f"{stem}-{bad.name}{ext}{bad.suffix}"
    if bad.data == b"<dir>":
        path.mkdir()
    elif bad.data is not None:
        path.write_bytes(bad.data)
    return path


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    root = tmp_path_factory.mktemp("sweep")
    beir = make_beir(root / "tiny")
    good_passages = root / "passages.jsonl"
    good_passages.write_bytes(_jsonl(PASSAGE, {**PASSAGE, "id": "p2"}))
    good_records = root / "records.jsonl"
    good_records.write_bytes(_jsonl(RECORD))
    out = root / "out"
    cases: list[dict] = []

    def add(name: str, argv: list[str], path: Path, bad: Bad) -> None:
        cases.append({"name": name, "argv": argv, "path": str(path), "line": bad.line})

    for bad in _jsonl_cases(PASSAGE, "text", "text"):
        p = _write(root, "passages", bad, ".jsonl")
        add(f"queries passages {bad.name}", ["queries", str(p), "--out", str(out / "q")], p, bad)
        add(
            f"mine bm25 --corpus {bad.name}",
            ["mine", "bm25", "-q", str(good_records), "-c", str(p), "-o", str(out / "t.jsonl")],
            p,
            bad,
        )
    for bad in PASSAGE_CSV:
        p = _write(root, "passages", bad, ".csv")
        add(f"queries passages {bad.name}", ["queries", str(p), "--out", str(out / "q")], p, bad)
    for bad in _jsonl_cases(RECORD, "query", "query"):
        p = _write(root, "records", bad, ".jsonl")
        add(
            f"negatives llm --queries {bad.name}",
            ["negatives", "llm", "--queries", str(p), "--out", str(out / "n")],
            p,
            bad,
        )
        argv = ["filter-queries", "-q", str(p), "-c", str(good_passages), "-o", str(out / "f.jsonl")]
        add(f"filter-queries --queries {bad.name}", argv, p, bad)
        for miner in ("bm25", "dense", "ce"):
            argv = ["mine", miner, "-q", str(p), "-c", str(good_passages), "-o", str(out / "t.jsonl")]
            add(f"mine {miner} --queries {bad.name}", argv, p, bad)
    for bad in _jsonl_cases(TRIPLE, "negative", "negative"):
        p = _write(root, "triples", bad, ".jsonl")
        add(f"train --triples {bad.name}", ["train", "-t", str(p), "-o", str(out / "m")], p, bad)
        add(f"export {bad.name}", ["export", str(p), "--out", str(out / "e")], p, bad)
        argv = ["inspect", str(p), "--model", "none", "--reranker", "none", "-o", str(out / "i")]
        add(f"inspect {bad.name}", argv, p, bad)
    for bad in EXAMPLES + _jsonl_cases({"query": "an example"}, "query", "query")[:6]:
        p = _write(root, "examples", bad, ".jsonl")
        argv = ["queries", str(good_passages), "--examples", str(p), "--out", str(out / "q")]
        add(f"queries --examples {bad.name}", argv, p, bad)
    for bad in CONFIG:
        p = _write(root, "config", bad, ".yaml")
        add(f"experiment {bad.name}", ["experiment", str(p)], p, bad)
        add(f"experiment --status {bad.name}", ["experiment", str(p), "--status"], p, bad)
    for bad in RUNS:
        p = _write(root, "run", bad, ".trec")
        add(f"evaluate --run {bad.name}", ["evaluate", "--run", str(p), "--dataset", str(beir)], p, bad)
    beir_cases = [("corpus.jsonl", b, "corpus") for b in _jsonl_cases({"_id": "d1", "text": "x"}, "_id", "text")[:6]]
    beir_cases += [
        ("queries.jsonl", b, "queries") for b in _jsonl_cases({"_id": "q1", "text": "x"}, "text", "text")[:6]
    ]
    beir_cases += [("qrels/test.tsv", b, "qrels") for b in QRELS]
    for target, bad, what in beir_cases:
        folder = make_beir(root / f"beir-{what}-{bad.name}")
        (folder / target).write_bytes(bad.data or b"")
        for argv in (["evaluate", "--model", "bm25", "--dataset", str(folder)], ["data", "info", str(folder)]):
            add(f"{argv[0]} BEIR {what} {bad.name}", argv, folder / target, bad)

    spec, result = root / "cases.json", root / "results.json"
    spec.write_text(json.dumps(cases), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(HERE / "cli_sweep.py"), str(spec), str(result)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=root,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(result.read_text(encoding="utf-8"))
    return [{**c, **r} for c, r in zip(cases, results, strict=True)]


def test_every_malformed_input_is_one_located_error(sweep: list[dict]) -> None:
    failures = []
    for case in sweep:
        lines = [ln for ln in case["stderr"].splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("error:")]
        problems = []
        if case["error"]:
            problems.append("exception escaped:\n" + case["error"][-1500:])
        if case["rc"] != 2:
            problems.append(f"exit code {case['rc']}")
        if "Traceback" in case["stderr"]:
            problems.append("traceback printed")
        if len(errors) != 1:
            problems.append(f"{len(errors)} error lines")
        else:
            name = Path(case["path"]).name
            if name not in errors[0]:
                problems.append(f"error does not name {name}")
            if case["line"] is not None and f"line {case['line']}" not in errors[0]:
                problems.append(f"error does not name line {case['line']}")
        if problems:
            failures.append(f"{case['name']}: {'; '.join(problems)}\n    stderr: {case['stderr'][-600:]!r}")
    assert not failures, f"{len(failures)} of {len(sweep)} cases:\n" + "\n".join(failures)
    assert len(sweep) >= 100


def test_no_case_loaded_a_model_before_refusing_its_input(sweep: list[dict]) -> None:
    slow = [(c["name"], c["seconds"]) for c in sweep if c["seconds"] > 5]
    assert not slow, f"input is read after a model load (or another slow step): {slow}"
