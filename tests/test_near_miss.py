"""The near-miss strategy: a rewritten query (step 1), then a passage answering it (step 2), with the real 0.5B on
SciFact train claims; both steps' calls stored and replayed; the drift check's rules on hand-made rewrites."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from synthneg.data.beir import load_beir
from synthneg.data.triples import QueryRecord, read_triples
from synthneg.errors import SynthnegError
from synthneg.generate.near_miss import (
    PASSAGE_SAMPLING,
    REWRITE_STEM,
    DriftRules,
    candidate_rates,
    generate_near_miss_negatives,
    validate_rewrite,
    validate_swap,
)
from synthneg.llm.base import Generator
from synthneg.llm.llamacpp import LlamaCppGenerator
from synthneg.llm.types import GenerationResult
from synthneg.mine.cross_encoder import load_scorer
from synthneg.search.dense import DenseEncoder

from llm_support import gguf_path

CLAIM = "IFI16 interferes with STING phosphorylation and translocation."


def test_drift_rejects_paraphrases_and_prompt_echoes_and_keeps_a_replaced_term() -> None:
    ok = validate_rewrite("IFI16 interferes with cGAS phosphorylation and translocation.", CLAIM)
    assert ok.ok and "sting" in (ok.detail or "") and "cgas" in (ok.detail or "")
    assert validate_rewrite("IFI16 interferes with STING translocation and phosphorylation.", CLAIM).reason == (
        "paraphrase"
    )
    assert validate_rewrite("IFI16 interferes with STING phosphorylation.", CLAIM).reason == "paraphrase"  # only drops
    echo = validate_rewrite(
        "No explanation, no quotes, no labels.", CLAIM, prompt=["no explanation, no quotes, no labels."]
    )
    assert echo.reason == "copies_example"
    assert not validate_rewrite("SELECT * FROM genes WHERE name = 'cGAS'", CLAIM).ok
    assert validate_rewrite("IFI16 binds cGAS.", CLAIM, DriftRules(min_changed_terms=3)).reason == "paraphrase"


@pytest.fixture(scope="module")
def records(scifact_dir: Path) -> list[QueryRecord]:
    ds = load_beir(scifact_dir, "train")
    out = []
    for qid in sorted(ds.qrels)[:4]:
        doc = ds.corpus[next(d for d, g in sorted(ds.qrels[qid].items()) if g > 0 and d in ds.corpus)]
        out.append(QueryRecord(qid, ds.queries[qid], doc.id, doc.full_text()))
    return out


def _two_steps(
    records: list[QueryRecord], gen: LlamaCppGenerator, encode: Any, tmp_path: Path, **options: Any
) -> tuple[list[Any], list[Path]]:
    """Steps 1 and 2 with the real model, every candidate recorded, then a rerun that pays nothing: the triples and
    the two call stores."""
    kwargs = {"candidates": 2, "encode": encode, "show_progress": False, **options}
    res = generate_near_miss_negatives(records, gen, gen, tmp_path, **kwargs)
    rows = [json.loads(line) for line in (tmp_path / "negatives-llm-near-miss.candidates.jsonl").open()]
    assert len(rows) == 2 * len(records)  # every candidate of every query, kept or not
    triples = read_triples(res.output) if res.output.stat().st_size else []
    for t in triples:
        nm = t.provenance["near_miss_query"]
        assert t.method == "llm-near-miss" and nm != t.query and t.negative != t.positive
        assert validate_rewrite(nm, t.query).ok  # what was kept passes the drift check
        assert t.provenance["rewrite_call"] and t.provenance["call_key"]
        kept = [r for r in rows if r["query_id"] == t.query_id and r["kept"]]
        assert -1.0 <= kept[0]["rewrite"]["similarity"] < 1.0  # measured (no ceiling by default)
        assert len(kept) == 1 and kept[0]["passage"]["text"] == t.negative
    stores = [tmp_path / f"{REWRITE_STEM}.calls.jsonl", tmp_path / "negatives-llm-near-miss.calls.jsonl"]
    before = [p.read_bytes() for p in stores]
    assert before[0], "step 1 stores its calls"
    # step 2 runs (and stores its calls) exactly for the rewrites that passed the drift check
    assert bool(before[1]) == any(r["rewrite"]["reason"] is None for r in rows), "step 2 stores its calls"
    again = generate_near_miss_negatives(records, gen, gen, tmp_path, **kwargs)
    assert again.ledger.calls == 0  # step 2 paid nothing; step 1 neither (its ledger below)
    assert json.loads((tmp_path / f"{REWRITE_STEM}.cost.json").read_text())["calls"] > 0  # the paying run's
    assert [p.read_bytes() for p in stores] == before
    assert (read_triples(again.output) if again.output.stat().st_size else []) == triples
    return triples, stores


def test_two_steps_with_the_embedded_model_store_and_replay(records: list[QueryRecord], tmp_path: Path) -> None:
    gen = LlamaCppGenerator(str(gguf_path()), parallel=4, n_ctx=2048)
    encoder = DenseEncoder("minilm", show_progress=False)  # the embedded MiniLM: the drift's similarity
    try:
        # passages cut at 72 tokens (trimmed to their last full sentence) instead of 256: a quarter of the decoding
        short = replace(PASSAGE_SAMPLING, max_tokens=72)
        # one record at a time until one keeps a near-miss negative, so that every check in _two_steps binds: which
        # record's rewrites pass the drift check at these seeds depends on the CPU's kernels (record 1 on an AVX2
        # EPYC; on an AVX512 one only record 3's did), and a record whose rewrites all fail costs only its two short
        # rewrite calls
        triples: list[Any] = []
        for record in [records[1], records[3], records[0], records[2]]:
            triples, _ = _two_steps([record], gen, encoder.encode, tmp_path / record.query_id, passage_sampling=short)
            if triples:
                break
        assert triples, "no record of four kept a near-miss negative at these seeds"
    finally:
        gen.close()


@pytest.mark.slow
def test_verified_with_the_embedded_model_and_judge(records: list[QueryRecord], tmp_path: Path) -> None:
    """The live judge (the 0.5B as a reranker) on 4 records (about 80 s on one core; the selection rule is tested
    with a scripted judge below, and the committed verified runs replay its stored scores)."""
    gen = LlamaCppGenerator(str(gguf_path()), parallel=4, n_ctx=2048)
    encode = DenseEncoder("minilm", show_progress=False).encode
    try:
        triples, stores = _two_steps(records, gen, encode, tmp_path)
        # verified: the same stored calls (nothing paid again), the judge on the original query, the hardest kept
        verified_dir = tmp_path / "verified"
        verified_dir.mkdir()
        for store in stores:
            shutil.copy(store, verified_dir / store.name)
        judge = load_scorer("llm", cache=verified_dir / "judge.scores.jsonl")
        try:
            res = generate_near_miss_negatives(
                records, gen, gen, verified_dir, candidates=2, encode=encode, judge=judge, method="llm-query-verified"
            )
        finally:
            judge.close()
        assert res.ledger.calls == 0
        rows = [json.loads(line) for line in (verified_dir / "negatives-llm-query-verified.candidates.jsonl").open()]
        judged = [r for r in rows if "judge" in r]
        assert judged and all(set(r["judge"]) == {"negative", "positive", "answers_query"} for r in judged)
        verified = read_triples(res.output) if res.output.stat().st_size else []
        assert len(verified) == len({r["query_id"] for r in rows if r["kept"]})
        for t in verified:
            assert t.method == "llm-query-verified" and t.scores["judge_negative"] < t.scores["judge_positive"]
            mine = [r for r in rows if r["query_id"] == t.query_id]
            passing = [
                r for r in mine if "judge" in r and not r["judge"]["answers_query"] and r["passage"]["reason"] is None
            ]
            kept = [r for r in mine if r["kept"]]
            assert len(kept) == 1 and kept[0]["hardness"] == max(r["hardness"] for r in passing)  # the hardest
            assert "hardness" not in t.scores  # encoder floats stay out of the triples' bytes (they key the fine-tunes)
        refused = [r for r in judged if r["judge"]["answers_query"]]
        # 4 records at these seeds give 2 near-miss triples, 1 verified and 2 refused: every check above and below binds
        assert triples and verified and refused
        assert all(not r["kept"] for r in refused)
        rates = candidate_rates(rows)  # what results.json reports as diagnostics[arm]["near_miss"]
        assert (rates["queries"], rates["candidates"], rates["judged"]) == (len(records), len(rows), len(judged))
        assert rates["kept"] == len(verified) and rates["acceptance_rate"] == len(verified) / len(records)
        assert rates["judge_answers_query"] == len(refused) / len(judged)
        assert rates["passages_accepted"] >= len(judged)  # the judge reads only the passages that passed the rules
    finally:
        gen.close()


class Paraphraser(Generator):
    """Step 1's faulty LLM: answers every rewrite with the query itself (the drift check refuses it); counts calls."""

    model_id = "paraphraser"

    def __init__(self, queries: list[str]) -> None:
        self.queries, self.calls = queries, 0

    def generate(self, requests, on_result=None):  # type: ignore[no-untyped-def]
        out = []
        for i, req in enumerate(requests):
            self.calls += 1
            text = next(q for q in self.queries if q in req.messages[-1].content)
            out.append(GenerationResult(text, "stop", completion_tokens=len(text.split())))
            if on_result is not None:
                on_result(i, out[-1])
        return out


