"""`synthneg queries` and `synthneg negatives llm` end to end through the CLI, against a stand-in server."""

from __future__ import annotations

import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from typer.testing import CliRunner

from synthneg.cli import app
from synthneg.data.triples import read_query_records, read_triples
from synthneg.errors import SynthnegError

NEGATIVE = (
    "Phonon transport in hexagonal boron nitride sheets is examined with first-principles calculations. We find "
    "that isotope disorder dominates the reduction of heat flow, and that strain engineering can partially restore "
    "it in wide sheets at room temperature and above, with implications for thermal management in devices."
)


class _Fake(BaseHTTPRequestHandler):
    posts = 0  # chat requests served, across instances (one per connection)

    def log_message(self, *args: object) -> None:
        return

    def do_POST(self) -> None:
        type(self).posts += 1
        req = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        user = req["messages"][-1]["content"]
        text = NEGATIVE if "hard negative" in user else "Query: how is heat carried in graphene ribbons?"
        body = json.dumps(
            {
                "choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 40, "completion_tokens": 20},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Fake)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_port}/v1"
    srv.shutdown()


def test_cli_queries_then_negatives(server, tmp_path):
    passages = tmp_path / "p.csv"
    passages.write_text(
        "id,title,text\na,Graphene,Graphene ribbons conduct heat well at the edges.\n"
        "b,Phonons,Phonon scattering limits heat flow in thin films.\n",
        encoding="utf-8",
    )
    out = tmp_path / "run"
    common = ["--backend", "openai", "--model", "fake", "--base-url", server, "--no-progress"]
    runner = CliRunner()
    r = runner.invoke(
        app,
        ["queries", str(passages), "--out", str(out), "--k", "2", "--style", "keyword", "--style", "question", *common],
    )
    assert r.exit_code == 0, r.output
    records = read_query_records(out / "queries.jsonl")
    assert [q.query_id for q in records] == ["a-q0", "a-q1", "b-q0", "b-q1"]
    assert records[0].query == "how is heat carried in graphene ribbons?"  # label stripped
    rows = [json.loads(x) for x in (out / "queries.jsonl").read_text().splitlines()]
    assert [x["style"] for x in rows] == ["keyword", "question"] * 2

    for mode, method in (("query", "llm-query"), ("query+positive", "llm-query-positive")):
        r = runner.invoke(
            app,
            ["negatives", "llm", "--queries", str(out / "queries.jsonl"), "--out", str(out), "--mode", mode, *common],
        )
        assert r.exit_code == 0, r.output
        triples = read_triples(out / f"negatives-{method}.jsonl")
        assert len(triples) == 4 and {t.method for t in triples} == {method}
        assert triples[0].negative == NEGATIVE and triples[0].provenance["generator"]["backend"] == "openai"
        cost = json.loads((out / f"negatives-{method}.cost.json").read_text())
        assert cost["calls"] == 4 and cost["accepted"] == 4

    cost_before, posts_before = (out / "negatives-llm-query.cost.json").read_bytes(), _Fake.posts
    r = runner.invoke(
        app,
        ["negatives", "llm", "--queries", str(out / "queries.jsonl"), "--out", str(out), "--mode", "query", *common],
    )
    assert r.exit_code == 0
    assert _Fake.posts == posts_before  # every call came from the store
    assert (out / "negatives-llm-query.cost.json").read_bytes() == cost_before
    kept = json.loads((out / "negatives-llm-query.cost.json").read_text())  # every call reused: nothing paid
    assert (kept["calls"], kept["cached_calls"]) == (4, 0)  # so the cost file of the run that paid stays


def test_relative_margin_without_a_judge_is_refused_before_any_call(server, tmp_path):
    """The encoder's ceiling and the drift floor verify beside the judge: alone it is a usage error, and no request reaches the LLM."""
    queries = tmp_path / "q.jsonl"
    queries.write_text(json.dumps({"query_id": "q1", "query": "heat in graphene", "positive_id": "d1",
                                   "positive": "Graphene conducts heat well."}) + "\n")  # fmt: skip
    before = _Fake.posts
    args = ["negatives", "llm", "--queries", str(queries), "--out", str(tmp_path / "neg"), "--strategy", "near-miss"]
    for option in ("--relative-margin", "--drift-floor", "--drift-ceiling"):
        r = CliRunner().invoke(app, [*args, option, "0.05", "--backend", "openai", "--base-url", server])
        assert isinstance(r.exception, SynthnegError) and "give --judge too" in str(r.exception)  # the CLI: exit 2
        assert option in str(r.exception)
    assert _Fake.posts == before and not (tmp_path / "neg").exists()


class _Gated(_Fake):
    """Answers the first ``open_for`` chat requests at once and holds the rest until ``gate`` is set."""

    open_for = 2
    arrived = 0
    gate = threading.Event()

    def do_POST(self) -> None:
        type(self).arrived += 1
        if type(self).arrived > self.open_for:
            self.gate.wait(30)
        with contextlib.suppress(BrokenPipeError):  # the held request of the interrupted client
            super().do_POST()


def test_ctrl_c_keeps_the_finished_calls_says_so_and_the_rerun_pays_only_the_rest(tmp_path):
    """SIGINT in the middle of a generation run: exit code 130 at once, one line (console and the run's log) saying
    what is kept, no traceback, every finished call in the store; the rerun pays only for the calls not finished."""
    import signal
    import subprocess
    import sys
    import time

    from synthneg.generate.store import CallStore

    from llm_support import subprocess_env

    _Gated.posts, _Gated.arrived, _Gated.gate = 0, 0, threading.Event()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Gated)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    passages = tmp_path / "p.csv"
    passages.write_text("id,title,text\n" + "".join(f"p{i},Heat {i},Heat flows in sheet {i} at the edges.\n"
                                                     for i in range(4)), encoding="utf-8")  # fmt: skip
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "synthneg", "queries", str(passages), "--out", str(out), "--no-progress",
           "--backend", "openai", "--model", "fake", "--base-url", f"http://127.0.0.1:{srv.server_port}/v1",
           "--concurrency", "1"]  # fmt: skip
    env = subprocess_env(tmp_path / "cache")
    store = out / "queries.calls.jsonl"
    try:
        # as from a terminal: an xdist worker ignores SIGINT, and its child would inherit that (Python keeps it)
        interruptible = "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
        interruptible += "runpy.run_module('synthneg', run_name='__main__')"
        argv = [sys.executable, "-c", interruptible, *cmd[3:]]
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None and _Gated.arrived < 3:
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()[1][-800:]
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends (a script's background job ignores it: use SIGTERM)
        _, err = proc.communicate(timeout=15)
        assert proc.returncode == 130, err[-800:]
        assert "interrupted: every finished LLM call and stage is kept" in err and "Traceback" not in err
        assert "interrupted:" in (out / "synthneg.log").read_text(encoding="utf-8")
        kept = CallStore(store)
        assert len(kept) == 2  # the two answered calls, none torn
        kept.close()

        _Gated.gate.set()
        arrived = _Gated.arrived
        rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=False)
        assert rerun.returncode == 0, rerun.stderr[-800:]
        assert _Gated.arrived - arrived == 2  # only the two unfinished passages are asked again
        assert len(read_query_records(out / "queries.jsonl")) == 4
    finally:
        _Gated.gate.set()
        srv.shutdown()
