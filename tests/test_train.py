"""Fine-tuning with a tiny BERT built in a temp folder (no hub): loss, saving, resume, in-batch arm,
NO_DUPLICATES batches, prefixes, the CLI and a 2-process torchrun launch."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from synthneg.data.beir import load_beir
from synthneg.data.triples import QueryRecord, Triple, read_triples, write_triples
from synthneg.errors import DataError, SynthnegError
from synthneg.train import SUMMARY_FILE, TrainConfig, build_trainer, load_training_data, to_dataset, train

from conftest import tiny_sentence_transformer

TOPICS = [
    ("plants sunlight glucose", "leaves chlorophyll plants sunlight"),
    ("black hole gravity", "gravity black hole star"),
    ("bread yeast", "sourdough bread yeast flour oven"),
    ("river fish", "river water fish boat"),
    ("music guitar", "guitar song piano drum music"),
    ("neutron star", "neutron star gravity"),
    ("sea boat", "sea boat water"),
    ("flour oven", "oven flour bread"),
]
WORDS = sorted({w for q, p in TOPICS for w in f"{q} {p}".split()})
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
VOCAB = [*SPECIAL, *WORDS, "query", "passage", ":", "what", "how", "which", "a", "the", "of", "is"]


def triples(repeat: int = 4) -> list[Triple]:
    rows = []
    for r in range(repeat):
        for i, (q, p) in enumerate(TOPICS):
            neg = TOPICS[(i + 1 + r) % len(TOPICS)][1]
            rows.append(Triple(f"q{i}-{r}", q, f"d{i}", p, neg, "test", negative_id=f"d{(i + 1 + r) % 8}"))
    return rows


def pairs(repeat: int = 2) -> list[QueryRecord]:
    return [QueryRecord(f"q{i}-{r}", q, f"d{i}", p) for r in range(repeat) for i, (q, p) in enumerate(TOPICS)]


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The tests' tiny bi-encoder (conftest) over this file's words."""
    from sentence_transformers import SentenceTransformer

    st = tiny_sentence_transformer(tmp_path_factory.mktemp("tiny-bert"), VOCAB[len(SPECIAL) :])
    assert SentenceTransformer(str(st)).tokenizer("plants gravity")["input_ids"][1] != VOCAB.index("[UNK]")
    return str(st)


FAST = {"batch_size": 8, "learning_rate": 1e-3, "warmup_ratio": 0.0, "logging_steps": 1}


def test_loss_decreases_and_saved_model_loads(tiny_model: str, tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    out = tmp_path / "model"
    result = train(triples(), model=tiny_model, out=out, config=TrainConfig(epochs=4, **FAST))
    losses = [h["loss"] for h in result.summary["loss_history"]]
    assert result.summary["columns"] == ["anchor", "positive", "negative"]
    assert result.summary["global_step"] == len(losses) == 16
    assert sum(losses[-4:]) / 4 < 0.5 * sum(losses[:4]) / 4
    on_disk = json.loads((out / SUMMARY_FILE).read_text())
    assert on_disk["global_step"] == 16 and on_disk["train_loss"] == pytest.approx(result.summary["train_loss"])

    st = SentenceTransformer(str(out), device="cpu")
    q = st.encode([q for q, _ in TOPICS], normalize_embeddings=True)
    p = st.encode([p for _, p in TOPICS], normalize_embeddings=True)
    assert q.shape == (8, 32)
    assert ((q @ p.T).argmax(axis=1) == range(8)).mean() >= 0.75


def test_in_batch_pairs_from_file_with_evaluator(tiny_model: str, tmp_path: Path, tiny_beir: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r.__dict__) + "\n" for r in pairs()), encoding="utf-8")
    rows = load_training_data(path)
    assert all(isinstance(r, QueryRecord) for r in rows)
    result = train(
        path,
        model=tiny_model,
        out=tmp_path / "m",
        config=TrainConfig(epochs=1, **FAST),
        evaluator=load_beir(tiny_beir, "test"),
    )
    s = result.summary
    assert s["columns"] == ["anchor", "positive"] and s["rows"] == 16 and s["global_step"] == 2
    assert s["data"] == str(path)
    assert any(k.endswith("ndcg@10") for h in s["eval_history"] for k in h)