@pytest.mark.parametrize(("rewrite_attempts", "expected"), [(None, 3), (1, 1), (5, 5)])
def test_each_step_has_its_own_attempts(
    records: list[QueryRecord], tmp_path: Path, rewrite_attempts: int | None, expected: int
) -> None:
    """``rewrite_max_attempts`` bounds step 1's tries per candidate (``max_attempts`` when unset); a refused rewrite
    never reaches step 2, and every refusal is recorded, not dropped."""
    rewriter = Paraphraser([r.query for r in records])
    writer = Paraphraser([])  # never called: no rewrite passes
    res = generate_near_miss_negatives(
        records,
        rewriter,
        writer,
        tmp_path,
        candidates=2,
        max_attempts=3,
        rewrite_max_attempts=rewrite_attempts,
        show_progress=False,
    )
    assert rewriter.calls == expected * 2 * len(records) and writer.calls == 0
    assert res.output.stat().st_size == 0  # nothing kept, and no triple invented
    rows = [json.loads(line) for line in (tmp_path / "negatives-llm-near-miss.candidates.jsonl").open()]
    assert len(rows) == 2 * len(records) and not any(r["kept"] for r in rows)
    assert all(r["rewrite"]["reason"] for r in rows)  # each candidate says why it was refused


# Real answers of qwen2.5-coder-1.5b to the swap template (a 40-query probe: 20 SciFact train claims, 20 synthetic
# queries of the SciFact in-domain run), with what the checks must make of them.
SWAPS = [
    (
        "IFI16 impedes STING phosphorylation and translocation, resulting in reduced activation of STING.",
        "IFI16 => MDA5",
        "MDA5 impedes STING phosphorylation and translocation, resulting in reduced activation of STING.",
    ),
    (
        "What is the correlation between obesity and ADHD?",
        "obesity => type 2 diabetes",
        "What is the correlation between type 2 diabetes and ADHD?",
    ),
    (
        "Charcoal is an effective treatment for acute paraquat poisoning.",
        "charcoal => acetic acid",
        "Acetic acid is an effective treatment for acute paraquat poisoning.",
    ),  # case-insensitive, capital kept
    (
        "Developing a syngeneic mouse model for events related to ovarian cancer?",
        " ovarian cancer => breast cancer",
        "Developing a syngeneic mouse model for events related to breast cancer?",
    ),
    ("PKG-la plays an essential role in spinal long term potentiation.", "PKG-la => PKG", "broader"),
    ("IGF-I levels predict muscle growth.", "IGF-I => IGF-II", "IGF-II levels predict muscle growth."),
    (
        "\u03b1-synuclein aggregates in Lewy bodies.",
        "\u03b1-synuclein => \u03b2-synuclein",
        "\u03b2-synuclein aggregates in Lewy bodies.",
    ),  # Greek letters are part of the term
    (
        "HIV trans-activator protein (TAT) effectively transports large and small molecules across cellular membranes.",
        "HIV trans-activator protein (TAT) => HIV",
        "broader",
    ),
    (
        "qSOFA scores are associated with length of stay in emergency department patients.",
        "qSOFA => qSOFA",
        "paraphrase",
    ),
    (
        "Upregulation of dynein in Drosophila neurons increases the number of microtubule plus-ends.",
        "dynein => microtubule",
        "paraphrase",
    ),  # the sibling is taken from the same query: nothing new
    (
        "Inhibiting glucose-6-phospate dehydrogenase improves lipogenesis by deactivating LKB1-AMPK signaling.",
        "glucose-6-phosphate dehydrogenase => AMPK",
        "term_not_in_query",
    ),  # the query's typo is not the term
    (
        "Vaccinating the gastrointestinal tract induces protection of rectal and vaginal mucosa.",
        "query: Vaccinating the gastrointestinal tract induces protection of rectal and vaginal mucosa => vaccination",
        "format",
    ),
    ("Do IL-13 inhibitors block hepatic fibrosis in Schistosomiasis?", "IL-13 inhibitors => hepatitis\u708e", "format"),
    ("Do tumor cells invade?", "tumor => a different cell type", "vague"),
    ("Do tumor cells express tumorin?", "tumor => stroma", "Do stroma cells express tumorin?"),  # whole words only
]


