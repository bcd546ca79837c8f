"""Metrics: a hand-computed example, an independent trec_eval re-implementation on random runs, and
parity with raw pytrec_eval."""

from __future__ import annotations

import math
import random

import pytest
import pytrec_eval

from synthneg.errors import SynthnegError
from synthneg.evaluate.metrics import compute_metrics, truncate_run


def test_hand_computed_example() -> None:
    qrels = {"q": {"d1": 1, "d2": 2, "d3": 1}}
    run = {"q": {"d4": 0.9, "d2": 0.8, "d1": 0.7}}
    m = compute_metrics(qrels, run).aggregate
    dcg = 0 + 2 / math.log2(3) + 1 / math.log2(4)
    idcg = 2 + 1 / math.log2(3) + 1 / math.log2(4)
    assert m["nDCG@10"] == pytest.approx(dcg / idcg, abs=1e-12)  # 0.5627...
    assert m["P@10"] == pytest.approx(0.2)
    assert m["R@100"] == pytest.approx(2 / 3)
    assert m["MAP@100"] == pytest.approx((1 / 2 + 2 / 3) / 3)
    assert m["MRR@10"] == pytest.approx(0.5)


def _ranked(docs: dict[str, float]) -> list[str]:
    # trec_eval: score descending, ties by doc id descending
    return [d for d, _ in sorted(docs.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)]


def _reference(qrels: dict[str, int], docs: dict[str, float]) -> dict[str, float]:
    """Independent implementation of trec_eval's definitions (gain = grade, log2 discount)."""
    ranked = _ranked(docs)
    rel = {d: g for d, g in qrels.items() if g > 0}
    n_rel = len(rel)
    dcg = sum(rel.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
    ideal = sorted(rel.values(), reverse=True)[:10]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    hits = [d in rel for d in ranked]
    ap = 0.0
    found = 0
    for i, hit in enumerate(hits[:100]):
        if hit:
            found += 1
            ap += found / (i + 1)
    rr = next((1 / (i + 1) for i, hit in enumerate(hits[:10]) if hit), 0.0)
    return {
        "nDCG@10": dcg / idcg if idcg else 0.0,
        "P@10": sum(hits[:10]) / 10,
        "R@100": sum(hits[:100]) / n_rel if n_rel else 0.0,
        "MAP@100": ap / n_rel if n_rel else 0.0,
        "MRR@10": rr,
    }


@pytest.mark.parametrize("seed", range(5))
def test_random_runs_match_reference_and_pytrec_eval(seed: int) -> None:
    rng = random.Random(seed)
    docs = [f"d{i}" for i in range(300)]
    qrels, run = {}, {}
    for q in range(40):
        qid = f"q{q}"
        qrels[qid] = {d: rng.choice([0, 1, 1, 2]) for d in rng.sample(docs, rng.randint(1, 12))}
        if q % 13 == 5:
            continue  # a judged query with no retrieved documents scores 0
        # few distinct scores: many ties, so the tie order matters
        run[qid] = {d: float(rng.randint(0, 20)) for d in rng.sample(docs, rng.randint(5, 150))}
    if all(g == 0 for g in qrels["q0"].values()):
        qrels["q0"]["d0"] = 1
    result = compute_metrics(qrels, run)
    for qid in qrels:
        expected = _reference(qrels[qid], run.get(qid, {}))
        for name, value in expected.items():
            if not any(g > 0 for g in qrels[qid].values()):
                continue  # trec_eval's conventions for queries without relevant docs differ by measure
            assert result.per_query[qid][name] == pytest.approx(value, abs=1e-9), (qid, name)
    raw = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "P.10", "recall.100", "map_cut.100"}).evaluate(run)
    for qid, values in raw.items():
        assert result.per_query[qid]["nDCG@10"] == pytest.approx(values["ndcg_cut_10"], abs=1e-12)
        assert result.per_query[qid]["MAP@100"] == pytest.approx(values["map_cut_100"], abs=1e-12)
    # averages are over every judged query (trec_eval -c)
    assert result.aggregate["nDCG@10"] == pytest.approx(
        sum(v["nDCG@10"] for v in result.per_query.values()) / len(qrels), abs=1e-12
    )


def test_identical_ids_ignored_like_beir() -> None:
    qrels = {"q1": {"q1": 1, "d2": 1}}
    run = {"q1": {"q1": 10.0, "d2": 5.0}}
    assert compute_metrics(qrels, run).aggregate["MRR@10"] == 1.0
    assert compute_metrics(qrels, run, ignore_identical_ids=False).aggregate["MRR@10"] == 1.0
    assert compute_metrics({"q1": {"d2": 1}}, run).per_query["q1"]["MRR@10"] == 1.0
    assert compute_metrics({"q1": {"d2": 1}}, run, ignore_identical_ids=False).per_query["q1"]["MRR@10"] == 0.5


def test_truncate_and_custom_cutoffs() -> None:
    run = {"q": {"a": 1.0, "b": 1.0, "c": 2.0}}
    assert list(truncate_run(run, 2)["q"]) == ["c", "b"]
    m = compute_metrics({"q": {"a": 1}}, run, ["nDCG@3", "P@1", "R@2"]).aggregate
    assert set(m) == {"nDCG@3", "P@1", "R@2"} and m["R@2"] == 0.0 and m["P@1"] == 0.0
    with pytest.raises(SynthnegError, match="unknown metric"):
        compute_metrics({"q": {"a": 1}}, run, ["Recall@10"])
