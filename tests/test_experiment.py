"""The experiment runner end to end on a tiny setting: real fine-tuning and real evaluation, cached stages,
a resumed rerun that redoes nothing, and config errors that name file, line and field.

The runs fine-tune the tests' one tiny bi-encoder (a 2-layer, 32-wide BERT over the words of these passages,
built once per module); the first test runs on the embedded MiniLM, the model users get."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from synthneg.errors import DataError, SynthnegError
from synthneg.experiment import load_config, run_experiment

from conftest import make_beir, tiny_sentence_transformer, write_jsonl

PASSAGES = [
    {"id": "p1", "title": "Photosynthesis", "text": "Plants turn sunlight, water and carbon dioxide into glucose."},
    {"id": "p2", "title": "Black holes", "text": "Gravity near a black hole is so strong that light cannot escape."},
    {"id": "p3", "title": "Sourdough", "text": "Sourdough bread rises thanks to wild yeast and lactic acid bacteria."},
    {"id": "p4", "title": "Volcanoes", "text": "Volcanoes erupt when molten rock rises through the crust."},
    {"id": "p5", "title": "Honeybees", "text": "Honeybees communicate the location of flowers with a waggle dance."},
    {"id": "p6", "title": "Tides", "text": "Ocean tides are caused mainly by the gravitational pull of the moon."},
    # distractors that share words with the queries, so BM25 has hard negatives to find
    {"id": "n1", "title": "Plants", "text": "Plants make oxygen; how plants store glucose in roots is another story."},
    {"id": "n2", "title": "Light", "text": "Light from a distant star can bend around a black hole."},
    {"id": "n3", "title": "Bread", "text": "Flatbread does not rise; sourdough starters need feeding."},
    {"id": "n4", "title": "Earthquakes", "text": "Earthquakes, unlike volcanoes, erupt no rock but shake the crust."},
    {"id": "n5", "title": "Flowers", "text": "Flowers attract bees with colour; where flowers grow depends on soil."},
    {"id": "n6", "title": "Waves", "text": "Ocean waves are caused by wind, not by tides."},
]
QUERIES = [
    ("how do plants make glucose", "p1"),
    ("why can light not escape a black hole", "p2"),
    ("what makes sourdough rise", "p3"),
    ("why do volcanoes erupt", "p4"),
    ("how do bees tell others where flowers are", "p5"),
    ("what causes ocean tides", "p6"),
]

BEIR_TEXT = "plants convert sunlight water carbon dioxide glucose chlorophyll absorbs red blue light leaves region \
spacetime gravity prevents escape neutron stars collapsed cores massive supergiant leavened wild yeast lactic acid \
bacteria baguette long thin loaf french bread which uses from a query without judgments"
_BASE_MODEL: dict[str, str] = {}


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts = [f"{p['title']} {p['text']}" for p in PASSAGES] + [q for q, _ in QUERIES] + [BEIR_TEXT]
    words = sorted({w for t in texts for w in re.findall(r"[a-z]+", t.lower())})
    return tiny_sentence_transformer(tmp_path_factory.mktemp("tiny-encoder"), words)


@pytest.fixture(autouse=True)
def _tiny_base_model(tiny_encoder: Path) -> None:
    _BASE_MODEL["path"] = str(tiny_encoder)


def _setup(tmp_path: Path, arms: list[str], seeds: list[int], extra: str = "", base_model: str | None = None) -> Path:
    write_jsonl(tmp_path / "passages.jsonl", PASSAGES)
    texts = {p["id"]: f"{p['title']} {p['text']}" for p in PASSAGES}
    write_jsonl(
        tmp_path / "queries.jsonl",
        [
            {"query_id": f"q{i}", "query": q, "positive_id": pid, "positive": texts[pid]}
            for i, (q, pid) in enumerate(QUERIES)
        ],
    )
    make_beir(tmp_path / "tinyeval")
    cfg = tmp_path / "exp.yaml"
    cfg.write_text(
        "name: tiny\n"
        "output_dir: out\n"
        "passages:\n  path: passages.jsonl\n"
        "queries:\n  path: queries.jsonl\n"
        f"base_model: {base_model or _BASE_MODEL['path']}\n"
        "train:\n  batch_size: 2\n  max_seq_length: 64\n"
        f"eval:\n  datasets: [{tmp_path / 'tinyeval'}]\n"
        f"seeds: {seeds}\n"
        f"arms: [{', '.join(arms)}]\n"
        "significance_resamples: 200\n" + extra,
        encoding="utf-8",
    )
    return cfg


def test_tiny_experiment_runs_caches_and_resumes(tmp_path: Path) -> None:
    cfg_path = _setup(tmp_path, ["zero-shot", "bm25"], [0, 1], base_model="minilm")
    cfg = load_config(cfg_path)
    out = run_experiment(cfg, show_progress=False)
    assert out == tmp_path / "out"
    results = json.loads((out / "results.json").read_text())
    arms = results["arms"]
    assert set(arms) == {"zero-shot", "bm25"}
    assert arms["bm25"]["tinyeval"]["seeds"] == 2 and arms["zero-shot"]["tinyeval"]["seeds"] == 1
    assert len(arms["bm25"]["tinyeval"]["nDCG@10"]["values"]) == 2
    assert results["pending"] == []
    assert results["costs"]["bm25"]["reads_corpus"] is True and results["costs"]["zero-shot"]["reads_corpus"] is False
    assert "bm25" in results["significance"] and "zero-shot" in results["significance"]["bm25"]["tinyeval"]
    bm25 = [json.loads(line) for line in (out / "triples" / "bm25.jsonl").read_text().splitlines()]
    assert len(bm25) == 6 and all(t["negative_id"] != t["positive_id"] for t in bm25)
    assert (out / "plot.png").stat().st_size > 5000
    report = (out / "report.md").read_text()
    assert "out-of-domain" in report and "| bm25 |" in report and "Cost per arm" in report
    assert results["contamination"][0]["exact_duplicates"] == 0
    assert (out / "models" / "bm25" / "seed1" / "synthneg_done.json").is_file()
    assert not (out / "models" / "bm25" / "seed1" / "checkpoints").exists()

    stages = json.loads((out / "stages.json").read_text())
    # rerun with one more arm: only the new arm's stages run
    cfg_path2 = _setup(tmp_path, ["zero-shot", "bm25", "in-batch"], [0, 1], base_model="minilm")
    # a subset first (--arm in-batch --seed 1): only that stage runs, the rest of the arm is pending
    run_experiment(load_config(cfg_path2), show_progress=False, only_arms=["in-batch"], only_seeds=[1])
    partial = json.loads((out / "stages.json").read_text())
    assert {k for k in partial if k not in stages} == {"train:in-batch:seed1", "eval:in-batch/seed1:tinyeval"}
    assert json.loads((out / "results.json").read_text())["pending"] == ["in-batch on tinyeval: 1/2 seeds"]
    with pytest.raises(SynthnegError, match="arm ce not in the config"):
        run_experiment(load_config(cfg_path2), show_progress=False, only_arms=["ce"])
    run_experiment(load_config(cfg_path2), show_progress=False)
    stages2 = json.loads((out / "stages.json").read_text())
    new = {k for k in stages2 if k not in stages}
    assert new == {
        "train:in-batch:seed0",
        "train:in-batch:seed1",
        "eval:in-batch/seed0:tinyeval",
        "eval:in-batch/seed1:tinyeval",
    }
    assert json.loads((out / "results.json").read_text())["costs"]["in-batch"]["reads_corpus"] is False
    assert all(stages2[k] == stages[k] for k in stages)  # nothing finished was redone


def test_config_errors_name_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\npassages:\n  path: p.jsonl\narms: [zero-shot, bm25, magic]\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_config(bad)
    assert info.value.line == 4 and "arms.2" in str(info.value) and "bad.yaml" in str(info.value)
    bad.write_text("passages:\n  path: p.jsonl\n  beir: scifact\n", encoding="utf-8")
    with pytest.raises(DataError, match="exactly one of 'path'"):
        load_config(bad)
    bad.write_text("passages:\n  path: p.jsonl\ntrain:\n  epoch: 2\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_config(bad)
    assert "train.epoch" in str(info.value) and info.value.line == 4
    bad.write_text("passages: [unclosed\n", encoding="utf-8")
    with pytest.raises(DataError, match="invalid YAML"):
        load_config(bad)


def test_subsample_corpus_keeps_judged_documents(scifact_dir: Path) -> None:
    from synthneg.data import load_beir
    from synthneg.data.sampling import subsample_corpus

    ds = load_beir(scifact_dir)
    small = subsample_corpus(ds, 1000)
    judged = {d for rels in ds.qrels.values() for d in rels}
    assert len(small.corpus) == 1000 and judged <= set(small.corpus)
    assert small.queries == ds.queries and small.qrels == ds.qrels
    assert subsample_corpus(ds, 1000).corpus.ids == small.corpus.ids  # seeded


@pytest.mark.slow
def test_llm_arms_with_the_embedded_model(tmp_path: Path) -> None:
    """llm-query and llm-query-positive arms with the real 0.5B model, trained and evaluated."""
    cfg_path = _setup(tmp_path, ["llm-query", "llm-query-positive"], [0])
    text = cfg_path.read_text().replace("queries:\n  path: queries.jsonl\n", "queries:\n  k: 1\n")
    cfg_path.write_text(text + "llm:\n  parallel: 4\n", encoding="utf-8")
    out = run_experiment(load_config(cfg_path), show_progress=False)
    results = json.loads((out / "results.json").read_text())
    assert set(results["arms"]) == {"llm-query", "llm-query-positive"}
    for arm in ("llm-query", "llm-query-positive"):
        rows = [json.loads(x) for x in (out / "triples" / f"{arm}.jsonl").read_text().splitlines()]
        assert rows and all(r["negative_id"] is None and r["method"] == arm for r in rows)
        assert results["costs"][arm]["llm_calls"] >= 2 * len(rows) and results["costs"][arm]["reads_corpus"] is False


@pytest.mark.slow
def test_near_miss_arm_with_its_own_passage_llm(tmp_path: Path) -> None:
    """llm-near-miss in a run, with the real 0.5B on both steps and step 2 on its own LLM (`passage_llm`, parallel
    6): both steps' calls in their stores, the candidates file, triples whose provenance holds the near-miss query."""
    cfg_path = _setup(
        tmp_path,
        ["llm-near-miss"],
        [0],
        extra="near_miss:\n  candidates: 1\n  passage_llm: {model: qwen2.5-coder-0.5b, parallel: 6}\n",
    )
    out = run_experiment(load_config(cfg_path), show_progress=False)
    gen = out / "generation"
    assert (gen / "negatives-near-miss-rewrite.calls.jsonl").stat().st_size > 0
    assert (gen / "negatives-llm-near-miss.calls.jsonl").stat().st_size > 0
    candidates = [json.loads(x) for x in (gen / "negatives-llm-near-miss.candidates.jsonl").read_text().splitlines()]
    assert len(candidates) == len(QUERIES)
    rows = [json.loads(x) for x in (out / "triples" / "llm-near-miss.jsonl").read_text().splitlines()]
    assert rows and len(rows) == sum(c["kept"] for c in candidates)
    for row in rows:
        near_miss = row["provenance"]["near_miss_query"]
        assert row["method"] == "llm-near-miss" and near_miss != row["query"] and row["negative_id"] is None
    results = json.loads((out / "results.json").read_text())
    assert "llm-near-miss" in results["arms"]
    # the arm's cost counts both steps: step 1's rewrite calls beside step 2's passages (and no judge here)
    info = json.loads((out / "stages.json").read_text())["negatives:llm-near-miss"]
    assert info["rewrite_ledger"]["calls"] > 0 and "judge" not in info
    steps = info["rewrite_ledger"]["calls"] + info["ledger"]["calls"]
    assert results["costs"]["llm-near-miss"]["llm_calls"] >= steps