def test_triples_can_train_the_in_batch_arm(tiny_model: str, tmp_path: Path) -> None:
    assert to_dataset(triples(1), use_negatives=False).column_names == ["anchor", "positive"]
    path = write_triples(triples(1), tmp_path / "t.parquet")
    assert isinstance(load_training_data(path)[0], Triple)
    trainer = build_trainer(
        load_training_data(path), model=tiny_model, out=tmp_path / "m", config=TrainConfig(use_negatives=False, **FAST)
    )
    assert trainer.train_dataset.column_names == ["anchor", "positive"]


def test_a_mixed_set_reads_back_and_batches_one_kind_at_a_time(tiny_model: str, tmp_path: Path) -> None:
    """Triples for some queries and pairs for the rest: one file (a pair's negative is null), two datasets."""
    from datasets import DatasetDict

    from synthneg.data.triples import read_training_rows, write_training_rows
    from synthneg.train import to_train_dataset

    rows = [*triples(1), *pairs(1)]
    path = write_training_rows(rows, tmp_path / "mixed.jsonl")
    assert read_training_rows(path) == rows and load_training_data(path) == rows
    data = to_train_dataset(rows)
    assert isinstance(data, DatasetDict) and {k: len(v) for k, v in data.items()} == {"triples": 8, "pairs": 8}
    assert data["triples"].column_names == ["anchor", "positive", "negative"]
    assert to_train_dataset(rows, use_negatives=False).column_names == ["anchor", "positive"]  # all pairs
    with pytest.raises(DataError, match="mixed input"):
        to_dataset(rows)
    with pytest.raises(DataError, match="null: a query-positive pair") as err:
        read_triples(path)  # a reader of triples only names what it found, and where
    assert err.value.line == 9
    result = train(path, model=tiny_model, out=tmp_path / "m", config=TrainConfig(epochs=1, **FAST))
    s = result.summary
    assert s["rows"] == 16 and s["datasets"] == {"triples": 8, "pairs": 8} and s["global_step"] == 2
    # under torchrun (WORLD_SIZE > 1) a mixed set is refused: ranks could draw batches of different kinds
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORLD_SIZE", "2")
        with pytest.raises(SynthnegError, match="one process"):
            build_trainer(rows, model=tiny_model, out=tmp_path / "m2", config=TrainConfig(**FAST))
    # a row without the negative field is still an error at its line (only an explicit null makes a pair)
    path.write_text(path.read_text().replace(', "negative": null', "", 1), encoding="utf-8")
    with pytest.raises(DataError, match="negative") as err:
        load_training_data(path)
    assert err.value.line == 9


def test_resume_continues_the_step_count(tiny_model: str, tmp_path: Path) -> None:
    out = tmp_path / "m"
    cfg = {**FAST, "batch_size": 4, "save_steps": 2}
    first = train(pairs(), model=tiny_model, out=out, config=TrainConfig(epochs=1, **cfg))
    assert first.summary["global_step"] == 4 and first.summary["resumed_from"] is None
    assert (out / "checkpoints" / "checkpoint-4" / "trainer_state.json").is_file()
    second = train(pairs(), model=tiny_model, out=out, config=TrainConfig(epochs=2, **cfg), resume=True)
    s = second.summary
    assert s["resumed_from"].endswith("checkpoint-4")
    assert s["global_step"] == 8 and s["steps_this_run"] == 4
    assert s["loss_history"][0]["step"] == 1  # the history of the first run is carried over
    with pytest.raises(SynthnegError, match="not a training checkpoint"):
        train(pairs(), model=tiny_model, out=out, resume=tmp_path)


