"""Batched decoding with shared-prompt prefill, on the real 0.5B: the same tokens as a full prefill,
K candidates of one prompt prefilled once, and a kill -9 in the middle of a K-candidate run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from synthneg.generate.engine import Task, candidate_tasks, derive_seed, group_candidates
from synthneg.llm import ChatRequest, SamplingParams, load_template
from synthneg.llm.llamacpp import LlamaCppGenerator
from synthneg.llm.parse import Verdict

from llm_support import gguf_path, subprocess_env

QUERIES = (
    "persister cells and relapse in cancer",
    "natriuretic peptides protect against diabetes",
    "graph neural networks for molecule property prediction",
)


def _requests(temperature: float, max_tokens: int = 20) -> list[ChatRequest]:
    tpl = load_template("negative-query")
    reqs = [
        ChatRequest(tpl.render(query=q), SamplingParams(temperature=temperature, max_tokens=max_tokens, seed=11 + i))
        for i, q in enumerate(QUERIES[:1])
    ]
    # two samples of one prompt, side by side (what candidate_tasks sends)
    twin = tpl.render(query="dark matter halo density profiles")
    reqs += [ChatRequest(twin, SamplingParams(temperature=temperature, max_tokens=max_tokens, seed=s)) for s in (5, 6)]
    return reqs


def _run(share: bool, reqs: list[ChatRequest]) -> tuple[list[str], int, int]:
    gen = LlamaCppGenerator(str(gguf_path()), parallel=3, n_ctx=512, share_prefix=share)
    try:
        out = gen.generate(reqs)
        prefilled, shared = gen.prompt_tokens_batched
        return [r.text for r in out], shared, prefilled
    finally:
        gen.close()


def test_shared_prefix_gives_the_same_first_tokens_as_full_prefill_at_temperature_0():
    """The copied KV cells give the same greedy tokens as a full prefill. Whole greedy outputs are not
    compared: under batching they are not bit-stable even without sharing (two identical prompts decoded
    side by side diverge after some tokens, since llama.cpp's CPU attention sums over cells in an order
    that depends on where a sequence sits in the cache; docs/generation.md), so the test compares what
    the prefill decides: the first tokens of every request, here the first three."""
    reqs = _requests(temperature=0.0, max_tokens=3)
    shared_text, shared, prefilled = _run(True, reqs)
    full_text, none_shared, full_prefilled = _run(False, reqs)
    assert shared_text == full_text
    assert all(t.strip() for t in shared_text)
    # every later prompt took the template's system prefix, and the twin took its sibling's whole prompt
    assert none_shared == 0 and shared > 0
    assert prefilled + shared == full_prefilled
    assert shared > full_prefilled / len(reqs)
    single = LlamaCppGenerator(str(gguf_path()), parallel=1, n_ctx=512)
    try:
        # the plain llama-cpp-python path, on a query and a twin (each prompt is a full prefill on one core)
        assert [single.generate([reqs[i]])[0].text for i in (0, -1)] == [shared_text[0], shared_text[-1]]
    finally:
        single.close()


def test_k_samples_of_one_prompt_prefill_it_once_and_differ_by_seed():
    tpl = load_template("negative-query")
    msgs = tpl.render(query="protein folding with deep learning")
    reqs = [ChatRequest(msgs, SamplingParams(max_tokens=24, seed=derive_seed(0, f"q#c{c}", 0))) for c in range(4)]
    gen = LlamaCppGenerator(str(gguf_path()), parallel=4, n_ctx=512)
    try:
        out = gen.generate(reqs)
        prefilled, shared = gen.prompt_tokens_batched
        n_prompt = out[0].prompt_tokens
        # the prompt is prefilled once; the 3 other samples take all of it but their last token
        assert prefilled == n_prompt + 3
        assert shared == 3 * (n_prompt - 1)
        assert len({r.text for r in out}) >= 3  # own seeds, own samples
        assert all(r.ok and r.completion_tokens > 0 for r in out)
    finally:
        gen.close()


def test_candidate_tasks_keep_candidate_zero_and_group_back():
    def ok(_r):
        return Verdict(True, "x")

    tasks = [Task("a", (), ok), Task("b", (), ok)]
    expanded = candidate_tasks(tasks, 3)
    assert [t.task_id for t in expanded] == ["a", "a#c1", "a#c2", "b", "b#c1", "b#c2"]
    assert expanded[0] is tasks[0]
    with pytest.raises(ValueError):
        candidate_tasks(tasks, 0)

    class Outcome:
        def __init__(self, t):
            self.task = t

    groups = group_candidates([Outcome(t) for t in expanded], 3)
    assert [[o.task.task_id for o in g] for g in groups] == [["a", "a#c1", "a#c2"], ["b", "b#c1", "b#c2"]]


def _keys(store):
    return [json.loads(line)["key"] for line in store.read_text().splitlines() if line.strip()]


@pytest.mark.slow  # ~2-4 min on 2 cores
def test_kill9_during_a_batched_k_candidate_run_then_rerun(tmp_path):
    model = gguf_path()
    records = tmp_path / "queries.jsonl"
    rows = [
        {"query_id": f"q{i}", "query": q, "positive_id": f"d{i}", "positive": f"A passage about {q}, in full detail."}
        for i, q in enumerate(QUERIES)
    ]
    records.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "run"
    cmd = [
        sys.executable, "-m", "synthneg", "-q", "negatives", "llm", "--queries", str(records), "--out", str(out),
        "--model", str(model), "--no-progress", "--parallel", "4", "--candidates", "4", "--max-tokens", "96",
        "--max-attempts", "1",
    ]  # fmt: skip
    env = subprocess_env(tmp_path / "cache")
    store = out / "negatives-llm-query.calls.jsonl"
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if store.is_file() and len(_keys(store)) >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed: " + proc.stderr.read().decode()[-500:]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _keys(store)
    assert 2 <= len(before) < 12

    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert rerun.returncode == 0, rerun.stderr
    after = _keys(store)
    assert after[: len(before)] == before  # nothing finished was lost
    assert len(after) == len(set(after)) == 12  # every candidate of every query, none paid twice
    cost = json.loads((out / "negatives-llm-query.cost.json").read_text())
    assert cost["cached_calls"] == len(before) and cost["calls"] == 12 - len(before)
    cands = [json.loads(x) for x in (out / "negatives-llm-query.candidates.jsonl").read_text().splitlines()]
    assert len(cands) == 12 and {c["query_id"] for c in cands} == {"q0", "q1", "q2"}
    kept = [json.loads(x) for x in (out / "negatives-llm-query.jsonl").read_text().splitlines()]
    assert {t["query_id"] for t in kept} == {c["query_id"] for c in cands if c["kept"]}
    for t in kept:
        assert t["provenance"]["candidates"] == 4


def test_a_prompt_that_does_not_fit_is_answered_at_once_and_the_rest_still_run():
    """A request whose prompt plus max_tokens exceeds a sequence's context gets a prompt_too_long failure (not an
    exception, not a silent drop) in its own position, and the other requests are decoded as usual."""
    tpl = load_template("negative-query")
    long_query = " ".join(["persister cells and relapse in cancer"] * 120)  # far over 512 tokens
    reqs = [
        ChatRequest(tpl.render(query=q), SamplingParams(temperature=0.0, max_tokens=8, seed=1)) for q in QUERIES[:2]
    ]
    reqs.insert(1, ChatRequest(tpl.render(query=long_query), SamplingParams(temperature=0.0, max_tokens=8, seed=2)))
    gen = LlamaCppGenerator(str(gguf_path()), parallel=2, n_ctx=512)
    seen: list[int] = []
    try:
        out = gen.generate(reqs, on_result=lambda i, res: seen.append(i))
    finally:
        gen.close()
    assert len(out) == len(reqs) and sorted(seen) == list(range(len(reqs)))
    assert out[1].finish_reason == "error" and out[1].error_kind == "prompt_too_long"
    assert all(r.ok and r.text for i, r in enumerate(out) if i != 1)