def _in_domain(tmp_path: Path, name: str, output_dir: str, passages: str = "", extra: str = "") -> tuple[Path, Path]:
    """A config whose passages come from a tiny BEIR folder with a train split (so the labeled arm can run), the
    queries from queries.jsonl, arms zero-shot, in-batch and labeled; the config's path and the folder."""
    _setup(tmp_path, ["zero-shot"], [0])  # writes queries.jsonl
    folder = make_beir(tmp_path / "lab", split="test")
    make_beir(folder, split="train")
    cfg = tmp_path / f"{name}.yaml"
    cfg.write_text(
        f"name: {name}\noutput_dir: {output_dir}\n"
        f"passages:\n  beir: {folder}\n{passages}"
        "queries:\n  path: queries.jsonl\n"
        f"base_model: {_BASE_MODEL['path']}\n"
        "train:\n  batch_size: 2\n  max_seq_length: 64\n"
        f"eval:\n  datasets: [{folder}]\n"
        "seeds: [0]\narms: [zero-shot, in-batch, labeled]\nsignificance_resamples: 200\n" + extra,
        encoding="utf-8",
    )
    return cfg, folder


def test_in_domain_labeled_ceiling(tmp_path: Path) -> None:
    """Passages sampled from the evaluated corpus itself, and the labeled arm as the ceiling."""
    cfg, _ = _in_domain(tmp_path, "in-domain", "out-in", "  sample: 5\n", "labeled_mask_judged: true\n")
    config = load_config(cfg)
    from synthneg.experiment.runner import load_training_passages

    passages = load_training_passages(config)
    assert len(passages) == 5
    out = run_experiment(config, show_progress=False)
    results = json.loads((out / "results.json").read_text())
    assert results["setting"] == "in-domain"
    labeled = [json.loads(x) for x in (out / "triples" / "labeled.jsonl").read_text().splitlines()]
    assert {t["query_id"] for t in labeled} <= {"q1", "q2", "q3"} and all(t["method"] == "labeled" for t in labeled)
    assert "in-batch" in results["share_of_labeled_gain"]
    assert "labeled ceiling" in (out / "report.md").read_text()
    assert results["labeled_in_batch"]["rows"] == len(labeled) and results["labeled_in_batch"]["batch_size"] == 2
    assert "In-batch false negatives: in a batch of 2" in (out / "report.md").read_text()
    assert "masked out of its loss" in (out / "report.md").read_text()
    assert results["stages"]["train:labeled:seed0"]["judged_masked"] >= 0  # trained through the masked loss
    # in-domain passages come from the evaluated corpus: the contamination check must see it
    contamination = results["contamination"][0]
    assert contamination["exact_duplicates"] == 5 and contamination["sharing_a_13gram"] <= 5
    # ... and how much of the test set has a judged-relevant document among the training passages
    relevant = {"q1": {"d1", "d2"}, "q2": {"d3"}, "q3": {"d5"}}  # make_beir's qrels, all grades > 0
    ids = set(passages.ids)
    assert contamination["judged_relevant"] == len(ids & {"d1", "d2", "d3", "d5"})
    assert contamination["queries_with_a_training_passage"] == sum(1 for r in relevant.values() if r & ids)
    assert contamination["queries"] == 3
    touched = sorted(q for q, r in relevant.items() if r & ids)
    assert contamination["query_ids_with_a_training_passage"] == touched
    split = results["seen_split"]["in-batch"][contamination["dataset"]]
    assert split["n_seen"] == len(touched) and split["n_seen"] + split["n_unseen"] == 3
    assert "In-domain by design" in (out / "report.md").read_text()


def test_contamination_counts_judged_relevant_passages_by_text() -> None:
    from synthneg.data.beir import Corpus, Document
    from synthneg.experiment.contamination import check_contamination

    evaluation = Corpus.from_documents(
        [
            Document("e1", "", "Alpha beta gamma delta."),
            Document("e2", "", "Epsilon zeta eta."),
            Document("e3", "", "Theta iota."),
        ]
    )
    # other ids, same texts up to case and punctuation: matched by normalised text, not by id
    train = Corpus.from_documents([Document("t1", "", "alpha beta, GAMMA delta"), Document("t2", "", "theta iota")])
    qrels = {"q1": {"e1": 1}, "q2": {"e2": 2}, "q3": {"e3": 0}}  # grade 0 is not relevant
    c = check_contamination(train, evaluation, "x", qrels=qrels).to_dict()
    assert c["exact_duplicates"] == 2
    assert c["judged_relevant"] == 1 and c["queries_with_a_training_passage"] == 1 and c["queries"] == 3
    unrelated = Corpus.from_documents([Document("a", "", "Something else entirely.")])
    c = check_contamination(unrelated, evaluation, "x", qrels=qrels).to_dict()
    assert c["judged_relevant"] == 0 and c["queries_with_a_training_passage"] == 0
    assert check_contamination(train, evaluation, "x").to_dict()["judged_relevant"] is None


def test_seen_split_means_and_empty_groups() -> None:
    from synthneg.experiment.contamination import seen_split

    sp = seen_split({"a": 1.0, "b": 0.5, "c": 0.0}, ["a", "z"])
    assert sp == {"seen": 1.0, "unseen": 0.25, "n_seen": 1, "n_unseen": 2}
    assert seen_split({"a": 1.0}, [])["seen"] is None


def test_costs_scale_a_resumed_stage_and_mark_pending_data(tmp_path: Path) -> None:
    from synthneg.experiment.report import costs

    cfg = load_config(_setup(tmp_path, ["zero-shot", "bm25", "llm-query", "in-batch"], [0]))
    ledger_q = {"calls": 10, "cached_calls": 0, "completion_tokens": 100, "cached_completion_tokens": 0}
    # the negatives stage resumed: 300 of its 400 completion tokens were decoded by an interrupted run
    ledger_n = {"calls": 5, "cached_calls": 15, "completion_tokens": 100, "cached_completion_tokens": 300}
    stages = {
        "queries": {"cpu_s": 50.0, "wall_s": 40.0, "ledger": ledger_q},
        "negatives:llm-query": {"cpu_s": 20.0, "wall_s": 10.0, "ledger": ledger_n},
    }
    out = costs(stages, cfg)
    assert out["llm-query"]["llm_calls"] == 30 and out["llm-query"]["data_cpu_s"] == 70.0
    assert out["llm-query"]["data_cpu_s_est"] == 50.0 + 4 * 20.0 and out["llm-query"]["data_wall_s_est"] == 80.0
    assert "data_cpu_s_est" not in out["in-batch"] and out["in-batch"]["data_pending"] is False
    assert out["bm25"]["data_pending"] is True and out["llm-query"]["data_pending"] is False
    # a near-miss arm: step 1's ledger (the rewrites) counts beside step 2's, the judge's pairs go in the note
    ledger_1 = {"calls": 7, "cached_calls": 1, "prompt_tokens": 70, "completion_tokens": 30}
    judge = {"pairs_scored": 12, "pairs_cached": 4, "score_wall_s": 60.0}
    stages["negatives:llm-query"] |= {"rewrite_ledger": ledger_1, "judge": judge}
    near = costs(stages, cfg)["llm-query"]
    assert near["llm_calls"] == 30 + 8 and near["llm_tokens"] == out["llm-query"]["llm_tokens"] + 100
    assert near["note"] == "the judge scored 12 pairs in 60 s wall and reused 4 from its store"


def test_arm_seeds_cut_and_bf16_evaluation_are_stated(tmp_path: Path) -> None:
    extra = "arm_seeds:\n  in-batch: 1\n"
    cfg_path = _setup(tmp_path, ["zero-shot", "bm25", "in-batch"], [0, 1], extra)
    text = cfg_path.read_text().replace("eval:\n", "eval:\n  precision: bf16\n")
    cfg_path.write_text(text)
    out = run_experiment(load_config(cfg_path), show_progress=False)
    stages = json.loads((out / "stages.json").read_text())
    assert "train:in-batch:seed0" in stages and "train:in-batch:seed1" not in stages
    assert "train:bm25:seed1" in stages
    results = json.loads((out / "results.json").read_text())
    assert results["pending"] == [] and results["arms"]["in-batch"]["tinyeval"]["seeds"] == 1
    report = (out / "report.md").read_text()
    assert "**Budget cut** (`arm_seeds`): seeds trained per arm: in-batch 1 of 2" in report
    assert "encoder in bf16" in report
    # back to fp32: the bf16 results are stale for that config, so the report lists them as pending
    from synthneg.experiment.report import summarize

    bf16 = load_config(cfg_path)
    fp32 = bf16.model_copy(update={"eval": bf16.eval.model_copy(update={"precision": "fp32"})})
    assert summarize(out, bf16)["arms"] and not summarize(out, fp32)["arms"]
    assert "mixed precision" not in report  # training stayed fp32
    bad = _setup(tmp_path, ["zero-shot", "bm25"], [0, 1], "arm_seeds:\n  ce: 1\n")
    with pytest.raises(DataError, match=r"line \d+.*'ce' is not one of the arms"):
        load_config(bad)


def test_reuse_scale_for_reranker_pairs_and_fully_resumed_stages() -> None:
    from synthneg.experiment.report import reuse_scale

    assert reuse_scale({"pairs_scored": 300, "pairs_cached": 100}) == pytest.approx(4 / 3)
    assert reuse_scale({"completion_tokens": 50, "cached_completion_tokens": 0}) == 1.0
    assert reuse_scale({"completion_tokens": 0, "cached_completion_tokens": 80}) is None  # unknown, not free


def test_subset_and_arm_seeds_errors(tmp_path: Path) -> None:
    cfg = load_config(_setup(tmp_path, ["zero-shot", "bm25"], [0, 1]))
    with pytest.raises(SynthnegError, match="no arm named llm_query; the arms are: zero-shot"):
        run_experiment(cfg, show_progress=False, only_arms=["llm_query"])
    with pytest.raises(SynthnegError, match="seed 7 not in the config"):
        run_experiment(cfg, show_progress=False, only_seeds=[7])
    with pytest.raises(DataError, match="zero-shot is not trained"):
        load_config(_setup(tmp_path, ["zero-shot", "bm25"], [0, 1], "arm_seeds:\n  zero-shot: 1\n"))


def test_train_precision_keys_fp32_unchanged_bf16_apart() -> None:
    """train.precision: fp32 keys are those of configs written before the field existed; bf16 gets its own."""
    from synthneg.experiment.config import TrainSettings

    fp32 = TrainSettings()
    assert "precision" not in fp32.key_fields() and fp32.key_fields() == TrainSettings(epochs=1.0).key_fields()
    bf16 = TrainSettings(precision="bf16")
    assert bf16.key_fields() == {**fp32.key_fields(), "precision": "bf16"}
    with pytest.raises(ValueError, match="precision"):
        TrainSettings(precision="fp16")  # autocast fp16 is a GPU feature; not offered on the CPU runner