def test_no_duplicates_batch_sampler(tiny_model: str, tmp_path: Path) -> None:
    rows = triples(4)  # every query appears 4 times (with different negatives)
    trainer = build_trainer(rows, model=tiny_model, out=tmp_path / "m", config=TrainConfig(**FAST))
    assert getattr(trainer.args.batch_sampler, "value", None) == "no_duplicates"
    loader = trainer.get_train_dataloader()
    sampler = loader.batch_sampler
    while type(sampler).__name__ != "NoDuplicatesBatchSampler" and hasattr(sampler, "batch_sampler"):
        sampler = sampler.batch_sampler  # unwrap accelerate's shard wrapper, if any
    assert type(sampler).__name__ == "NoDuplicatesBatchSampler"
    ds = trainer.train_dataset
    for batch in sampler:
        anchors = [ds[i]["anchor"] for i in batch]
        assert len(anchors) == len(set(anchors))


def test_no_progress_reaches_the_trainer(
    tiny_model: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """``show_progress=False`` (``--no-progress``) turns the step bar off, and with it the line a heartbeat that
    stands in for the bar where standard error is a file, as it does for every other stage."""
    import io

    from rich.console import Console

    from synthneg import console as con

    monkeypatch.setitem(con._state, "library_bars", False)  # the CLI's default: synthneg's bar, not the trainer's
    monkeypatch.setenv("SYNTHNEG_HEARTBEAT_S", "0")
    monkeypatch.setattr(con, "stderr_console", lambda: Console(file=io.StringIO(), force_terminal=False))

    def beats(show: bool) -> list[str]:
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="synthneg.console"):
            train(pairs(), model=tiny_model, out=tmp_path / f"m{show}", config=TrainConfig(**FAST), show_progress=show)
        return [r.getMessage() for r in caplog.records if r.name == "synthneg.console"]

    assert any(m.startswith("training: 1 of 2") for m in beats(True))
    assert beats(False) == []


def test_prefixes_and_cached_loss(tiny_model: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cfg = TrainConfig(
        loss="cached-mnrl", mini_batch_size=4, query_prefix="query: ", passage_prefix="passage: ", max_steps=1, **FAST
    )
    trainer = build_trainer(triples(1), model=tiny_model, out=tmp_path / "m", config=cfg)
    assert type(trainer.loss).__name__ == "CachedMultipleNegativesRankingLoss"
    assert trainer.args.prompts == {"anchor": "query: ", "positive": "passage: ", "negative": "passage: "}
    with caplog.at_level(logging.INFO, logger="synthneg"):
        result = train(triples(2), model=tiny_model, out=tmp_path / "m", config=cfg)  # 2 batches an epoch
    saved = json.loads((result.path / "config_sentence_transformers.json").read_text())
    assert saved["prompts"]["query"] == "query: " and saved["prompts"]["document"] == "passage: "
    # max_steps stops the fine-tune there, and the start line says so
    assert result.summary["global_step"] == 1
    assert "NO_DUPLICATES sampler, at most 1 steps" in caplog.text


def test_symmetric_loss_adds_the_passage_to_query_direction(tiny_model: str, tmp_path: Path) -> None:
    """``mnrl-symmetric``: the mean of query -> passages (with the negatives) and passage -> the batch's queries."""
    import torch

    from synthneg.experiment.config import TrainSettings

    trainer = build_trainer(pairs(1), model=tiny_model, out=tmp_path / "s", config=TrainConfig(loss="mnrl-symmetric"))
    loss = trainer.loss
    assert type(loss).__name__ == "MultipleNegativesSymmetricRankingLoss"
    gen = torch.Generator().manual_seed(0)
    emb = [torch.randn(4, 32, generator=gen) for _ in range(3)]  # queries, positives, negatives
    labels = torch.arange(4)
    cos = torch.nn.functional.cosine_similarity
    forward = cos(emb[0][:, None], torch.cat(emb[1:])[None], dim=-1) * 20.0
    backward = cos(emb[1][:, None], emb[0][None], dim=-1) * 20.0
    ce = torch.nn.functional.cross_entropy
    want = (ce(forward, labels) + ce(backward, labels)) / 2
    assert loss.compute_loss_from_embeddings(emb, labels).item() == pytest.approx(want.item(), rel=1e-5)
    # in an experiment config it is a setting of the fine-tunes' keys; the default's keys do not move
    assert TrainSettings(loss="mnrl-symmetric").key_fields() != TrainSettings().key_fields()
    assert TrainSettings().key_fields()["loss"] == "mnrl"
    with pytest.raises(SynthnegError, match="mnrl-symmetric"):
        TrainConfig(loss="triplet")  # type: ignore[arg-type]


def test_bad_input_says_what_to_fix(tmp_path: Path) -> None:
    with pytest.raises(SynthnegError, match="batch_size"):
        TrainConfig(batch_size=1)
    with pytest.raises(SynthnegError, match="loss"):
        TrainConfig(loss="triplet")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="mixed input"):
        to_dataset([*triples(1), *pairs(1)])
    with pytest.raises(DataError, match="no training rows"):
        to_dataset([])
    with pytest.raises(DataError, match="not found"):
        load_training_data(tmp_path / "missing.jsonl")