@pytest.mark.parametrize(("query", "answer", "expected"), SWAPS)
def test_swap_substitutes_a_sibling_and_refuses_broader_vague_and_unanchored_terms(
    query: str, answer: str, expected: str
) -> None:
    verdict = validate_swap(answer, query)
    if " " in expected:  # a near-miss query
        assert verdict.ok and verdict.text == expected, verdict
        assert verdict.detail is not None and " => " in verdict.detail
        assert validate_rewrite(verdict.text, query).ok  # and it passes the free rewrite's drift check too
    else:
        assert not verdict.ok and verdict.reason == expected, verdict


class Swapper(Generator):
    """Step 1 with the swap template: answers 'STING => cGAS' to every query (only one of them names STING)."""

    model_id = "swapper"

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def generate(self, requests, on_result=None):  # type: ignore[no-untyped-def]
        out = []
        for i, req in enumerate(requests):
            prompt = req.messages[-1].content
            self.prompts.append(prompt)
            text = "STING => cGAS"
            out.append(GenerationResult(text, "stop", completion_tokens=3))
            if on_result is not None:
                on_result(i, out[-1])
        return out


def test_swap_rewrite_feeds_the_substituted_query_to_step_two(tmp_path: Path) -> None:
    """``rewrite="swap"``: step 1 gets the swap template, its answer is substituted into the query, step 2 writes for
    that query; a refused swap is recorded with its reason and never reaches step 2."""
    recs = [
        QueryRecord("q1", CLAIM, "d1", "IFI16 binds STING and blocks its phosphorylation in human cells."),
        QueryRecord("q2", "Aspirin lowers stroke risk.", "d2", "Aspirin reduced strokes by a fifth in a trial."),
    ]
    rewriter = Swapper()
    writer = Paraphraser(["IFI16 interferes with cGAS phosphorylation and translocation."])
    res = generate_near_miss_negatives(recs, rewriter, writer, tmp_path, rewrite="swap", show_progress=False)
    assert all("=>" in p for p in rewriter.prompts)  # the swap template, not the free rewrite
    assert writer.calls >= 1  # step 2 wrote for the substituted query only (q1)
    rows = {r["query_id"]: r for r in map(json.loads, (tmp_path / "negatives-llm-near-miss.candidates.jsonl").open())}
    assert rows["q1"]["rewrite"]["text"] == "IFI16 interferes with cGAS phosphorylation and translocation."
    assert rows["q1"]["rewrite"]["detail"].startswith("STING => cGAS")
    assert rows["q2"]["rewrite"]["reason"] == "term_not_in_query" and "passage" not in rows["q2"]
    assert res.ledger.tasks == 1
    with pytest.raises(SynthnegError, match="unknown rewrite"):
        generate_near_miss_negatives(recs, rewriter, writer, tmp_path, rewrite="loose", show_progress=False)