def test_train_max_steps_keys_only_when_set_and_reaches_the_trainer() -> None:
    """train.max_steps: unset, the keys are those of the runs made before it existed; set, the fine-tunes get their
    own key and the trainer stops there."""
    from synthneg.experiment.config import TrainSettings

    unset, capped = TrainSettings(), TrainSettings(max_steps=30)
    assert "max_steps" not in unset.key_fields()
    assert capped.key_fields() == {**unset.key_fields(), "max_steps": 30}
    assert capped.train_config(seed=0, use_negatives=False).max_steps == 30
    assert unset.train_config(seed=0, use_negatives=False).max_steps is None
    with pytest.raises(ValueError, match="max_steps"):
        TrainSettings(max_steps=0)


def test_train_mini_batch_size_keys_only_with_cached_mnrl_and_reaches_the_trainer() -> None:
    """train.mini_batch_size (the GradCache chunk): with another loss it changes nothing, so the keys stay those of
    the runs made before it existed; with cached-mnrl each chunk size trains its own model."""
    from synthneg.experiment.config import TrainSettings

    default = TrainSettings()
    assert "mini_batch_size" not in default.key_fields()
    assert TrainSettings(mini_batch_size=8).key_fields() == default.key_fields()  # mnrl: no chunk to set
    cached = TrainSettings(loss="cached-mnrl", mini_batch_size=8)
    assert cached.key_fields()["mini_batch_size"] == 8
    assert cached.key_fields() != TrainSettings(loss="cached-mnrl").key_fields()
    assert cached.train_config(seed=0, use_negatives=True).mini_batch_size == 8
    with pytest.raises(ValueError, match="mini_batch_size"):
        TrainSettings(mini_batch_size=0)