def test_cli_train(tiny_model: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from synthneg.cli import app

    path = write_triples(triples(1), tmp_path / "t.jsonl")
    out = tmp_path / "cli-model"
    res = CliRunner().invoke(
        app,
        [
            "train",
            "--triples",
            str(path),
            "--model",
            tiny_model,
            "--out",
            str(out),
            "--max-steps",
            "2",
            "--batch-size",
            "4",
            "--lr",
            "1e-3",
            "--seed",
            "1",
        ],
    )
    assert res.exit_code == 0, res.output
    summary = json.loads((out / SUMMARY_FILE).read_text())
    assert summary["global_step"] == 2 and summary["config"]["seed"] == 1
    assert "judged_masked" not in summary

    qrels = tmp_path / "qrels.tsv"  # every query judges every passage relevant: all in-batch candidates masked
    lines = [f"{t.query_id}\td{i}\t1" for t in triples(1) for i in range(8)]
    qrels.write_text("query-id\tcorpus-id\tscore\n" + "\n".join(lines) + "\n", encoding="utf-8")
    args = ["train", "--triples", str(path), "--model", tiny_model, "--out", str(tmp_path / "masked")]
    res = CliRunner().invoke(app, [*args, "--max-steps", "1", "--batch-size", "4", "--qrels", str(qrels)])
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "masked" / SUMMARY_FILE).read_text())
    assert summary["judged_masked"] == 4 * 8 - 4  # a batch of 4 rows: 8 candidates per query, its positive kept


TORCHRUN_SCRIPT = """
import json, sys
from synthneg.data.triples import read_triples
from synthneg.train import TrainConfig, train
res = train(read_triples(sys.argv[1]), model=sys.argv[2], out=sys.argv[3],
            config=TrainConfig(epochs=1, batch_size=4, learning_rate=1e-3, logging_steps=1))
# one write of the whole line: print() writes its arguments one by one, and the other rank's output can land between
sys.stdout.write(f"RANK_DONE {res.summary['world_size']} {res.summary['global_step']}\\n")
sys.stdout.flush()
"""