def test_stored_cosines_encode_each_missing_text_once_and_replay_from_the_store(tmp_path: Path) -> None:
    """The near-miss arm's drift and hardness cosines are kept beside the run: a second object on the same store
    answers every pair without encoding (so a rebuild is exact on any machine), and only new pairs are encoded."""
    from synthneg.search.stored_cosines import StoredCosines

    seen: list[list[str]] = []

    def encode(texts: list[str]) -> np.ndarray:
        seen.append(list(texts))
        v = np.array([[len(t), t.count("a") + 1.0, 1.0] for t in texts])
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    store = tmp_path / "similarity.scores.jsonl"
    first = StoredCosines(encode, "enc@1", store)
    a, b = ["q one", "q one", "q two"], ["banana", "a passage", "banana"]
    got = first(a, b)
    assert seen == [sorted(set(a) | set(b))] and first.encoded == 4  # each distinct text once
    want = np.sum(encode(a) * encode(b), axis=1)
    assert np.allclose(got, want)
    seen.clear()
    again = StoredCosines(encode, "enc@1", store)
    assert np.array_equal(again(a, b), got) and again.encoded == 0 and seen == []
    assert "banana" not in store.read_text()  # hashes and scores only
    again(["q three"], ["banana"])
    assert seen == [["banana", "q three"]]  # only the new pair's texts
    other = StoredCosines(encode, "enc@2", store)  # another encoder: its own keys
    other(a[:1], b[:1])
    assert other.encoded == 2
    with pytest.raises(ValueError, match="pairs"):
        again(["x"], [])


