"""Real generation with the embedded 0.5B model on arXiv passages (single stream and batched)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from synthneg.data.triples import read_query_records, read_triples
from synthneg.generate import generate_negatives, generate_queries
from synthneg.llm import ChatMessage, ChatRequest, SamplingParams
from synthneg.llm.llamacpp import LlamaCppGenerator
from synthneg.llm.parse import validate_negative, validate_query

from llm_support import arxiv_documents, gguf_path


@pytest.fixture(scope="module")
def generator():
    gen = LlamaCppGenerator(str(gguf_path()), parallel=3, n_ctx=1024)
    yield gen
    gen.close()


def test_generator_interface_single_and_batched(generator):
    reqs = [
        ChatRequest(
            (ChatMessage("user", f"Name a {thing}. Answer in at most five words."),),
            SamplingParams(max_tokens=12, seed=7),
        )
        for thing in ("fruit", "colour", "planet", "metal")
    ]
    seen = []
    batched = generator.generate(reqs, on_result=lambda i, r: seen.append(i))
    assert sorted(seen) == [0, 1, 2, 3] and len(batched) == 4
    for r in batched:
        assert r.ok and r.text.strip() and r.finish_reason in ("stop", "length")
        assert r.prompt_tokens > 10 and 0 < r.completion_tokens <= 12 and r.latency_s > 0 and r.raw
    single = [generator.generate([r])[0] for r in reqs[:2]]  # a batch of one takes the plain high-level path
    assert all(r.ok and r.raw and r.raw["choices"] for r in single)
    # seeded: the same request gives the same answer on the same path
    assert generator.generate([reqs[0]])[0].text == single[0].text


def test_lazy_generator_loads_on_its_first_call_only(generator):
    """A lazy generator (what experiments use) is described without its model, and loads it on the first call."""
    lazy = LlamaCppGenerator(str(gguf_path()), parallel=3, n_ctx=1024, lazy=True)
    try:
        assert lazy._llm is None
        assert lazy.describe() == generator.describe()  # what the stores' keys hold: no model needed for it
        req = ChatRequest((ChatMessage("user", "Name a fruit."),), SamplingParams(max_tokens=6, seed=3))
        assert lazy.generate([req])[0].text == generator.generate([req])[0].text
        assert lazy._llm is not None
    finally:
        lazy.close()
    assert lazy._llm is None


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="CPU affinity is Linux only")
def test_llama_threads_default_to_the_cpus_the_process_may_use() -> None:
    """Pinned to one CPU (a cpuset, ``taskset``), llama.cpp gets one thread, not one per CPU of the machine."""
    code = (
        "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})\n"
        "from synthneg.llm.llamacpp import LlamaCppGenerator\n"
        "print(LlamaCppGenerator(lazy=True).n_threads, LlamaCppGenerator(lazy=True, n_threads=3).n_threads)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["1", "3"]


@pytest.mark.slow  # ~1-6 min on 2 cores (27 calls)
def test_queries_and_negatives_from_arxiv(generator, arxiv_path, tmp_path):
    docs = arxiv_documents(arxiv_path, 3, max_words=100)
    q = generate_queries(docs, generator, tmp_path, k=2, styles=("question", "keyword"), show_progress=False)
    records = read_query_records(q.output)
    rejects = [json.loads(x) for x in q.rejects.read_text().splitlines()]
    assert len(records) + sum(r["gave_up"] for r in rejects) == 6  # nothing silently dropped
    assert len(records) >= 4
    by_id = {d.id: d for d in docs}
    for rec in records:
        assert validate_query(rec.query, rec.positive).ok
        assert rec.positive == by_id[rec.positive_id].full_text()
    for r in rejects:
        assert r["reason"] and "raw" in r
    cost = json.loads(q.ledger_path.read_text())
    assert cost["calls"] >= 6 and cost["completion_tokens"] > 0 and cost["wall_seconds"] > 0
    row = json.loads(q.output.read_text().splitlines()[0])
    prov = row["provenance"]
    assert (
        row["method"] == "llm-query" and prov["parameters"]["temperature"] == 0.6 and prov["parameters"]["top_k"] == 20
    )
    assert prov["template_hash"] and isinstance(prov["seed"], int)

    for mode, method in (("query", "llm-query"), ("query+positive", "llm-query-positive")):
        n = generate_negatives(records[:3], generator, tmp_path, mode=mode, show_progress=False)
        triples = read_triples(n.output)
        gave_up = sum(json.loads(x)["gave_up"] for x in n.rejects.read_text().splitlines())
        assert len(triples) + gave_up == 3 and len(triples) >= 2
        for t in triples:
            assert t.method == method and t.negative_id is None
            assert validate_negative(t.negative, t.query, t.positive).ok
            assert t.provenance["mode"] == mode
        assert (tmp_path / f"negatives-{method}.cost.json").is_file()