@pytest.mark.slow  # two training processes in children (~21 s on a 2-core machine; not counted by coverage)
def test_torchrun_two_processes_cpu_gloo(tiny_model: str, tmp_path: Path) -> None:
    import synthneg

    script = tmp_path / "launch.py"
    script.write_text(TORCHRUN_SCRIPT, encoding="utf-8")
    path = write_triples(triples(2), tmp_path / "t.jsonl")
    out = tmp_path / "ddp"
    src = str(Path(synthneg.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    cmd += [str(script), str(path), tiny_model, str(out)]
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path, start_new_session=True
    ) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the launcher and its workers
            stdout, stderr = proc.communicate()
            pytest.fail(f"torchrun did not finish in 240 s:\n{stdout[-2000:]}\n{stderr[-2000:]}")
    assert proc.returncode == 0, stdout[-3000:] + stderr[-3000:]
    # anywhere in the output: the other rank's progress output may share a line with this one (no newline on \r bars)
    done = re.findall(r"RANK_DONE (\d+) (\d+)", stdout)
    assert len(done) == 2 and all(world == "2" for world, _ in done), stdout[-3000:]
    # 16 rows, 2 processes x 4 per device -> 2 steps per epoch
    summary = json.loads((out / SUMMARY_FILE).read_text())
    assert summary["world_size"] == 2 and summary["global_step"] == 2
    assert (out / "model.safetensors").is_file()


def test_judged_mask_is_hand_checked() -> None:
    from synthneg.losses import judged_mask, row_documents

    rows = [
        Triple("qa", "a", "d1", "P1", "N2", "labeled", "d2"),
        Triple("qb", "b", "d3", "P3", "N4", "labeled", "d4"),
        Triple("qc", "c", "d5", "P5", "N6", "labeled", None),
    ]
    judged = [frozenset({"d1", "d3", "d5"}), frozenset({"d3"}), frozenset({"d1", "d5", "d4"})]
    docs = row_documents(rows)
    # batch = rows 0, 2; columns: P1, P5, N2, N6 (no id: never masked)
    assert judged_mask([0, 2], docs, judged) == [
        [False, True, False, False],  # qa: its own positive d1 is never masked; row 2's positive d5 is judged
        [True, False, False, False],  # qc: row 0's positive d1 is judged relevant to it
    ]
    # batch = rows 1, 2; columns: P3, P5, N4, N6: qc's judged d4 is row 1's negative
    assert judged_mask([1, 2], docs, judged) == [[False, False, False, False], [False, False, True, False]]
    assert row_documents(rows, use_negatives=False) == [("d1",), ("d3",), ("d5",)]


def test_judged_masked_loss_equals_mnrl_over_the_unmasked_candidates(tiny_model: str) -> None:
    """Empty qrels: exactly MultipleNegativesRankingLoss. With qrels: the cross-entropy over the other columns."""
    import torch
    from sentence_transformers import SentenceTransformer

    from synthneg.losses import judged_masked_mnrl
    from synthneg.st_modules import st_module

    st = SentenceTransformer(tiny_model, device="cpu")
    rows = triples(1)[:4]  # positives d0..d3, negatives d1..d4
    gen = torch.Generator().manual_seed(0)
    emb = [torch.randn(4, 32, generator=gen) for _ in range(3)]
    labels = torch.arange(4)
    plain = st_module("losses").MultipleNegativesRankingLoss(st).compute_loss_from_embeddings(emb, labels)
    assert judged_masked_mnrl(st, rows, {}).masked_loss(emb, labels).item() == pytest.approx(plain.item(), rel=1e-6)

    qrels = {rows[0].query_id: {"d0": 1, "d2": 1}}  # q0: d2 is row 2's positive (column 2) and row 1's negative (5)
    loss = judged_masked_mnrl(st, rows, qrels)
    got = loss.masked_loss(emb, labels)
    assert loss.masked_total == 2
    scores = torch.nn.functional.cosine_similarity(emb[0][:, None], torch.cat(emb[1:])[None], dim=-1) * 20.0
    keep = [c for c in range(8) if c not in (2, 5)]
    per_row = [-torch.log_softmax(scores[0, keep], 0)[0]] + [-torch.log_softmax(scores[i], 0)[i] for i in range(1, 4)]
    assert got.item() == pytest.approx(torch.stack(per_row).mean().item(), rel=1e-5)


def test_training_with_qrels_masks_judged_candidates(tiny_model: str, tmp_path: Path) -> None:
    rows = triples()
    qrels = {t.query_id: {t.positive_id: 1, f"d{(int(t.positive_id[1:]) + 4) % 8}": 1} for t in rows}
    config = TrainConfig(epochs=4, **FAST)
    result = train(rows, model=tiny_model, out=tmp_path / "masked", config=config, qrels=qrels)
    losses = [h["loss"] for h in result.summary["loss_history"]]
    assert result.summary["judged_masked"] > 0 and result.summary["global_step"] == 16  # same steps as plain MNRL
    assert sum(losses[-4:]) / 4 < 0.5 * sum(losses[:4]) / 4
    with pytest.raises(SynthnegError, match="qrels masking works with loss 'mnrl'"):
        build_trainer(rows, model=tiny_model, out=tmp_path / "c", config=TrainConfig(loss="cached-mnrl"), qrels={})