#: two claims and their positives for the scripted tests below; FILLER makes a scripted passage long enough to pass
TWO_RECORDS = [
    QueryRecord("q1", "IFI16 interferes with STING phosphorylation.", "d1", "IFI16 binds STING in human cells."),
    QueryRecord("q2", "Aspirin lowers stroke risk in adults.", "d2", "Aspirin reduced strokes by a fifth."),
]
FILLER = (
    " It was measured in a cohort of adults over ten years with repeated sampling and careful controls."
    " The authors report effect sizes, confidence intervals and a replication in a second independent sample."
)


class Scripted(Generator):
    """Answers each request with the answer of the first key found in its prompt (steps 1 and 2 of the tests below);
    a key with a list of answers gives them in turn (candidate 0, candidate 1, ...)."""

    model_id = "scripted"

    def __init__(self, answers: dict[str, str | list[str]]) -> None:
        self.answers = {k: [v] if isinstance(v, str) else v for k, v in answers.items()}
        self.turn = dict.fromkeys(answers, 0)

    def generate(self, requests, on_result=None):  # type: ignore[no-untyped-def]
        out = []
        for i, req in enumerate(requests):
            key = next(k for k in self.answers if k in req.messages[-1].content)
            text = self.answers[key][self.turn[key] % len(self.answers[key])]
            self.turn[key] += 1
            out.append(GenerationResult(text, "stop", completion_tokens=len(text.split())))
            if on_result is not None:
                on_result(i, out[-1])
        return out


