"""The content-addressed call store and the retrying engine (fast: a scripted generator, no model)."""

from __future__ import annotations

import json

import pytest

from synthneg.errors import DataError
from synthneg.generate import CallStore, CostLedger, Task, call_key, run_tasks
from synthneg.llm.base import Generator
from synthneg.llm.parse import Verdict
from synthneg.llm.types import ChatMessage, ChatRequest, GenerationResult, SamplingParams


def _res(text: str) -> GenerationResult:
    return GenerationResult(text=text, finish_reason="stop", prompt_tokens=10, completion_tokens=3, raw={"x": 1})


def test_key_depends_on_every_input():
    req = ChatRequest((ChatMessage("user", "hi"),), SamplingParams(seed=1))
    base = call_key("m", "t", req)
    assert base == call_key("m", "t", req)
    assert base != call_key("m2", "t", req)
    assert base != call_key("m", "t2", req)
    assert base != call_key("m", "t", ChatRequest((ChatMessage("user", "hi!"),), SamplingParams(seed=1)))
    assert base != call_key("m", "t", ChatRequest(req.messages, SamplingParams(seed=2)))
    assert base != call_key("m", "t", ChatRequest(req.messages, SamplingParams(seed=1, temperature=0.7)))


def test_store_roundtrip_and_torn_tail(tmp_path):
    path = tmp_path / "calls.jsonl"
    with CallStore(path) as s:
        s.put("a", _res("one"))
        s.put("b", _res("two"))
    good_size = path.stat().st_size
    # a torn write: half a record without its newline
    line = path.read_bytes().splitlines()[0]
    with path.open("ab") as fh:
        fh.write(line[: len(line) // 2])
    with CallStore(path) as s:
        assert s.torn_records == 1 and len(s) == 2 and s.get("a").text == "one"
        assert path.stat().st_size == good_size  # the torn bytes were cut away
        s.put("c", _res("three"))
    with CallStore(path) as s:
        assert [s.get(k).text for k in "abc"] == ["one", "two", "three"]


def test_store_detects_bitflip_in_last_record_and_refuses_middle_corruption(tmp_path):
    path = tmp_path / "calls.jsonl"
    with CallStore(path) as s:
        s.put("a", _res("one"))
        s.put("b", _res("two"))
    lines = path.read_text().splitlines()
    rec = json.loads(lines[1])
    rec["result"]["text"] = "tw0"  # valid JSON, wrong checksum
    path.write_text(lines[0] + "\n" + json.dumps(rec) + "\n")
    with CallStore(path) as s:
        assert len(s) == 1 and s.torn_records == 1
    path.write_text("garbage\n" + lines[0] + "\n")
    with pytest.raises(DataError, match="line 1"):
        CallStore(path)


class Scripted(Generator):
    """Answers from a script keyed by (user text, seed); counts calls."""

    model_id = "scripted"

    def __init__(self, answer):
        self.answer = answer
        self.calls = 0

    def generate(self, requests, on_result=None):
        out = []
        for i, r in enumerate(requests):
            self.calls += 1
            res = self.answer(r)
            out.append(res)
            if on_result:
                on_result(i, res)
        return out


def _tasks(n):
    def check(res):
        return Verdict(True, res.text) if res.text.startswith("good") else Verdict(False, res.text, "bad", "scripted")

    return [Task(f"t{i}", (ChatMessage("user", f"task {i}"),), check) for i in range(n)]


def test_engine_retries_with_new_seeds_reuses_store_and_forces(tmp_path):
    seen_seeds = {}

    def answer(req):
        task = req.messages[0].content
        seen_seeds.setdefault(task, []).append(req.sampling.seed)
        # task 0 passes on its second attempt, task 1 never passes, task 2 fails at the transport level once
        n = len(seen_seeds[task])
        if task == "task 0":
            return _res("good zero" if n >= 2 else "nope")
        if task == "task 1":
            return _res("nope")
        if task == "task 2" and n == 1:
            return GenerationResult.failure("http_500", "boom", retries=3)
        return _res(f"good {task}")

    gen = Scripted(answer)
    store_path = tmp_path / "calls.jsonl"
    with CallStore(store_path) as store:
        ledger = CostLedger("t")
        outs = run_tasks(
            _tasks(4),
            gen,
            store,
            template_sha256="x",
            sampling=SamplingParams(),
            ledger=ledger,
            max_attempts=3,
            show_progress=False,
        )
    assert [o.accepted is not None for o in outs] == [True, False, True, True]
    assert len(set(seen_seeds["task 1"])) == 3  # a new seed per attempt
    assert ledger.failures == {"bad": 4, "call_failed:http_500": 1}
    assert ledger.gave_up == 1 and ledger.calls == 7 and ledger.failed_calls == 1 and ledger.transport_retries == 3
    rejected = outs[1].attempts
    assert [a.verdict.reason for a in rejected] == ["bad"] * 3 and rejected[0].result.text == "nope"

    # rerun: every finished call is reused; only the call that failed at the transport level is redone
    calls_before = gen.calls
    with CallStore(store_path) as store:
        ledger2 = CostLedger("t")
        outs2 = run_tasks(
            _tasks(4),
            gen,
            store,
            template_sha256="x",
            sampling=SamplingParams(),
            ledger=ledger2,
            max_attempts=3,
            show_progress=False,
        )
    assert gen.calls == calls_before + 1
    assert ledger2.calls == 1 and ledger2.cached_calls == 6
    assert [o.accepted.verdict.text if o.accepted else None for o in outs2] == [
        o.accepted.verdict.text if o.accepted else None for o in outs
    ]

    # force: every call paid again, exactly once each
    with CallStore(store_path) as store:
        ledger3 = CostLedger("t")
        run_tasks(
            _tasks(4),
            gen,
            store,
            template_sha256="x",
            sampling=SamplingParams(),
            ledger=ledger3,
            max_attempts=3,
            show_progress=False,
            force=True,
        )
    assert ledger3.cached_calls == 0 and ledger3.calls == 6  # task 2 now passes at once


def test_query_stage_rejects_a_copied_title_and_retries(tmp_path):
    """The query stage hands each passage's title to the validator: an echoed title is recorded and retried."""
    from synthneg.data.beir import Document
    from synthneg.generate import generate_queries

    title = "Phase diagram of Gaussian-core nematics"
    doc = Document("p1", title, "We map the phase diagram of a model of soft, elongated particles by simulation.")
    attempts: list[int] = []

    def answer(req):
        attempts.append(req.sampling.seed)
        return _res(title if len(attempts) == 1 else "Which phases do soft elongated particles form?")

    res = generate_queries([doc], Scripted(answer), tmp_path, max_attempts=3, show_progress=False)
    rows = [json.loads(x) for x in res.output.read_text().splitlines()]
    rejects = [json.loads(x) for x in res.rejects.read_text().splitlines()]
    assert [r["query"] for r in rows] == ["Which phases do soft elongated particles form?"]
    assert [r["reason"] for r in rejects] == ["copies_title"] and len(attempts) == 2


def test_curve_points_share_their_passages_calls(tmp_path):
    """A learning curve's points copy each other's finished calls for their own passages (by task id), once."""
    from synthneg.experiment.curve import share_calls
    from synthneg.generate.store import iter_records

    src, dst = tmp_path / "n500" / "generation", tmp_path / "n2000" / "generation"
    with CallStore(src / "queries.calls.jsonl") as s:
        for task in ("p1-q0", "p2-x-q0", "p3-q0", "p10-q0"):  # passage ids may hold a dash
            s.put(f"key-{task}", _res(f"query for {task}"), task_id=task)
    with (src / "queries.calls.jsonl").open("ab") as fh:
        fh.write(b'{"key": "torn"')  # an interrupted write: skipped, never copied
    ids = {"p1", "p2-x", "p10"}
    assert share_calls([src, tmp_path / "missing"], dst, ids) == 3
    copied = {k: (r.text, extra["task_id"]) for k, r, extra in iter_records(dst / "queries.calls.jsonl")}
    assert copied == {f"key-{t}": (f"query for {t}", t) for t in ("p1-q0", "p2-x-q0", "p10-q0")}
    assert share_calls([src], dst, ids) == 0  # already there
    with CallStore(dst / "queries.calls.jsonl") as s:  # a store the engine reads as its own
        assert s.get("key-p1-q0").text == "query for p1-q0" and "key-p3-q0" not in s