def test_status_lists_every_stage_and_runs_nothing(tmp_path: Path) -> None:
    """--status: done and pending stages after a partial run, an estimate from its medians, no side effects."""
    from typer.testing import CliRunner

    from synthneg.cli import app
    from synthneg.experiment.runner import ExperimentRunner
    from synthneg.experiment.status import run_status

    cfg_path = _setup(tmp_path, ["zero-shot", "bm25", "in-batch", "random"], [0, 1])
    cfg = load_config(cfg_path)
    out = run_experiment(cfg, show_progress=False, only_arms=["bm25"], only_seeds=[0])
    before = sorted((p.relative_to(out), p.stat().st_mtime_ns) for p in out.rglob("*"))
    st = run_status(ExperimentRunner(cfg, show_progress=False))
    states = {s.stage: s for s in st.stages}
    assert [s for s, v in states.items() if v.done] == ["queries", "negatives:bm25", "train+eval:bm25/seed0"]
    assert list(states) == [
        "eval:zero-shot",
        "queries",
        "negatives:bm25",
        "train+eval:bm25/seed0",
        "train+eval:bm25/seed1",
        "train+eval:in-batch/seed0",
        "train+eval:in-batch/seed1",
        "negatives:random",
        "train+eval:random/seed0",
        "train+eval:random/seed1",
    ]
    assert states["train+eval:random/seed0"].detail == "after its data"
    assert (st.pending_train, st.pending_eval) == (5, 5)
    log = json.loads((out / "stages.json").read_text())
    one = log["train:bm25:seed0"]["wall_s"] + log["eval:bm25/seed0:tinyeval"]["wall_s"]
    assert st.estimate_s == pytest.approx(5 * one)
    result = CliRunner().invoke(app, ["experiment", str(cfg_path), "--status"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "tiny: 3 of 10 stages done" in result.output and "Pending: 5 fine-tune(s)" in result.output
    assert sorted((p.relative_to(out), p.stat().st_mtime_ns) for p in out.rglob("*")) == before  # ran nothing
    bad = CliRunner().invoke(app, ["experiment", str(cfg_path), "--status", "--arm", "bm25"])
    assert bad.exit_code != 0 and "--status shows the whole run" in str(bad.exception or bad.output)


def test_a_fresh_clone_counts_finished_stages_and_rebuilds_them_without_new_costs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Queries and triples are git-ignored, so a clone of a run holds its markers, stores and evaluations only.
    --status counts the finished stages as done (their markers record the files' digests), and a rerun
    rebuilds the files bit for bit, trains nothing, and keeps the costs logged by the run that did the work."""
    import shutil

    from synthneg.experiment.runner import ExperimentRunner
    from synthneg.experiment.stages import file_digest, recorded_output, write_json
    from synthneg.experiment.status import REBUILT, run_status

    cfg = load_config(_setup(tmp_path, ["zero-shot", "bm25", "in-batch"], [0]))
    out = run_experiment(cfg, show_progress=False, report=False)
    files = [out / "generation" / "queries.jsonl", out / "triples" / "bm25.jsonl"]
    digests = [file_digest(f) for f in files]
    logged = (out / "stages.json").read_text(encoding="utf-8")
    evals = sorted((p, p.stat().st_mtime_ns) for p in (out / "eval").rglob("*.json"))
    shutil.rmtree(out / "models")
    for f in files:
        f.unlink()

    st = run_status(ExperimentRunner(cfg, show_progress=False))
    assert [s.stage for s in st.stages if not s.done] == [] and (st.pending_train, st.pending_eval) == (0, 0)
    assert {s.stage: s.detail for s in st.stages}["negatives:bm25"] == REBUILT

    run_experiment(cfg, show_progress=False, report=False)
    assert [file_digest(f) for f in files] == digests
    assert not (out / "models").exists()  # every evaluation was found: nothing trained
    assert sorted((p, p.stat().st_mtime_ns) for p in (out / "eval").rglob("*.json")) == evals
    assert (out / "stages.json").read_text(encoding="utf-8") == logged  # the rebuild is not the stage's cost

    # a marker written before markers recorded digests: pending for --status, upgraded by the next run
    runner = ExperimentRunner(cfg, show_progress=False)
    marker, key = out / "markers" / "negatives-bm25.json", runner.negatives_key("bm25")
    assert key is not None
    write_json(marker, {"key": key})
    files[1].unlink()
    assert not {s.stage: s for s in run_status(runner).stages}["negatives:bm25"].done
    run_experiment(cfg, show_progress=False, report=False)
    assert recorded_output(marker, key) == digests[1]

    # a rebuild with other bytes than the stage recorded (e.g. a tie order that changed) says so
    write_json(marker, {"key": key, "output": "0" * 16})
    files[1].unlink()
    with caplog.at_level("WARNING", logger="synthneg.experiment.runner"):
        run_experiment(cfg, show_progress=False, report=False, only_arms=["bm25"])
    assert "negatives:bm25: rebuilt bm25.jsonl differs" in caplog.text and recorded_output(marker, key) == digests[1]
    relogged = json.loads((out / "stages.json").read_text(encoding="utf-8"))["negatives:bm25"]
    assert (
        relogged["finished"] >= json.loads(logged)["negatives:bm25"]["finished"]
        and relogged != json.loads(logged)["negatives:bm25"]
    )  # other bytes than the logged run's: this run's entry replaces it


def test_labeled_per_query_is_a_seeded_choice_keyed_apart() -> None:
    """labeled_per_query caps the ceiling's positives per query (NFCorpus: 110,575 pairs for 2,590 queries)."""
    from synthneg.data.triples import QueryRecord
    from synthneg.experiment.config import ExperimentConfig
    from synthneg.experiment.labeled import per_query
    from synthneg.experiment.runner import ExperimentRunner

    recs = [QueryRecord("q1", "a", f"d{i}", f"text {i}") for i in range(5)] + [QueryRecord("q2", "b", "d9", "t")]
    one = per_query(recs, 1, seed=0)
    assert [r.query_id for r in one] == ["q1", "q2"] and one == per_query(recs, 1, seed=0)
    assert len({per_query(recs, 1, seed=s)[0].positive_id for s in range(20)}) > 1  # the seed decides
    two = per_query(recs, 2, seed=0)
    assert [r.query_id for r in two] == ["q1", "q1", "q2"]
    assert [r.positive_id for r in two] == sorted((r.positive_id for r in two), key=lambda d: int(d[1:]))  # order kept

    base = {"passages": {"beir": "scifact", "sample": 5}, "arms": ["zero-shot", "labeled"]}
    key = ExperimentRunner(ExperimentConfig(**base)).negatives_key("labeled")
    capped = ExperimentConfig(**base, labeled_per_query=1)
    assert ExperimentRunner(capped).negatives_key("labeled") != key
    assert ExperimentRunner(ExperimentConfig(**base, labeled_per_query=None)).negatives_key("labeled") == key


def _finished_llm_arm(runner: Any, arm: str, kept: list[Any]) -> list[Any]:
    """An LLM arm as a finished run leaves it: triples for some queries only (``kept``), and its marker."""
    from synthneg.data.triples import Triple, write_triples
    from synthneg.experiment.stages import write_json

    triples = [Triple(r.query_id, r.query, r.positive_id, r.positive, f"not {r.query}", arm) for r in kept]
    write_triples(triples, runner.layout.triples(arm))
    write_json(runner.layout.marker(f"negatives-{arm}"), {"key": runner.negatives_key(arm)})
    return triples


@pytest.mark.parametrize(
    ("control", "target"), [("bm25-matched", "llm-query-positive"), ("bm25-matched-verified", "llm-query-verified")]
)
def test_bm25_matched_control_trains_on_the_matched_arms_queries_only(
    tmp_path: Path, control: str, target: str
) -> None:
    """A BM25 control: BM25 negatives for exactly the queries the matched arm kept; keyed by its triples."""
    from synthneg.data.triples import QueryRecord, Triple, read_triples, write_triples
    from synthneg.experiment.arms import matched_records
    from synthneg.experiment.runner import ExperimentRunner
    from synthneg.experiment.stages import write_json
    from synthneg.experiment.status import run_status
    from synthneg.mine.bm25 import mine_bm25

    cfg_path = _setup(tmp_path, ["zero-shot", "bm25", target, control], [0])
    cfg = load_config(cfg_path)
    runner = ExperimentRunner(cfg, show_progress=False)
    states = {s.stage: s for s in run_status(runner).stages}
    assert states[f"negatives:{control}"].detail == f"after negatives:{target}"
    records = runner.queries()
    kept = [r for r in records if r.query_id in {"q0", "q2", "q4"}]
    llm = _finished_llm_arm(runner, target, kept)
    out = run_experiment(cfg, show_progress=False, only_arms=["zero-shot", target, control])
    matched = read_triples(out / "triples" / f"{control}.jsonl")
    assert [t.query_id for t in matched] == ["q0", "q2", "q4"]
    assert all(t.method == control and t.provenance["matched_to"] == target for t in matched)
    same = mine_bm25(kept, runner.passages, show_progress=False)  # the same negatives BM25 gives those queries
    assert [t.negative_id for t in matched] == [t.negative_id for t in same]
    assert all(t.negative_id not in (None, t.positive_id) for t in matched)
    stages = json.loads((out / "stages.json").read_text())
    assert f"negatives:{target}" not in stages  # reused, no LLM loaded
    assert stages[f"negatives:{control}"]["matched"] == {"arm": target, "queries": 3, "of": 6}
    assert stages[f"train:{control}:seed0"]["rows"] == 3
    results = json.loads((out / "results.json").read_text())
    assert control in results["arms"] and results["costs"][control]["reads_corpus"] is True
    report = (out / "report.md").read_text()
    assert f"Control `{control}`" in report and f"## `{target}` against its control `{control}`" in report
    paired = results["controls"][control]["tinyeval"]  # the matched arm against its control, paired per query
    per_query = {
        arm: json.loads((out / "eval" / arm / "seed0" / "tinyeval.json").read_text())["per_query"]
        for arm in (target, control)
    }
    diffs = [per_query[target][q]["nDCG@10"] - per_query[control][q]["nDCG@10"] for q in per_query[control]]
    assert paired["arm"] == target and paired["n"] == len(diffs)
    assert (results["matched_control"].get("tinyeval") == paired) == (control == "bm25-matched")  # the old key
    assert paired["diff"] == pytest.approx(sum(diffs) / len(diffs)) and 0 <= paired["p_value"] <= 1
    # new triples in the matched arm: the control is remade for its new queries
    write_triples(llm[:2], tmp_path / "out" / "triples" / f"{target}.jsonl")
    write_json(tmp_path / "out" / "markers" / f"negatives-{target}.json", {"key": runner.negatives_key(target)})
    run_experiment(cfg, show_progress=False, only_arms=[control], report=False)
    assert [t.query_id for t in read_triples(out / "triples" / f"{control}.jsonl")] == ["q0", "q2"]
    # triples for queries the query file lacks are an error, not a silent shrink
    with pytest.raises(DataError, match="not in the query file"):
        matched_records(records, [*llm, Triple("q99", "x", "p1", "y", "z", target)])
    assert matched_records([QueryRecord("q0", "a", "p1", "b")], []) == []
    # the control without its matched arm is a config error that names the file and both arms
    bad = tmp_path / "bad.yaml"
    bad.write_text(cfg_path.read_text().replace(f", {target}", ""), encoding="utf-8")
    with pytest.raises(DataError, match=f"'{control}' control needs the arm it matches \\('{target}'\\)"):
        load_config(bad)


def test_verified_mixed_arm_trains_the_kept_negatives_and_every_other_query_in_batch(tmp_path: Path) -> None:
    """llm-query-verified-mixed: the verified arm's triples where it kept one, the other queries as pairs; one
    fine-tune on both (a batch from one kind at a time), keyed by the verified triples."""
    from synthneg.data.triples import QueryRecord, Triple, read_training_rows, write_triples
    from synthneg.experiment.report import costs
    from synthneg.experiment.runner import ExperimentRunner
    from synthneg.experiment.stages import write_json
    from synthneg.experiment.status import run_status

    target, arm = "llm-query-verified", "llm-query-verified-mixed"
    cfg = load_config(_setup(tmp_path, ["zero-shot", target, arm], [0]))
    runner = ExperimentRunner(cfg, show_progress=False)
    assert runner.negatives_key(arm) is None  # nothing to key on before the verified triples exist
    states = {s.stage: s for s in run_status(runner).stages}
    assert states[f"negatives:{arm}"].detail == f"after negatives:{target}"
    records = runner.queries()
    verified = _finished_llm_arm(runner, target, [r for r in records if r.query_id in {"q0", "q2", "q4"}])
    out = run_experiment(cfg, show_progress=False, only_arms=["zero-shot", arm])
    rows = read_training_rows(out / "triples" / f"{arm}.jsonl")
    triples = [r for r in rows if isinstance(r, Triple)]
    pairs = [r for r in rows if isinstance(r, QueryRecord)]
    assert [t.query_id for t in triples] == ["q0", "q2", "q4"] and [t.negative for t in triples] == [
        t.negative for t in verified
    ]
    assert all(t.method == arm and t.provenance["from_arm"] == target for t in triples)
    assert {r.query_id for r in pairs} == {r.query_id for r in records} - {"q0", "q2", "q4"}
    stages = json.loads((out / "stages.json").read_text())
    assert f"negatives:{target}" not in stages  # reused
    assert (stages[f"negatives:{arm}"]["triples"], stages[f"negatives:{arm}"]["pairs"]) == (3, len(records) - 3)
    assert stages[f"train:{arm}:seed0"]["rows"] == len(records)  # every query trains
    summary = json.loads((out / "models" / arm / "seed0" / "train_summary.json").read_text())
    assert summary["datasets"] == {"triples": 3, "pairs": len(records) - 3}
    assert summary["columns"] == ["anchor", "positive", "negative"]
    results = json.loads((out / "results.json").read_text())
    assert arm in results["arms"] and results["costs"][arm]["reads_corpus"] is False
    # the verified negatives' LLM calls are the mixed arm's cost too
    verified_calls = {"calls": 4, "cached_calls": 1, "prompt_tokens": 40, "completion_tokens": 20}
    logged = {"negatives:" + target: {"ledger": verified_calls, "wall_s": 9.0, "cpu_s": 8.0}, **stages}
    mixed_cost = costs(logged, cfg)[arm]
    assert mixed_cost["llm_calls"] == 5 and mixed_cost["llm_tokens"] == 60
    assert mixed_cost["data_cpu_s"] == pytest.approx(8.0 + stages[f"negatives:{arm}"]["cpu_s"], abs=0.1)
    assert results["diagnostics"][arm]["triples"] == 3  # the pairs are not diagnosed as negatives
    # other verified triples: the mixed arm is remade for them
    key = runner.negatives_key(arm)
    write_triples(verified[:1], tmp_path / "out" / "triples" / f"{target}.jsonl")
    write_json(tmp_path / "out" / "markers" / f"negatives-{target}.json", {"key": runner.negatives_key(target)})
    assert runner.negatives_key(arm) != key
    runner.negatives(arm, records)
    rows = read_training_rows(out / "triples" / f"{arm}.jsonl")
    assert sum(isinstance(r, Triple) for r in rows) == 1 and len(rows) == len(records)
    # the mixed arm without the verified arm among the config's arms is a config error naming both
    bad = tmp_path / "bad.yaml"
    bad.write_text((tmp_path / "exp.yaml").read_text().replace(f"{target}, ", ""), encoding="utf-8")
    with pytest.raises(DataError, match=f"'{arm}' arm trains on the negatives of '{target}'"):
        load_config(bad)


def test_labeled_mask_judged_keys_only_the_labeled_models(tmp_path: Path) -> None:
    """The option changes the labeled arm's training key and nothing else, and the report says it is on."""
    from synthneg.experiment.config import ExperimentConfig
    from synthneg.experiment.report import render_markdown, summarize
    from synthneg.experiment.runner import ExperimentRunner
    from synthneg.experiment.stages import file_digest

    base = {"passages": {"beir": "scifact", "sample": 5}, "arms": ["zero-shot", "labeled", "bm25"]}
    plain, masked = (
        ExperimentRunner(ExperimentConfig(**base)),
        ExperimentRunner(ExperimentConfig(**base, labeled_mask_judged=True)),
    )
    data = tmp_path / "t.jsonl"
    data.write_text("{}\n", encoding="utf-8")
    digest = file_digest(data)
    assert masked.train_key("labeled", digest, 0) != plain.train_key("labeled", digest, 0)
    assert masked.train_key("bm25", digest, 0) == plain.train_key("bm25", digest, 0)
    assert masked.negatives_key("labeled") == plain.negatives_key("labeled")
    config = ExperimentConfig(**base, labeled_mask_judged=True, output_dir=tmp_path)
    assert "masked out of its loss" in render_markdown(summarize(tmp_path, config), config, None)


def test_capped_labeled_arm_never_takes_another_judged_document_as_negative(tmp_path: Path) -> None:
    """labeled_per_query: 1 keeps one of q1's two judged documents; the other is not its negative."""
    from synthneg.experiment.runner import ExperimentRunner

    folder = make_beir(tmp_path / "lab", split="train")
    cfg = tmp_path / "cap.yaml"
    base = f"name: cap\noutput_dir: out\npassages:\n  beir: {folder}\narms: [labeled]\n"
    cfg.write_text(base + "labeled_per_query: 1\n", encoding="utf-8")
    runner = ExperimentRunner(load_config(cfg), show_progress=False)
    triples = runner.labeled_triples()
    judged = {"q1": {"d1", "d2"}, "q2": {"d3"}, "q3": {"d5"}}
    assert triples and all(t.negative_id not in judged[t.query_id] for t in triples)
    assert "q1" not in {t.query_id for t in triples}  # its BM25 hits are its two judged documents only
    # what the cap did before: only the kept positive excluded, so q1's other judged document was its negative
    from synthneg.data.beir import load_beir
    from synthneg.mine.bm25 import mine_bm25
    from synthneg.mine.common import records_from_beir

    ds = load_beir(folder, "train")
    q1 = [r for r in records_from_beir(ds.corpus, ds.queries, ds.qrels) if r.query_id == "q1"][:1]
    assert mine_bm25(q1, ds.corpus)[0].negative_id in judged["q1"]
    # uncapped, both of q1's documents are positives, so neither is a negative either; the key stays apart
    cfg.write_text(base, encoding="utf-8")
    uncapped_runner = ExperimentRunner(load_config(cfg), show_progress=False)
    assert all(t.negative_id not in judged[t.query_id] for t in uncapped_runner.labeled_triples())
    assert uncapped_runner.negatives_key("labeled") != runner.negatives_key("labeled")


def test_labeled_positive_bm25_top_keeps_the_judged_documents_bm25_scores_highest(tmp_path: Path) -> None:
    """labeled_positive: bm25-top keeps, per query, the judged documents sharing most of its words."""
    from pydantic import ValidationError

    from synthneg.data.beir import load_beir
    from synthneg.data.triples import QueryRecord
    from synthneg.experiment.config import ExperimentConfig
    from synthneg.experiment.labeled import top_bm25_per_query
    from synthneg.experiment.runner import ExperimentRunner
    from synthneg.search.bm25 import BM25Index

    folder = make_beir(tmp_path / "lab", split="train")
    ds = load_beir(folder, "train")
    index = BM25Index(ds.corpus)
    q = "how do plants make glucose from sunlight"
    scores = index.score_positions(q, [ds.corpus.position(d) for d in ("d1", "d2", "d6")])
    assert scores[0] > scores[1] > scores[2] == 0  # d1 shares the most words with q, d6 none
    recs = [QueryRecord("q1", q, d, "") for d in ("gone", "d2", "d1", "d6")]  # "gone": not in the corpus
    recs.append(QueryRecord("q3", "which bread uses wild yeast", "d5", ""))
    kept = {n: [r.positive_id for r in top_bm25_per_query(recs, n, index)] for n in (1, 2, 3)}
    assert kept == {1: ["d1", "d5"], 2: ["d2", "d1", "d5"], 3: ["d2", "d1", "d6", "d5"]}  # input order kept

    base = {"passages": {"beir": str(folder)}, "arms": ["labeled"], "labeled_per_query": 1}
    top = ExperimentRunner(ExperimentConfig(**base, labeled_positive="bm25-top"), show_progress=False)
    assert top.negatives_key("labeled") != ExperimentRunner(ExperimentConfig(**base)).negatives_key("labeled")
    triples = top.labeled_triples()
    assert {t.query_id: t.positive_id for t in triples} == {"q3": "d5"}  # q1 and q2: every BM25 hit is judged
    from synthneg.experiment.report import render_markdown, summarize

    header = render_markdown(summarize(tmp_path, top.config), top.config, None)
    assert "BM25 scores highest for it" in header and "seeded choice" not in header
    with pytest.raises(ValidationError, match="needs labeled_per_query"):
        ExperimentConfig(**{**base, "labeled_per_query": None}, labeled_positive="bm25-top")


def test_share_of_labeled_gain_only_when_the_ceiling_gains(tmp_path: Path) -> None:
    """(arm - zero-shot) / (labeled - zero-shot), and no share at all when labeled does not beat zero-shot."""
    from synthneg.experiment.config import ExperimentConfig
    from synthneg.experiment.report import summarize

    config = ExperimentConfig.model_validate(
        {
            "passages": {"beir": "tinyeval"},
            "arms": ["zero-shot", "labeled", "bm25"],
            "seeds": [0],
            "eval": {"datasets": ["tinyeval"]},
            "significance_resamples": 100,
        }
    )

    def write(label: str, scores: list[float]) -> None:
        per_query = {f"q{i}": {"nDCG@10": s, "P@10": s, "R@100": s} for i, s in enumerate(scores)}
        mean = sum(scores) / len(scores)
        path = tmp_path / "eval" / label / "tinyeval.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        metrics = {"nDCG@10": mean, "P@10": mean, "R@100": mean}
        path.write_text(json.dumps({"metrics": metrics, "per_query": per_query}), encoding="utf-8")

    write("zero-shot", [0.4, 0.6])
    write("bm25/seed0", [0.5, 0.6])  # +0.05
    write("labeled/seed0", [0.6, 0.6])  # +0.10
    assert summarize(tmp_path, config)["share_of_labeled_gain"]["bm25"]["tinyeval"] == pytest.approx(0.5)
    write("labeled/seed0", [0.3, 0.6])  # -0.05: a ceiling that loses
    assert summarize(tmp_path, config)["share_of_labeled_gain"]["bm25"]["tinyeval"] is None


def test_report_keeps_each_arms_diagnostics_until_its_data_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Triples are git-ignored: a run that rebuilds only some arms (a fresh clone, --arm) must not drop the
    other arms' diagnostics from the committed report, nor encode them again. Encoding them is said (minutes on
    a CPU for thousands of triples, after the last evaluation)."""
    import logging

    from synthneg.experiment import write_report
    from synthneg.search import dense

    cfg = load_config(_setup(tmp_path, ["zero-shot", "bm25", "random"], [0]))
    caplog.set_level(logging.INFO, logger="synthneg.experiment.report_diagnostics")
    out = run_experiment(cfg, show_progress=False)
    said = [r.getMessage() for r in caplog.records if r.name == "synthneg.experiment.report_diagnostics"]
    assert [m.split(" (")[0] for m in said if "encoding" in m] == [
        "diagnostics of bm25: encoding its 6 triples with the base model",
        "diagnostics of random: encoding its 6 triples with the base model",
    ]
    caplog.clear()
    diag = (out / "report.md").read_text().split("## Diagnostics of each arm's negatives")[1]
    assert "| bm25 | 6 |" in diag and "| random | 6 |" in diag and "**random** · query" in diag
    assert sorted(p.name for p in (out / "diagnostics").iterdir()) == ["bm25.json", "random.json"]
    machine = json.loads((out / "results.json").read_text())["diagnostics"]  # the same figures, machine-readable
    assert sorted(machine) == ["bm25", "random"] and machine["bm25"]["triples"] == 6
    assert all(0.0 <= m["closer_than_positive"] <= 1.0 and "near_miss" not in m for m in machine.values())

    (out / "triples" / "random.jsonl").unlink()  # as on a fresh clone: its marker still records the data

    def no_encoder(*args: object, **kwargs: object) -> None:
        raise AssertionError("the kept diagnostics were computed again")

    monkeypatch.setattr(dense, "DenseEncoder", no_encoder)
    write_report(out, cfg)
    assert not [r for r in caplog.records if r.name == "synthneg.experiment.report_diagnostics"]  # nothing encoded
    assert (out / "report.md").read_text().split("## Diagnostics of each arm's negatives")[1] == diag
    assert json.loads((out / "results.json").read_text())["diagnostics"] == machine  # kept, not recomputed

    # other data for bm25: its row is made again (the encoder is needed), random's is kept
    bm25 = out / "triples" / "bm25.jsonl"
    bm25.write_text("".join(bm25.read_text().splitlines(keepends=True)[:5]))
    with pytest.raises(AssertionError, match="computed again"):
        write_report(out, cfg)
    monkeypatch.undo()
    write_report(out, cfg)
    again = (out / "report.md").read_text().split("## Diagnostics of each arm's negatives")[1]
    assert "| bm25 | 5 |" in again and "| random | 6 |" in again


def test_negatives_llm_writes_only_the_llm_arms_negatives(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`negatives_llm` keys only the LLM arms apart, its model replaces the queries' one in memory, and the
    report's header names both models."""
    import synthneg.llm.factory
    from synthneg.experiment.config import ExperimentConfig
    from synthneg.experiment.report import render_markdown, summarize
    from synthneg.experiment.runner import ExperimentRunner

    base = {"passages": {"beir": "scifact", "sample": 5}, "arms": ["zero-shot", "llm-query", "bm25"]}
    plain = ExperimentRunner(ExperimentConfig(**base))
    same = ExperimentRunner(ExperimentConfig(**base, negatives_llm={}))  # the defaults: the same LLM
    big = ExperimentRunner(ExperimentConfig(**base, negatives_llm={"model": "qwen2.5-coder-1.5b"}))
    for runner in (plain, same, big):  # the query file the keys are made for
        monkeypatch.setattr(runner, "data_digest", lambda arm: "q" if arm == "in-batch" else None)
    assert same.negatives_key("llm-query") == plain.negatives_key("llm-query")
    assert big.negatives_key("llm-query") != plain.negatives_key("llm-query")
    assert big.negatives_key("llm-query-positive") != plain.negatives_key("llm-query-positive")
    assert big.negatives_key("bm25") == plain.negatives_key("bm25")
    assert big.queries_key() == plain.queries_key()

    class Fake:
        def __init__(self, model: str) -> None:
            self.model, self.closed = model, False

        def close(self) -> None:
            self.closed = True

    monkeypatch.setattr(synthneg.llm.factory, "make_generator", lambda backend, model, **_: Fake(model))
    queries_model = big.generator
    assert queries_model.model == "qwen2.5-coder-0.5b"
    negatives_model = big.negatives_generator
    assert negatives_model.model == "qwen2.5-coder-1.5b" and queries_model.closed  # one model at a time
    assert big.negatives_generator is negatives_model
    assert plain.negatives_generator is plain.generator
    big.close()
    assert negatives_model.closed
    config = big.config.model_copy(update={"output_dir": tmp_path})
    header = render_markdown(summarize(tmp_path, config), config, None)
    assert "LLM `qwen2.5-coder-0.5b` (llamacpp) for the queries, `qwen2.5-coder-1.5b` (llamacpp) for the LLM" in header


def test_an_arm_is_one_registry_entry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A new arm is one ArmSpec plus its data function: the config accepts it, the runner keys and builds its
    triples, --status lists its stages, and it trains and is evaluated like the built-in arms."""
    from synthneg.data.triples import Triple
    from synthneg.experiment import arms
    from synthneg.experiment.runner import ExperimentRunner
    from synthneg.experiment.status import run_status

    def next_passage(runner, arm, records, info):  # the next query's positive as the negative
        info["made_by"] = arm
        return [
            Triple(
                r.query_id, r.query, r.positive_id, r.positive, nxt.positive, negative_id=nxt.positive_id, method=arm
            )
            for r, nxt in zip(records, records[1:] + records[:1], strict=True)
        ]

    spec = arms.ArmSpec(
        "next-passage", "next passage", "the next query's positive", reads_corpus=True, make=next_passage
    )
    monkeypatch.setitem(arms.ARMS, spec.name, spec)
    cfg = load_config(_setup(tmp_path, ["zero-shot", "next-passage"], [0]))
    runner = ExperimentRunner(cfg, show_progress=False)
    assert [s.stage for s in run_status(runner).stages] == [
        "eval:zero-shot",
        "queries",
        "negatives:next-passage",
        "train+eval:next-passage/seed0",
    ]
    out = run_experiment(cfg, show_progress=False)
    rows = [json.loads(line) for line in (out / "triples" / "next-passage.jsonl").read_text().splitlines()]
    assert len(rows) == len(QUERIES) and rows[0]["negative_id"] == "p2" and rows[0]["method"] == "next-passage"
    log = json.loads((out / "stages.json").read_text())
    assert log["negatives:next-passage"]["made_by"] == "next-passage" and log["negatives:next-passage"]["reads_corpus"]
    summary = json.loads((out / "results.json").read_text())
    assert "next-passage" in summary["arms"]
    assert all(s.done for s in run_status(ExperimentRunner(cfg, show_progress=False)).stages)
    (tmp_path / "bad").mkdir()
    with pytest.raises(DataError, match="unknown arm 'nope'; the arms are: zero-shot"):
        load_config(_setup(tmp_path / "bad", ["zero-shot", "nope"], [0]))


def test_title_arm_is_the_free_baseline(tmp_path: Path) -> None:
    """The `title` arm: each passage's title (4+ words) as its query, the text without the title as the positive,
    a BM25 negative, no LLM; short titles are skipped and counted."""
    from synthneg.data.beir import Document
    from synthneg.generate.title_queries import title_records

    records, skipped = title_records(
        [Document("a", "Heat flow in thin films", "Phonons scatter at film edges."), Document("b", "Results", "x")]
    )
    assert skipped == 1 and [(r.query_id, r.query, r.positive) for r in records] == [
        ("title-a", "Heat flow in thin films", "Phonons scatter at film edges.")
    ]
    cfg_path = _setup(tmp_path, ["zero-shot", "in-batch", "title", "in-batch-title"], [0])
    long_titles = [{**p, "title": f"How {p['title'].lower()} work in nature"} for p in PASSAGES[:6]] + PASSAGES[6:]
    write_jsonl(tmp_path / "passages.jsonl", long_titles)
    out = run_experiment(load_config(cfg_path), show_progress=False)
    rows = [json.loads(line) for line in (out / "triples" / "title.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and all(r["method"] == "title" and r["negative_id"] != r["positive_id"] for r in rows)
    assert rows[0]["query"] == "How photosynthesis work in nature" and "Photosynthesis" not in rows[0]["positive"]
    # negatives are shown as positives are, without their titles (else a title would mark every negative)
    by_id = {p["id"]: p for p in long_titles}
    assert all(r["negative"] == by_id[r["negative_id"]]["text"] for r in rows)
    log = json.loads((out / "stages.json").read_text())
    assert log["negatives:title"]["title_queries"] == {"kept": 6, "skipped_without_title": 6}
    summary = json.loads((out / "results.json").read_text())
    assert {"title", "in-batch-title"} <= set(summary["arms"])
    # in-batch-title: the run's queries, then the six titles as more queries, pairs only (no negative)
    queries = [json.loads(line) for line in (out / "generation" / "queries.jsonl").read_text().splitlines()]
    mixed = [json.loads(line) for line in (out / "triples" / "in-batch-title.jsonl").read_text().splitlines()]
    assert [r["query_id"] for r in mixed] == [q["query_id"] for q in queries] + [r["query_id"] for r in rows]
    assert all(not r.get("negative") for r in mixed) and mixed[-6]["query"] == "How photosynthesis work in nature"
    assert log["negatives:in-batch-title"]["title_queries"] == {"kept": 6, "skipped_without_title": 6}
    assert (
        log["negatives:in-batch-title"]["pairs"] == len(mixed) and not log["negatives:in-batch-title"]["reads_corpus"]
    )
    assert len(summary["title_gain"]) == 1  # its paired test against in-batch, on the one dataset
    assert "The titles' gain" in (out / "report.md").read_text()


def test_dense_arm_mines_the_base_encoders_hardest_passage_below_the_positive(tmp_path: Path) -> None:
    """The `dense` arm: the base model's top passage for each query, skipping the positive and any candidate
    scoring above 95% of it (TopK-PercPos); keyed by its margin, which the `ce` arm's key ignores."""
    from synthneg.experiment.runner import ExperimentRunner

    cfg_path = _setup(tmp_path, ["zero-shot", "dense"], [0])
    out = run_experiment(load_config(cfg_path), show_progress=False)
    rows = [json.loads(line) for line in (out / "triples" / "dense.jsonl").read_text().splitlines()]
    assert rows and all(r["method"] == "dense" and r["negative_id"] != r["positive_id"] for r in rows)
    assert all(r["scores"]["negative"] <= 0.95 * r["scores"]["positive"] + 1e-6 for r in rows)
    assert all(r["provenance"]["parameters"]["relative_margin"] == 0.05 for r in rows)
    log = json.loads((out / "stages.json").read_text())
    assert log["negatives:dense"]["dense"]["triples"] == len(rows)
    assert "dense" in json.loads((out / "results.json").read_text())["arms"]

    default = ExperimentRunner(load_config(cfg_path))
    keys = default.negatives_key("dense"), default.negatives_key("ce")
    tighter = ExperimentRunner(
        load_config(_setup(tmp_path, ["dense", "ce"], [0], "mining:\n  dense_relative_margin: 0.1\n"))
    )
    assert None not in keys and tighter.negatives_key("dense") != keys[0] and tighter.negatives_key("ce") == keys[1]


def test_mining_pool_collection_mines_beyond_the_sampled_passages_and_keys_apart(tmp_path: Path) -> None:
    """`mining.pool: collection`: the mining arms find negatives in the whole collection the passages are sampled
    from (no LLM call for the rest); their keys change, the in-batch arm's does not."""
    from synthneg.experiment.runner import ExperimentRunner

    cfg_path = _setup(tmp_path, ["zero-shot", "in-batch", "bm25"], [0])
    sampled = cfg_path.read_text().replace("  path: passages.jsonl\n", "  path: passages.jsonl\n  sample: 4\n")
    cfg_path.write_text(sampled)
    pooled = tmp_path / "pooled.yaml"
    pooled.write_text(sampled.replace("output_dir: out", "output_dir: out-pooled") + "mining:\n  pool: collection\n")
    own, whole = ExperimentRunner(load_config(cfg_path)), ExperimentRunner(load_config(pooled))
    assert len(own.mining_pool) == 4 and len(whole.mining_pool) == len(PASSAGES) and len(whole.passages) == 4
    run_experiment(load_config(pooled), show_progress=False, report=False, only_arms=["bm25"])
    run_experiment(load_config(cfg_path), show_progress=False, report=False, only_arms=["bm25"])
    sample_ids = set(own.passages.ids)
    for runner, inside in ((own, True), (whole, False)):
        rows = (runner.layout.triples("bm25")).read_text().splitlines()
        negatives = {json.loads(line)["negative_id"] for line in rows}
        assert (negatives <= sample_ids) is inside, negatives
    assert own.negatives_key("bm25") != whole.negatives_key("bm25")
    assert own.negatives_key("in-batch") == whole.negatives_key("in-batch") is not None


def test_title_negatives_with_their_titles_key_as_the_runs_made_before() -> None:
    """The default title arm (negatives without titles) keys apart from `title_negatives: with-title`, the committed
    runs' behaviour, whose keys test_committed_runs checks against their markers; in-batch-title, which mines no
    negative, keeps its key either way."""
    from synthneg.experiment.config import ExperimentConfig
    from synthneg.experiment.runner import ExperimentRunner

    base = {"passages": {"beir": "scifact", "sample": 5}, "arms": ["zero-shot", "title", "in-batch-title"]}
    new, old = (ExperimentRunner(ExperimentConfig(**base, title_negatives=v)) for v in ("text", "with-title"))
    assert old.negatives_key("title") != new.negatives_key("title")
    assert ExperimentConfig(**base).title_negatives == "text"
    assert old.negatives_key("in-batch-title") == new.negatives_key("in-batch-title")


def test_llm_positives_text_shows_the_llm_arms_positives_without_their_titles(tmp_path: Path) -> None:
    """`llm_positives: text`: an arm whose negatives the LLM writes (they never open with a title) gets its positives
    as their passages' text without the title, keyed apart from the default; the mined arms keep the whole passage."""
    from synthneg.experiment.runner import ExperimentRunner
    from synthneg.llm.base import Generator
    from synthneg.llm.types import GenerationResult

    class Writer(Generator):  # a negative of 30 distinct words per request, never the query
        model_id = "writer"

        def generate(self, requests, on_result=None):  # type: ignore[no-untyped-def]
            out = []
            for i, _ in enumerate(requests):
                text = " ".join(f"w{i}x{j}" for j in range(29)) + " ends."
                out.append(GenerationResult(text, "stop", completion_tokens=30))
                if on_result is not None:
                    on_result(i, out[-1])
            return out

    runners = []
    for shown in ("text", "with-title"):
        (tmp_path / shown).mkdir()
        cfg = load_config(_setup(tmp_path / shown, ["llm-query", "bm25"], [0], extra=f"llm_positives: {shown}\n"))
        runner = ExperimentRunner(cfg)
        runner.use_generators(Writer())
        runners.append(runner)
    text, titled = runners
    records = text.queries()
    titled.queries()
    by_id = {p["id"]: p for p in PASSAGES}
    rows = [json.loads(line) for line in text.negatives("llm-query", records).read_text().splitlines()]
    assert len(rows) == len(QUERIES) and all(r["positive"] == by_id[r["positive_id"]]["text"] for r in rows)
    kept = [json.loads(line) for line in titled.negatives("llm-query", records).read_text().splitlines()]
    assert [r["positive"] for r in kept] == [
        f"{by_id[r['positive_id']]['title']} {by_id[r['positive_id']]['text']}" for r in kept
    ]
    assert text.negatives_key("llm-query") != titled.negatives_key("llm-query")
    assert text.negatives_key("bm25") == titled.negatives_key("bm25")  # BM25's negatives have titles: no change
    mined = [json.loads(line) for line in text.negatives("bm25", records).read_text().splitlines()]
    assert all(r["positive"].startswith(by_id[r["positive_id"]]["title"]) for r in mined)


def test_untitled_positives_keep_a_title_only_passage_and_name_a_missing_one() -> None:
    """A passage with a title and no text is shown as its title (never an empty positive); a positive that is not
    among the passages is an error naming the query, not a silent drop."""
    from synthneg.data.beir import Corpus, Document
    from synthneg.data.triples import QueryRecord
    from synthneg.generate.title_queries import untitled_positives

    corpus = Corpus.from_documents(
        [Document("a", "Heat flow in films", "Phonons  scatter."), Document("b", "Only", "")]
    )
    rows = [QueryRecord("q1", "heat", "a", "Heat flow in films Phonons scatter."), QueryRecord("q2", "x", "b", "Only")]
    assert [r.positive for r in untitled_positives(rows, corpus)] == ["Phonons scatter.", "Only"]
    with pytest.raises(DataError, match="'zz' of query 'q3'"):
        untitled_positives([QueryRecord("q3", "x", "zz", "gone")], corpus)


def test_near_miss_arm_is_keyed_by_its_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """`llm-near-miss` is an arm of the registry: keyed apart from `llm-query`, and by its rewrite model, K, step 2's
    LLM and the swap or neutral rewrite; the encoder's relative margin and drift bounds key the verified arm only (the defaults keep the key of
    the runs made before the options)."""
    from synthneg.experiment.config import ExperimentConfig
    from synthneg.experiment.runner import ExperimentRunner

    base = {"passages": {"beir": "scifact", "sample": 5}, "arms": ["zero-shot", "llm-query", "llm-near-miss"]}
    runners = [
        ExperimentRunner(ExperimentConfig(**base)),
        ExperimentRunner(ExperimentConfig(**base, near_miss={"rewrite_llm": {"model": "qwen2.5-coder-1.5b"}})),
        ExperimentRunner(ExperimentConfig(**base, near_miss={"candidates": 4})),
        ExperimentRunner(ExperimentConfig(**base, near_miss={"passage_llm": {"parallel": 16}})),
        ExperimentRunner(ExperimentConfig(**base, near_miss={"rewrite": "swap"})),
        ExperimentRunner(ExperimentConfig(**base, near_miss={"rewrite": "free"})),  # the default, spelt out
        ExperimentRunner(ExperimentConfig(**base, near_miss={"relative_margin": 0.05})),
        ExperimentRunner(ExperimentConfig(**base, near_miss={"relative_margin": None})),  # the default, spelt out
        ExperimentRunner(ExperimentConfig(**base, near_miss={"min_similarity": 0.35})),
        ExperimentRunner(ExperimentConfig(**base, near_miss={"min_similarity": None})),  # the default, spelt out
        ExperimentRunner(ExperimentConfig(**base, near_miss={"max_similarity": 0.9})),
        ExperimentRunner(ExperimentConfig(**base, near_miss={"max_similarity": None})),  # the default, spelt out
        ExperimentRunner(ExperimentConfig(**base, near_miss={"rewrite": "neutral"})),
    ]
    for runner in runners:
        monkeypatch.setattr(runner, "data_digest", lambda arm: "q" if arm == "in-batch" else None)
    keys = [r.negatives_key("llm-near-miss") for r in runners]
    assert len(set(keys)) == 6 and keys[0] != runners[0].negatives_key("llm-query") and keys[5] == keys[0]
    assert keys[0] == keys[6] == keys[7] == keys[8] == keys[9] == keys[10] == keys[11]  # the verified arm's only
    verified = [r.negatives_key("llm-query-verified") for r in runners]
    assert verified[6] not in verified[:6] and verified[7] == verified[0] and verified[0] not in keys
    assert verified[8] not in verified[:8] and verified[9] == verified[0]
    assert verified[10] not in verified[:10] and verified[11] == verified[0]
    assert keys[12] not in keys[:12] and verified[12] not in verified[:12]  # the neutral template: both arms
    # step 1's or step 2's own LLM leaves the other LLM arms' keys alone
    assert {r.negatives_key("llm-query") for r in runners} == {runners[0].negatives_key("llm-query")}


def test_queries_filter_in_a_run_keeps_what_the_arms_train_on(tmp_path: Path) -> None:
    """`queries.filter`: the round trip and the content-word rule run before any arm; the arms train on the kept
    queries; every query's verdict is kept; runs without a filter keep their keys."""
    from pydantic import ValidationError

    from synthneg.experiment.config import ExperimentConfig
    from synthneg.experiment.runner import ExperimentRunner

    arms = ["bm25", "in-batch", "in-batch-unfiltered"]  # with and without the filter: the filter's own gain
    cfg_path = _setup(tmp_path, arms, [0], extra="queries:\n  path: queries.jsonl\n  filter: {round_trip_k: 1}\n")
    text = cfg_path.read_text().replace("queries:\n  path: queries.jsonl\n", "", 1)
    cfg_path.write_text(text)
    texts = {p["id"]: f"{p['title']} {p['text']}" for p in PASSAGES}
    rows = [json.loads(line) for line in (tmp_path / "queries.jsonl").read_text().splitlines()]
    rows.append({"query_id": "generic", "query": "what is this about", "positive_id": "p6", "positive": texts["p6"]})
    rows.append(
        {
            "query_id": "elsewhere",
            "query": "how do honeybees use a waggle dance to show flowers",
            "positive_id": "n5",
            "positive": texts["n5"],
        }
    )
    write_jsonl(tmp_path / "queries.jsonl", rows)
    cfg = load_config(cfg_path)
    out = run_experiment(cfg, show_progress=False)
    kept = [json.loads(line)["query_id"] for line in (out / "generation" / "queries.jsonl").read_text().splitlines()]
    verdicts = {
        r["query_id"]: r["reason"]
        for r in map(json.loads, (out / "generation" / "queries.filter.jsonl").read_text().splitlines())
    }
    assert verdicts["generic"] == "no_content_word" and verdicts["elsewhere"] == "round_trip"
    # the tiny set's distractors are built to beat some positives under BM25 ("how do plants make glucose": n1
    # "Plants make oxygen; how plants store glucose ..."), so the round trip removes those queries too
    assert verdicts["q0"] == "round_trip" and verdicts["q1"] is None
    assert kept == [q for q, reason in verdicts.items() if reason is None]
    report = (out / "report.md").read_text()
    n_kept = len(kept)
    assert f"**{n_kept} of {len(QUERIES) + 2} kept**" in report and "no content word 1" in report
    assert len((out / "generation" / "queries.all.jsonl").read_text().splitlines()) == len(QUERIES) + 2
    triples = (out / "triples" / "bm25.jsonl").read_text().splitlines()
    assert {json.loads(t)["query_id"] for t in triples} <= set(kept)
    stages = json.loads((out / "stages.json").read_text())
    assert stages["train:in-batch:seed0"]["rows"] == n_kept
    assert stages["train:in-batch-unfiltered:seed0"]["rows"] == len(QUERIES) + 2  # every query, before the filter
    assert set(json.loads((out / "results.json").read_text())["arms"]) == set(arms)
    with pytest.raises(ValidationError, match="set a filter"):
        ExperimentConfig(passages={"beir": "scifact"}, arms=["in-batch-unfiltered"])
    unfiltered = (
        load_config(_setup(tmp_path / "plain", ["bm25"], [0])) if (tmp_path / "plain").mkdir() is None else None
    )
    assert ExperimentRunner(unfiltered).queries_key() != ExperimentRunner(cfg).queries_key()


def test_learning_curve_runs_each_point_once_with_its_own_references(tmp_path: Path) -> None:
    """`synthneg curve`: one cached run per passage count (the title arm at 6 and 12 passages), zero-shot at every
    point (each point's gains are over its own zero-shot), curve.md with every point and the gains, curve.png;
    a rerun redoes nothing."""
    from typer.testing import CliRunner

    from synthneg.cli import app

    cfg_path = _setup(tmp_path, ["zero-shot", "title"], [0])
    long_titles = [{**p, "title": f"How {p['title'].lower()} work in nature"} for p in PASSAGES]
    write_jsonl(tmp_path / "passages.jsonl", long_titles)
    out = tmp_path / "out"
    bad = CliRunner().invoke(app, ["curve", str(cfg_path), "--sizes", "6", "--arm", "bm25"])
    assert "'bm25' is not an arm of the config" in str(bad.exception)  # the entry point prints it, exit code 2
    (tmp_path / "refs").mkdir()
    only_refs = _setup(tmp_path / "refs", ["zero-shot"], [0])
    refused = CliRunner().invoke(app, ["curve", str(only_refs), "--sizes", "6"])
    assert "no arm that depends on the number of passages" in str(refused.exception)
    # a subset now: zero-shot at both points, the title arm not yet
    part = CliRunner().invoke(app, ["curve", str(cfg_path), "--sizes", "12", "--sizes", "6", "--arm", "zero-shot"])
    assert part.exit_code == 0, part.output
    for n in (6, 12):
        assert [k.split(":")[1] for k in json.loads((out / f"n{n}" / "stages.json").read_text())] == ["zero-shot"]
    assert "pending" in (out / "curve.md").read_text()  # the title arm is not run yet
    # --status: each started point's stages (the title arm pending at both), nothing run; `experiment --status` on
    # the curve's config points there
    before = {n: (out / f"n{n}" / "stages.json").read_bytes() for n in (6, 12)}
    st = CliRunner().invoke(app, ["curve", str(cfg_path), "--status"], env={"COLUMNS": "200"})
    assert st.exit_code == 0, st.output
    assert [line.split(":")[0].strip() for line in st.output.splitlines() if "stages done" in line] == [
        "tiny (6 passages)",
        "tiny (12 passages)",
    ]
    assert st.output.count("negatives:title") == 2 and st.output.count("pending") == 4
    assert {n: (out / f"n{n}" / "stages.json").read_bytes() for n in (6, 12)} == before
    hint = CliRunner().invoke(app, ["experiment", str(cfg_path), "--status"], env={"COLUMNS": "300"})
    assert hint.exit_code == 0 and "holds the points of a learning curve (n6, n12)" in hint.output, hint.output
    assert "name the curve's points" in str(CliRunner().invoke(app, ["curve", str(cfg_path)]).exception)
    res = CliRunner().invoke(app, ["curve", str(cfg_path), "--sizes", "12", "--sizes", "6", "--no-progress"])
    assert res.exit_code == 0, res.output
    first, second = (json.loads((out / f"n{n}" / "results.json").read_text()) for n in (6, 12))
    assert set(first["arms"]) == set(second["arms"]) == {"zero-shot", "title"}
    rows = {json.loads(line)["query_id"] for line in (out / "n6" / "triples" / "title.jsonl").read_text().splitlines()}
    assert len(rows) == 6 and len((out / "n12" / "triples" / "title.jsonl").read_text().splitlines()) == 12
    md = (out / "curve.md").read_text()
    assert "| arm | 6 | 12 |" in md and "pending" not in md
    ds = next(iter(second["arms"]["title"]))
    gain = second["arms"]["title"][ds]["nDCG@10"]["mean"] - second["arms"]["zero-shot"][ds]["nDCG@10"]["mean"]
    assert "Gain over each point's zero-shot" in md and f"{gain:+.4f}" in md
    assert (out / "curve.png").stat().st_size > 10_000
    stages = (out / "n12" / "stages.json").read_bytes()
    again = CliRunner().invoke(app, ["curve", str(cfg_path), "--sizes", "6", "--sizes", "12", "--no-progress"])
    assert again.exit_code == 0 and (out / "n12" / "stages.json").read_bytes() == stages  # nothing redone


def test_curve_tables_mark_unfinished_seeds_and_give_no_share_of_a_labeled_loss(tmp_path: Path) -> None:
    """curve.md from the points' results.json: an arm with 2 of 3 seeds says so; where the labeled arm does not
    beat zero-shot the share is '-'; the machines line counts evaluations that recorded none."""

    from synthneg.experiment.config import ExperimentConfig
    from synthneg.experiment.curve import write_curve
    from synthneg.experiment.stages import write_json

    cfg = ExperimentConfig(
        passages={"beir": "scifact"},
        arms=["zero-shot", "labeled", "title"],
        seeds=[0, 1, 2],
        output_dir=tmp_path,
        eval={"datasets": ["scifact"]},
    )

    def entry(mean: float, seeds: int) -> dict[str, Any]:
        return {"seeds": seeds, "nDCG@10": {"mean": mean, "sd": 0.001}}

    for n, zero, labeled, title, seeds in ((10, 0.60, 0.62, 0.61, 3), (20, 0.60, 0.59, 0.63, 2)):
        arms = {"zero-shot": entry(zero, 1), "labeled": entry(labeled, 3), "title": entry(title, seeds)}
        write_json(
            tmp_path / f"n{n}" / "results.json",
            {"metric": "nDCG@10", "arms": {a: {"scifact": e} for a, e in arms.items()}},
        )
    timing = {"encoder": "torch", "cpu": "CPU X (amx)"}
    write_json(tmp_path / "n10" / "eval" / "zero-shot" / "scifact.json", {"timing": timing})
    write_json(tmp_path / "n10" / "eval" / "title" / "seed0" / "scifact.json", {"timing": {"encoder": "torch"}})
    md = write_curve(cfg, [20, 10]).read_text(encoding="utf-8")
    assert "| 0.6300 ± 0.0010 (2/3 seeds) |" in md and "0.6100 ± 0.0010 |" in md
    title_gain = next(line for line in md.splitlines() if line.startswith("| free baseline") and "+0.0100" in line)
    assert "+0.0100 (50%)" in title_gain and "+0.0300 (-)" in title_gain  # 0.01 of 0.02; labeled lost at 20
    assert "Machines: 10 passages evaluated on CPU X (amx) (1 not recorded)." in md


def test_migrate_arm_moves_evaluations_to_the_rebuilt_digest_and_refuses_changed_data(tmp_path: Path) -> None:
    """scripts/migrate_arm_digest.py: a run whose triples were written elsewhere (same training data, other bytes:
    the marker and the evaluation keyed by another digest) is re-keyed after the rebuild is checked against the
    recorded diagnostics; a rebuild whose text-only diagnostics differ is refused and nothing changes."""
    import subprocess

    from synthneg.experiment.migrate import migrate_arm
    from synthneg.experiment.runner import ExperimentRunner

    cfg = load_config(_setup(tmp_path, ["bm25"], [0]))
    out = run_experiment(cfg, show_progress=False)
    runner = ExperimentRunner(cfg, show_progress=False)
    marker, diag = out / "markers" / "negatives-bm25.json", out / "diagnostics" / "bm25.json"
    done = next((out / "eval" / "bm25" / "seed0").glob("*.done.json"))
    real, dataset = json.loads(marker.read_text())["output"], cfg.eval.datasets[0]
    elsewhere = "0" * 16
    marker.write_text(json.dumps({**json.loads(marker.read_text()), "output": elsewhere}))
    done.write_text(json.dumps({"key": runner.eval_key(runner.train_key("bm25", elsewhere, 0), dataset)}))
    recorded = json.loads(diag.read_text())
    recorded["metrics"]["query_terms_in_negative"] += 0.01  # as if another negative had been chosen
    diag.write_text(json.dumps({**recorded, "digest": elsewhere}))
    (tmp_path / ".gitignore").write_text("models/\ntriples/\ngeneration/*.jsonl\n")  # as the repo's runs
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "-A"], cwd=tmp_path, check=True)
    before = done.read_bytes()
    with pytest.raises(SynthnegError, match="query_terms_in_negative"):
        migrate_arm(cfg, "bm25")
    assert done.read_bytes() == before and json.loads(marker.read_text())["output"] == elsewhere
    recorded["metrics"]["query_terms_in_negative"] -= 0.01
    diag.write_text(json.dumps({**recorded, "digest": elsewhere}))
    subprocess.run(["git", "add", "-A"], cwd=tmp_path, check=True)
    m = migrate_arm(cfg, "bm25")
    assert (m.old, m.new) == (elsewhere, real) and "eval:bm25/seed0:tinyeval" in m.rekeyed
    assert runner.evaluated("bm25/seed0", runner.train_key("bm25", real, 0))
    assert json.loads(diag.read_text())["digest"] == real and json.loads(marker.read_text())["output"] == real
    trained = json.loads((out / "stages.json").read_text())["train:bm25:seed0"]
    run_experiment(cfg, show_progress=False)  # finds the evaluation: nothing is trained again
    assert json.loads((out / "stages.json").read_text())["train:bm25:seed0"] == trained
    assert migrate_arm(cfg, "bm25").rekeyed == ()  # already current