def test_relative_margin_refuses_a_negative_closer_to_the_query_than_its_positive_allows(tmp_path: Path) -> None:
    """NV-Retriever's positive-aware ceiling on the encoder: a candidate whose cosine to the query exceeds
    ``positive - r * |positive|`` is refused (``encoder.too_close``), recorded, never kept; off by default."""
    recs, filler = TWO_RECORDS, FILLER
    answers = {
        "STING": "IFI16 interferes with cGAS phosphorylation.",  # step 1 for q1 (STING -> cGAS)
        "stroke": "Aspirin lowers bleeding risk in adults.",  # step 1 for q2 (stroke -> bleeding)
        "cGAS": "IFI16 reduces cGAS phosphorylation in fibroblasts." + filler,  # step 2
        "bleeding": "Aspirin raises bleeding risk in adults taking it daily." + filler,
    }
    cos = {"IFI16": (0.90, 0.80), "Aspirin": (0.50, 0.80)}  # (query-negative, query-positive) by the query's word

    def cosines(a: list[str], b: list[str]) -> np.ndarray:
        rec = {r.query: r for r in recs}
        return np.array([cos[q.split()[0]][1 if p == rec[q].positive else 0] for q, p in zip(a, b, strict=True)])

    def run(out: Path, margin: float | None) -> dict[str, dict]:
        generate_near_miss_negatives(
            recs, Scripted(answers), Scripted(answers), out, cosines=cosines, relative_margin=margin,
            method="llm-query-verified", show_progress=False,
        )  # fmt: skip
        return {
            r["query_id"]: r for r in map(json.loads, (out / "negatives-llm-query-verified.candidates.jsonl").open())
        }

    rows = run(tmp_path / "on", 0.05)
    assert rows["q1"]["encoder"] == {"positive": 0.8, "too_close": True} and not rows["q1"]["kept"]  # 0.90 > 0.76
    assert rows["q2"]["encoder"] == {"positive": 0.8, "too_close": False} and rows["q2"]["kept"]  # 0.50 <= 0.76
    kept = read_triples(tmp_path / "on" / "negatives-llm-query-verified.jsonl")
    assert [t.query_id for t in kept] == ["q2"] and kept[0].provenance["relative_margin"] == 0.05
    assert candidate_rates(list(rows.values()))["encoder_too_close"] == 0.5
    off = run(tmp_path / "off", None)
    assert all(r["kept"] and "encoder" not in r for r in off.values())  # off by default: both kept, rows as before
    assert "relative_margin" not in read_triples(tmp_path / "off" / "negatives-llm-query-verified.jsonl")[0].provenance
    with pytest.raises(SynthnegError, match="give an encoder"):
        generate_near_miss_negatives(recs, Scripted(answers), Scripted(answers), tmp_path, relative_margin=0.05)


@pytest.mark.parametrize(
    ("bound", "value", "q2_rewrite", "q2_cosine", "reason"),
    [
        # a rewrite about something else altogether: an easy negative, not a near miss
        ("min_similarity", 0.35, "Solar panels lower energy bills in homes.", 0.10, "drift_off_topic"),
        # the same question reworded ("hepatocellular carcinoma" -> "liver cancer"): its passage answers the query
        ("max_similarity", 0.90, "Aspirin prevents a second brain attack in older adults.", 0.95, "drift_similarity"),
    ],
)
def test_drift_bounds_refuse_a_rewrite_and_write_no_passage_for_it(
    tmp_path: Path, bound: str, value: float, q2_rewrite: str, q2_cosine: float, reason: str
) -> None:
    """``DriftRules.min_similarity`` / ``max_similarity``: a rewrite whose cosine to its query is below the floor or
    above the ceiling is recorded with its ``reason`` and similarity, gets no step-2 call and is never kept; the bound
    goes into the kept triples' provenance; off by default, when the provenance is what it was before either existed."""
    recs = TWO_RECORDS
    q2_passage = q2_rewrite.split()[1]  # the step-2 answer's key: a word of q2's rewrite that q1's prompts lack
    answers = {
        "STING": "IFI16 interferes with cGAS phosphorylation.",  # q1: a near miss (cosine 0.80 below)
        "stroke": q2_rewrite,
        "cGAS": "IFI16 reduces cGAS phosphorylation in fibroblasts." + FILLER,
        q2_passage: q2_rewrite.replace(".", ", a third less often.") + FILLER,
    }
    drift = {answers["STING"]: 0.80, q2_rewrite: q2_cosine}

    def cosines(a: list[str], b: list[str]) -> np.ndarray:  # the rewrite's drift, else a passage's hardness (0.5)
        return np.array([drift.get(y, 0.5) for y in b])

    def run(out: Path, rules: DriftRules) -> tuple[dict[str, dict], Scripted]:
        writer = Scripted(answers)
        generate_near_miss_negatives(
            recs, Scripted(answers), writer, out, cosines=cosines, drift=rules,
            method="llm-query-verified", show_progress=False,
        )  # fmt: skip
        rows = map(json.loads, (out / "negatives-llm-query-verified.candidates.jsonl").open())
        return {r["query_id"]: r for r in rows}, writer

    rows, writer = run(tmp_path / "on", DriftRules(**{bound: value}))
    assert rows["q2"]["rewrite"]["reason"] == reason and rows["q2"]["rewrite"]["similarity"] == q2_cosine
    assert "passage" not in rows["q2"] and not rows["q2"]["kept"] and writer.turn[q2_passage] == 0  # no step 2
    assert rows["q1"]["kept"] and not rows["q1"]["rewrite"]["reason"]
    kept = read_triples(tmp_path / "on" / "negatives-llm-query-verified.jsonl")
    assert [t.query_id for t in kept] == ["q1"] and kept[0].provenance["drift"][bound] == value
    rates = candidate_rates(list(rows.values()))
    assert rates["rewrites_accepted"] == 1 and rates["acceptance_rate"] == 0.5
    off, writer = run(tmp_path / "off", DriftRules())
    assert all(r["kept"] for r in off.values()) and writer.turn[q2_passage] == 1
    assert read_triples(tmp_path / "off" / "negatives-llm-query-verified.jsonl")[0].provenance["drift"] == {
        "min_changed_terms": 1,
        "max_similarity": None,
    }
    with pytest.raises(SynthnegError, match="give an encoder"):
        generate_near_miss_negatives(
            recs, Scripted(answers), Scripted(answers), tmp_path, drift=DriftRules(**{bound: value})
        )


