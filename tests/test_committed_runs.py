"""The committed experiment runs replay from their committed stores: same data, same keys, no LLM call.

For each config under ``experiments/`` whose run has finished stages under ``docs/results/``, the
tracked files of the run (call stores, reranker scores, markers, evaluations; never the generated
JSONL, which git ignores) are copied into a temp folder, and every finished data stage is rebuilt there
with a generator that answers no call. The queries must come out identical to the committed marker's
key, and every finished fine-tune's key, which hashes the training data's bytes, must still find its
committed evaluation. A change to a validation rule, a prompt, a default or a hashed field that would
make a rerun of the published run pay for new LLM calls or retrain fails here, without loading a model.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from synthneg.data.triples import QueryRecord
from synthneg.experiment import load_config
from synthneg.experiment.replay import replay_runner, tracked_copy
from synthneg.experiment.stages import file_digest

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO / "experiments").glob("*.yaml"))


def _runs() -> list[tuple[Path, int | None]]:
    """Each config, and each point of a learning curve (``synthneg curve``: a run per ``n<N>/`` folder)."""
    runs: list[tuple[Path, int | None]] = []
    for config in CONFIGS:
        folder = load_config(config).output_dir
        sizes = sorted(int(p.parent.name[1:]) for p in folder.glob("n*/stages.json") if p.parent.name[1:].isdigit())
        runs += [(config, size) for size in sizes] or [(config, None)]
    return runs


RUNS = _runs()
# (queries key, call store digest) -> the folder of the first replay that rebuilt that queries stage. Two runs with
# the same key and the same calls (a curve point fine-tuned under two configs) would rebuild the same files, so
# the second copies them (several seconds each at 5,183 passages; the first replay checked the rebuild itself).
_REBUILT: dict[tuple[str, str], Path] = {}


def _reuse_queries_stage(folder: Path, share: tuple[str, str]) -> None:
    """Copy the queries stage's rebuilt files (the git-ignored ones ``folder`` lacks) from an earlier replay."""
    earlier = _REBUILT.get(share)
    if earlier is None:
        return
    for src in (earlier / "generation").iterdir():
        target = folder / "generation" / src.name
        if src.is_file() and not target.exists():
            shutil.copy2(src, target)


@pytest.mark.parametrize(("config", "point"), RUNS, ids=[c.stem + (f"-n{n}" if n else "") for c, n in RUNS])
def test_committed_run_replays_from_its_stores(
    config: Path,
    point: int | None,
    shared_data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import synthneg.llm.llamacpp
    import synthneg.llm.llamacpp_load
    import synthneg.llm.registry
    import synthneg.search.dense
    from synthneg.experiment.arms import ARMS, TRAINED_ARMS
    from synthneg.experiment.curve import point_config
    from synthneg.models import model_identity, resolve_bi_encoder

    cfg = load_config(config)
    if point is not None:
        cfg = point_config(cfg, point)
    run = cfg.output_dir.resolve()
    if not (run / "stages.json").is_file():
        pytest.skip(f"{config.name}: no finished stage committed yet")
    if cfg.llm.backend != "llamacpp" or cfg.negatives_llm_config.backend != "llamacpp":
        pytest.skip(f"{config.name}: replay is checked for the embedded llama.cpp back-end only")

    def no_model(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the replay loaded an LLM (an arm's own generator or the judge): a fresh clone lacks it")

    # every call and judge score is in the committed stores: no GGUF may be assembled or loaded (a fresh clone
    # has the default model's packages only, CI's too)
    for module in (synthneg.llm.llamacpp, synthneg.llm.llamacpp_load):
        monkeypatch.setattr(module, "load_llama", no_model)
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # and llama-cpp-python need not be installed (a GPU box)
    for module in (synthneg.llm.llamacpp, synthneg.llm.registry):
        monkeypatch.setattr(module, "resolve_gguf", no_model)

    def no_encoding(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the replay encoded text: the run's similarity store lacks a pair it needs")

    # nothing encodes: the verified arm's cosines and the dense arm's rankings come from their stores (an encoder's
    # floats differ between CPUs; stored, the replay is exact on any machine)
    monkeypatch.setattr(synthneg.search.dense.DenseEncoder, "encode", no_encoding)
    tracked_copy(run, tmp_path)
    if not (tmp_path / "stages.json").is_file():
        pytest.skip(f"{config.name}: no finished stage committed yet")
    logged = set(json.loads((tmp_path / "stages.json").read_text(encoding="utf-8")))  # as committed
    committed = {m.name: json.loads(m.read_text(encoding="utf-8")) for m in (tmp_path / "markers").glob("*.json")}
    runner = replay_runner(cfg, tmp_path)

    checked = 0
    stale: set[str] = set()
    records: list[QueryRecord] = []
    if any(k.startswith("eval:zero-shot:") for k in logged):
        assert runner.evaluated("zero-shot", model_identity(resolve_bi_encoder(cfg.base_model)))
        checked += 1
    if "queries" in logged:
        marker = json.loads((tmp_path / "markers" / "queries.json").read_text(encoding="utf-8"))
        assert marker["key"] == runner.queries_key(), "the queries stage's key changed: a rerun would redo it"
        store = tmp_path / "generation" / "queries.calls.jsonl"
        share = (marker["key"], file_digest(store) if store.is_file() else "")
        _reuse_queries_stage(tmp_path, share)
        records = runner.queries()
        assert records
        _REBUILT.setdefault(share, tmp_path)
        checked += 1
    for arm in (a for a in cfg.arms if a in TRAINED_ARMS):
        on_queries = ARMS[arm].pairs is not None  # in-batch, in-batch-unfiltered: the queries stage's files
        if ("queries" if on_queries else f"negatives:{arm}") not in logged:
            continue  # this arm's data is not finished yet
        data = runner.negatives(arm, records if arm != "labeled" else [])
        # what the committed marker recorded (read before the rebuild rewrote it) is what a fresh clone's
        # --status keys the fine-tunes by: it must be the rebuilt file's digest (in-batch-unfiltered's file has
        # no marker: its fine-tunes' keys below check it)
        if not on_queries or arm == "in-batch":
            marker = "queries.json" if arm == "in-batch" else f"negatives-{arm}.json"
            recorded = committed.get(marker, {}).get("output")
            assert recorded == file_digest(data), f"{config.name}: {arm}'s committed marker records {recorded}"
            if arm != "in-batch":  # and its key is the one --status computes (an arm built on another one's data
                # holds that digest in its key: scripts/migrate_arm_digest.py moves both)
                key = committed[marker].get("key")
                assert key == runner.negatives_key(arm), f"{config.name}: {arm}'s committed marker is keyed {key}"
        checked += 1
        for seed in cfg.seeds_of(arm):
            label = f"{arm}/seed{seed}"
            if not any(k.startswith(f"eval:{label}:") for k in logged):
                continue
            if not runner.evaluated(label, runner.train_key(arm, file_digest(data), seed)):
                stale.add(label)
            checked += 1
    assert checked, f"{config.name}: nothing was checked"
    assert not stale, (
        f"{config.name}: these fine-tunes' data or training key changed since their committed evaluation "
        f"(a rerun would train them again): {sorted(stale)}"
    )