def test_migrate_arm_rekeys_the_control_built_on_it_when_its_data_is_unchanged(tmp_path: Path) -> None:
    """An arm's BM25 control holds the arm's digest in its key: a migration that moved only the arm left the
    control keyed by the old digest (pending in --status, its fine-tunes redone by the next run). migrate_arm
    re-keys the control where its rebuilt data has the recorded bytes, and refuses where they differ."""
    import subprocess

    from synthneg.experiment.migrate import migrate_arm
    from synthneg.experiment.runner import ExperimentRunner
    from synthneg.experiment.stages import write_marker
    from synthneg.experiment.status import run_status

    target, control = "llm-query-positive", "bm25-matched"
    cfg = load_config(_setup(tmp_path, [target, control], [0]))
    runner = ExperimentRunner(cfg, show_progress=False)
    kept = [r for r in runner.queries() if r.query_id in {"q0", "q2", "q4"}]
    _finished_llm_arm(runner, target, kept)
    write_marker(
        runner.layout.marker(f"negatives-{target}"), runner.negatives_key(target), runner.layout.triples(target)
    )
    out = run_experiment(cfg, show_progress=False)
    marker, log = out / "markers" / f"negatives-{control}.json", out / "stages.json"
    good = json.loads(marker.read_text())
    trained = json.loads(log.read_text())[f"train:{control}:seed0"]
    stale = {**good, "key": "0123456789"}  # keyed by a digest of the target's data that a migration moved
    marker.write_text(json.dumps(stale))
    stages = json.loads(log.read_text())
    stages[f"negatives:{control}"]["key"] = stale["key"]
    log.write_text(json.dumps(stages))
    states = {s.stage: s for s in run_status(ExperimentRunner(cfg, show_progress=False)).stages}
    assert not states[f"negatives:{control}"].done and not states[f"train+eval:{control}/seed0"].done
    (tmp_path / ".gitignore").write_text("models/\n")  # the target's triples travel (its LLM store is empty here)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    marker.write_text(json.dumps({**stale, "output": "f" * 16}))  # as if the control's own data had changed
    subprocess.run(["git", "add", "-A"], cwd=tmp_path, check=True)
    with pytest.raises(SynthnegError, match="train it again"):
        migrate_arm(cfg, target)
    assert json.loads(marker.read_text())["output"] == "f" * 16  # nothing changed
    marker.write_text(json.dumps(stale))
    subprocess.run(["git", "add", "-A"], cwd=tmp_path, check=True)
    dry = migrate_arm(cfg, target, dry_run=True)
    assert dry.old == dry.new and dry.rekeyed == () and dry.dependents == (f"negatives:{control}",)
    assert json.loads(marker.read_text()) == stale
    m = migrate_arm(cfg, target)
    assert m.dependents == (f"negatives:{control}",)
    assert (
        json.loads(marker.read_text()) == good
        and json.loads(log.read_text())[f"negatives:{control}"]["key"] == good["key"]
    )
    assert all(s.done for s in run_status(ExperimentRunner(cfg, show_progress=False)).stages)
    run_experiment(cfg, show_progress=False)  # nothing is trained again
    assert json.loads(log.read_text())[f"train:{control}:seed0"] == trained
    assert migrate_arm(cfg, target).dependents == ()  # already current

    # the whole case: the target's triples were written elsewhere (its marker, diagnostics and evaluation keyed by
    # another digest, and so the control's key): one migration moves the target's evaluation and the control
    from synthneg.experiment import keys
    from synthneg.experiment.migrate import _DigestOf

    real, elsewhere = json.loads((out / "markers" / f"negatives-{target}.json").read_text())["output"], "e" * 16
    runner = ExperimentRunner(cfg, show_progress=False)
    done = out / "eval" / target / "seed0" / "tinyeval.done.json"
    stale_key = keys.negatives_key(_DigestOf(runner, target, elsewhere), control)
    for path, update in (
        (out / "markers" / f"negatives-{target}.json", {"output": elsewhere}),
        (out / "diagnostics" / f"{target}.json", {"digest": elsewhere}),
        (done, {"key": runner.eval_key(runner.train_key(target, elsewhere, 0), cfg.eval.datasets[0])}),
        (marker, {"key": stale_key}),
    ):
        path.write_text(json.dumps({**json.loads(path.read_text()), **update}))
    subprocess.run(["git", "add", "-A"], cwd=tmp_path, check=True)
    m = migrate_arm(cfg, target)
    assert (m.old, m.new) == (elsewhere, real) and f"eval:{target}/seed0:tinyeval" in m.rekeyed
    assert m.dependents == (f"negatives:{control}",) and json.loads(marker.read_text()) == good
    assert all(s.done for s in run_status(ExperimentRunner(cfg, show_progress=False)).stages)