class Judge:
    """A pair scorer (the judge's interface): a fixed score per passage word, the positive scoring 1.0."""

    identity = "scripted-judge"

    def __init__(self, scores: dict[str, float]) -> None:
        self.scores, self.pairs = scores, 0

    def score(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        self.pairs += len(pairs)
        return np.array([next((v for k, v in self.scores.items() if k in text), 1.0) for _, text in pairs])


def test_verified_refuses_what_answers_the_query_and_keeps_the_hardest_passing_candidate(tmp_path: Path) -> None:
    """llm-query-verified's selection: the judge scores each accepted passage and each positive against the original
    query; a candidate scoring at least the positive (minus the margin) answers the query and is refused; of the
    candidates that pass, the one closest to the query under the encoder is kept; every row is recorded."""
    recs, filler = TWO_RECORDS, FILLER
    rewrites = {
        "STING": ["IFI16 interferes with cGAS phosphorylation.", "IFI16 interferes with MAVS phosphorylation."],
        "stroke": ["Aspirin lowers headache risk in adults.", "Aspirin lowers bleeding risk in adults."],
    }
    passages = {
        "cGAS": "IFI16 reduces cGAS phosphorylation in fibroblasts." + filler,
        "MAVS": "IFI16 leaves MAVS phosphorylation unchanged in fibroblasts." + filler,
        "bleeding": "Aspirin raises bleeding risk in adults taking it daily." + filler,
        "headache": "Aspirin relieves headache in adults within an hour." + filler,
    }

    hardness = {"cGAS": 0.9, "MAVS": 0.3, "bleeding": 0.6, "headache": 0.4}

    def cosines(a: list[str], b: list[str]) -> np.ndarray:
        return np.array([next((v for k, v in hardness.items() if k in text), 0.5) for text in b])

    judge = Judge({"cGAS": 1.2, "MAVS": 0.4, "bleeding": 0.7, "headache": 0.1})  # cGAS answers q1 (>= 1.0)
    res = generate_near_miss_negatives(
        recs, Scripted(rewrites), Scripted(passages), tmp_path, candidates=2,
        cosines=cosines, judge=judge, method="llm-query-verified", show_progress=False,
    )  # fmt: skip
    assert judge.pairs == 4 + 4  # each accepted passage and its query's positive, once per candidate
    rows = [json.loads(line) for line in (tmp_path / "negatives-llm-query-verified.candidates.jsonl").open()]
    assert len(rows) == 4 and all("judge" in r and "hardness" in r for r in rows)
    refused = [r for r in rows if r["judge"]["answers_query"]]
    assert [r["passage"]["text"].split()[2] for r in refused] == ["cGAS"] and not refused[0]["kept"]
    kept = {t.query_id: t for t in read_triples(res.output)}
    assert "MAVS" in kept["q1"].negative  # the only passing candidate, though the refused one was harder
    assert "bleeding" in kept["q2"].negative  # both pass: the harder (0.6 > 0.4) is kept
    assert kept["q2"].scores == {"judge_negative": 0.7, "judge_positive": 1.0}
    assert kept["q2"].provenance["judge"] == "scripted-judge" and kept["q2"].provenance["candidates"] == 2
    rates = candidate_rates(rows)
    assert (rates["judged"], rates["kept"], rates["judge_answers_query"]) == (4, 2, 0.25)

    # with the encoder's ceiling (positives at 0.8 under the encoder: above 0.76 is too close) the judge reads only
    # what the ceiling lets through: cGAS (0.9) is refused by the encoder, unjudged; the same triples come out
    def with_positive(a: list[str], b: list[str]) -> np.ndarray:
        pos = {r.positive for r in recs}
        return np.where([text in pos for text in b], 0.8, cosines(a, b))

    ceiling = Judge(judge.scores)
    res = generate_near_miss_negatives(
        recs, Scripted(rewrites), Scripted(passages), tmp_path / "ceiling", candidates=2, cosines=with_positive,
        judge=ceiling, relative_margin=0.05, method="llm-query-verified", show_progress=False,
    )  # fmt: skip
    assert ceiling.pairs == 3 + 3
    rows = [json.loads(x) for x in (tmp_path / "ceiling" / "negatives-llm-query-verified.candidates.jsonl").open()]
    cgas = next(r for r in rows if "cGAS" in r["passage"]["text"])
    assert cgas["encoder"]["too_close"] and "judge" not in cgas and not cgas["kept"]
    assert {t.query_id: t.negative for t in read_triples(res.output)} == {k: t.negative for k, t in kept.items()}
    assert candidate_rates(rows)["judged"] == 3


class Recorder(Generator):
    """Step 1: answers every rewrite with the same text (a real answer of the 1.5B to the neutral template on an arXiv
    query) and keeps each prompt it was sent."""

    model_id = "recorder"

    def __init__(self, answer: str) -> None:
        self.answer, self.prompts = answer, []

    def generate(self, requests, on_result=None):  # type: ignore[no-untyped-def]
        out = []
        for i, req in enumerate(requests):
            self.prompts.append(req.messages[-1].content)
            out.append(GenerationResult(self.answer, "stop", completion_tokens=len(self.answer.split())))
            if on_result is not None:
                on_result(i, out[-1])
        return out


def test_neutral_rewrite_asks_for_a_term_of_the_querys_own_field_and_is_paid_apart(tmp_path: Path) -> None:
    """``rewrite="neutral"``: step 1's prompt names no biomedical kind of term and asks for one from the query's own
    field; the rewrite goes through the same drift rules and step 2; its calls are stored apart from ``free``'s, so
    switching the template in a folder pays for the new prompts instead of reusing the old answers."""
    query = "Do you know the mass of the black hole in A0620-00?"
    recs = [QueryRecord("q1", query, "d1", "We measure the black hole mass in the X-ray binary A0620-00.")]
    passage = (
        "Neutron stars in low-mass X-ray binaries are weighed from the radial velocity curve of the donor star and the "
        "inclination of the orbit. For the transient source studied here the companion's mass function and the "
        "ellipsoidal light curve give a neutron star of 1.6 solar masses."
    )
    free, neutral = (
        Recorder("Do you know the mass of the black hole in A0620-01?"),
        Recorder("Do you know the mass of the neutron star in A0620-00?"),
    )
    generate_near_miss_negatives(recs, free, Recorder(passage), tmp_path, candidates=1, show_progress=False)
    writer = Recorder(passage)
    res = generate_near_miss_negatives(
        recs, neutral, writer, tmp_path, candidates=1, rewrite="neutral", show_progress=False
    )
    assert "gene" in free.prompts[0] and "from the same field" not in free.prompts[0]
    assert len(neutral.prompts) == 1 and query in neutral.prompts[0]  # a new call, not free's stored answer
    assert "from the same field" in neutral.prompts[0] and not {"gene", "protein", "disease"} & set(
        neutral.prompts[0].replace(",", " ").split()
    )
    rows = {r["query_id"]: r for r in map(json.loads, (tmp_path / "negatives-llm-near-miss.candidates.jsonl").open())}
    assert rows["q1"]["rewrite"]["text"] == "Do you know the mass of the neutron star in A0620-00?"
    assert "added ['neutron', 'star']" in rows["q1"]["rewrite"]["detail"]
    assert len(writer.prompts) == 1 and "neutron star" in writer.prompts[0]  # step 2 wrote for the new query
    assert res.ledger.tasks == 1