def test_curve_points_copy_the_references_made_here_and_redo_those_made_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A curve point copies zero-shot and the labeled fine-tunes that another point finished under the same keys on
    this machine and software (stages.json says from where; nothing retrained), redoes a reference whose evaluation
    ran on another CPU, and redoes them all with share_refs=False."""
    from synthneg.experiment.config import dataset_label
    from synthneg.experiment.curve import run_curve

    cfg_path, folder = _in_domain(tmp_path, "curve", "out")
    cfg = load_config(cfg_path)
    out = tmp_path / "out"
    run_curve(cfg, [3], show_progress=False)
    from typer.testing import CliRunner

    from synthneg.cli import app

    st = CliRunner().invoke(app, ["curve", str(cfg_path), "--status", "--sizes", "5"], env={"COLUMNS": "300"})
    assert st.exit_code == 0, st.output
    to_copy = [line.split()[1] for line in st.output.splitlines() if "copied when this point runs" in line]
    assert to_copy == ["eval:zero-shot", "train+eval:labeled/seed0"], st.output  # in-batch: pending, not copied
    assert "1 fine-tune(s)" in st.output and "estimated from other points' fine-tunes here" in st.output
    assert not (out / "n5").exists()  # --status writes nothing
    run_curve(cfg, [5], show_progress=False)
    assert "| arm | 3 | 5 |" in (out / "curve.md").read_text()  # every started point, not only this call's
    first, second = (json.loads((out / f"n{n}" / "stages.json").read_text()) for n in (3, 5))
    ds = dataset_label(str(folder))
    copied = {k for k, v in second.items() if v.get("copied_from") == "n3"}
    assert copied == {"eval:zero-shot:" + ds, "negatives:labeled", "train:labeled:seed0", f"eval:labeled/seed0:{ds}"}
    assert all(second[k]["key"] == first[k]["key"] for k in copied)  # the same stages, not look-alikes
    for label in ("zero-shot", "labeled/seed0"):
        assert (out / "n5" / "eval" / label / f"{ds}.json").read_bytes() == (
            out / "n3" / "eval" / label / f"{ds}.json"
        ).read_bytes()
    assert not (out / "n5" / "models" / "labeled").exists()  # not fine-tuned again
    assert "copied_from" not in second["train:in-batch:seed0"]  # the arms that depend on the passages run here
    assert json.loads((out / "n5" / "results.json").read_text())["arms"]["labeled"]

    # a labeled evaluation made on another CPU is redone; zero-shot still comes from a sibling
    for n in (3, 5):
        path = out / f"n{n}" / "eval" / "labeled" / "seed0" / f"{ds}.json"
        result = json.loads(path.read_text())
        path.write_text(json.dumps({**result, "timing": {**result["timing"], "cpu": "another CPU"}}))
    run_curve(cfg, [4], show_progress=False)
    fourth = json.loads((out / "n4" / "stages.json").read_text())
    assert "copied_from" not in fourth["train:labeled:seed0"] and fourth[f"eval:zero-shot:{ds}"]["copied_from"]
    # --own-references: every reference made at the point itself
    run_curve(cfg, [6], show_progress=False, share_refs=False)
    sixth = json.loads((out / "n6" / "stages.json").read_text())
    assert not any("copied_from" in v for v in sixth.values())
    # what each check refuses, on n6's own references (dry runs: nothing written)
    import synthneg.search.dense
    from synthneg.experiment.curve import point_config
    from synthneg.experiment.references import share_references

    point, n6 = point_config(cfg, 2), [out / "n6"]
    assert share_references(point, n6, dry_run=True) == ["zero-shot", "labeled/seed0"] and not (out / "n2").exists()

    def edit(path: Path, change: Any) -> None:
        data = json.loads(path.read_text())
        change(data)
        path.write_text(json.dumps(data))

    stages = out / "n6" / "stages.json"
    edit(stages, lambda d: d["train:labeled:seed0"].update(software="torch 0.0"))  # fine-tuned with other versions
    assert share_references(point, n6, dry_run=True) == ["zero-shot"]
    edit(stages, lambda d: d[f"eval:zero-shot:{ds}"].update(key="0123456789"))  # its log entry: another stage's
    assert share_references(point, n6, dry_run=True) == []
    edit(stages, lambda d: d[f"eval:zero-shot:{ds}"].update(key=sixth[f"eval:zero-shot:{ds}"]["key"]))
    zero_shot = out / "n6" / "eval" / "zero-shot" / f"{ds}.json"
    edit(zero_shot, lambda d: d["timing"].update(gpu="NVIDIA H200 (cuda)"))  # evaluated on a GPU, none here
    assert share_references(point, n6, dry_run=True) == []
    edit(zero_shot, lambda d: d["timing"].pop("gpu"))
    assert share_references(point, n6, dry_run=True) == ["zero-shot"]
    monkeypatch.setattr(synthneg.search.dense, "cpu_signature", lambda: None)  # an unidentified machine
    assert share_references(point, n6, dry_run=True) == []


def test_sibling_estimate_scales_each_arms_seconds_per_row_by_the_passages(tmp_path: Path) -> None:
    """curve --status for a point with no finished stage of its own: seconds per training row at the other points
    fine-tuned on this machine, rows scaled by passages for arms on the generated queries (not for labeled), plus
    the median evaluation; None when an arm was never fine-tuned here."""
    from synthneg.experiment.config import ExperimentConfig
    from synthneg.experiment.status import sibling_estimate
    from synthneg.search.dense import machine_signature

    here = machine_signature()
    point = ExperimentConfig(
        passages={"beir": "scifact", "sample": 200}, arms=["labeled", "in-batch"], eval={"datasets": ["scifact"]}
    )
    n100 = tmp_path / "n100"
    n100.mkdir()
    (n100 / "stages.json").write_text(
        json.dumps(
            {
                "train:in-batch:seed0": {"rows": 100, "wall_s": 50.0, "machine": here},
                "train:labeled:seed0": {"rows": 40, "wall_s": 40.0, "machine": here},
                "train:random:seed0": {"rows": 100, "wall_s": 5.0, "machine": "another machine"},
                "eval:in-batch/seed0:scifact": {"wall_s": 10.0},
            }
        )
    )
    # in-batch: 0.5 s a row x 100 rows x 200/100 passages, twice; labeled: 1 s a row x 40 rows; 3 evaluations of 10 s
    assert sibling_estimate(point, [n100], ["in-batch", "in-batch", "labeled"]) == 2 * 100 + 40 + 3 * 10
    assert sibling_estimate(point, [n100], ["random"]) is None  # fine-tuned on another machine only
