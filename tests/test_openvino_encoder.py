"""The torch-free OpenVINO encoder: the same embeddings as sentence-transformers (the embedded MiniLM and
a CLS-pooled tiny BERT built here), no torch import once converted, the same dense negatives, clear errors."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from synthneg.data.beir import Corpus, load_beir
from synthneg.errors import ModelError, SynthnegError
from synthneg.search.dense import DenseEncoder

from conftest import tiny_bert


@pytest.fixture(scope="module")
def scifact_texts(scifact_dir: Path) -> list[str]:
    ds = load_beir(scifact_dir, "test")
    texts = ds.corpus.texts()[:10]
    return [*texts, "tides", "", texts[0] * 8]  # a one-word text, an empty one, one far past 256 tokens


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)


def test_openvino_minilm_matches_sentence_transformers(scifact_texts: list[str]) -> None:
    torch_emb = DenseEncoder(cache=False, show_progress=False, batch_size=8).encode(scifact_texts)
    ov = DenseEncoder(cache=False, show_progress=False, batch_size=8, backend="openvino")
    ov_emb = ov.encode(scifact_texts)
    assert ov_emb.shape == torch_emb.shape and ov_emb.dtype == np.float32
    assert _cosines(ov_emb, torch_emb).min() > 0.99999  # fp32: the same model, truncation and pooling
    assert np.allclose(np.linalg.norm(ov_emb, axis=1), 1.0, atol=1e-5)
    # batch composition (padding) does not change an embedding
    one = DenseEncoder(cache=False, show_progress=False, batch_size=1, backend="openvino").encode(scifact_texts[:5])
    assert _cosines(one, ov_emb[:5]).min() > 0.99999
    few = [0, 1, 2, -3, -2, -1]  # three abstracts, the one-word, the empty and the over-long text
    bf16 = DenseEncoder(cache=False, show_progress=False, backend="openvino", precision="bf16")
    assert _cosines(bf16.encode([scifact_texts[i] for i in few]), torch_emb[few]).min() > 0.999
    assert ov.encode([]).shape == (0, torch_emb.shape[1])


def test_openvino_encoding_never_imports_torch(scifact_texts: list[str]) -> None:
    DenseEncoder(cache=False, show_progress=False, backend="openvino").encode(["warm the conversion cache"])
    code = (
        "import sys, json\n"
        "from synthneg.search.dense import DenseEncoder\n"
        "from synthneg.mine.dense import mine_dense\n"
        "from synthneg.data.beir import Corpus, Document\n"
        "from synthneg.data.triples import QueryRecord\n"
        "docs = [Document(f'd{i}', '', t) for i, t in enumerate(json.loads(sys.argv[1]))]\n"
        "recs = [QueryRecord('q0', docs[1].text[:80], 'd0', docs[0].text)]\n"
        "enc = DenseEncoder(backend='openvino', show_progress=False)\n"
        "t = mine_dense(recs, Corpus.from_documents(docs), encoder=enc)\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'n': len(t)}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(scifact_texts[:10])], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"torch": False, "n": 1}


def test_openvino_mines_the_same_negatives_as_torch(scifact_dir: Path) -> None:
    from synthneg.mine import SelectionConfig, mine_dense
    from synthneg.mine.common import records_from_beir

    ds = load_beir(scifact_dir, "train")
    records = records_from_beir(ds.corpus, ds.queries, ds.qrels)[:10]
    keep = set(ds.corpus.ids[:30]) | {r.positive_id for r in records}
    corpus = Corpus.from_documents([d for d in ds.corpus.documents if d.id in keep])
    config = SelectionConfig(num_negatives=2, range_max=20)
    by_torch = mine_dense(records, corpus, config, encoder=DenseEncoder(show_progress=False))
    ov = DenseEncoder(show_progress=False, backend="openvino")
    by_ov = mine_dense(records, corpus, config, encoder=ov)
    assert [(t.query_id, t.negative_id) for t in by_ov] == [(t.query_id, t.negative_id) for t in by_torch]
    assert all(t.provenance["encoder"] == "openvino" for t in by_ov)
    assert "encoder" not in by_torch[0].provenance
    assert ov.cache_key(corpus) != DenseEncoder(show_progress=False).cache_key(corpus)  # cached apart


def test_evaluate_with_openvino_matches_torch(scifact_dir: Path) -> None:
    """``evaluate(encoder="openvino")`` scores a SciFact slice as torch does, and records the encoder."""
    from synthneg.data.beir import BeirDataset
    from synthneg.evaluate import evaluate

    full = load_beir(scifact_dir, "test")
    qids = sorted(full.qrels)[:8]
    judged = {d for q in qids for d in full.qrels[q]}
    keep = judged | set(full.corpus.ids[:30])
    corpus = Corpus.from_documents([d for d in full.corpus.documents if d.id in keep])
    ds = BeirDataset(
        "scifact-slice", full.path, "test", corpus, {q: full.queries[q] for q in qids}, {q: full.qrels[q] for q in qids}
    )
    by_torch = evaluate("minilm", ds, cache=False, show_progress=False)
    by_ov = evaluate("minilm", ds, cache=False, show_progress=False, encoder="openvino")
    assert by_ov.timing["encoder"] == "openvino" and by_torch.timing["encoder"] == "torch"
    assert by_torch.metrics["nDCG@10"] > 0.5  # a real retrieval, not an empty run
    for metric, value in by_torch.metrics.items():
        assert by_ov.metrics[metric] == pytest.approx(value, abs=1e-3), metric


def test_openvino_cls_pooling_and_unsupported_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A CLS-pooled tiny BERT built here (no hub) matches torch; a model with a Dense head is refused from its
    modules.json, before any conversion child is started."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Dense, Pooling, Transformer

    words = ["plants", "make", "glucose", "from", "light", "black", "holes", "bend", "tides", "rise", "and", "fall"]
    dim, bert = 32, tiny_bert(tmp_path / "bert", words)
    transformer = Transformer(str(bert), max_seq_length=16)
    cls_model = tmp_path / "cls"
    SentenceTransformer(modules=[transformer, Pooling(dim, pooling_mode="cls")], device="cpu").save(str(cls_model))
    texts = ["plants make glucose from light", "tides rise and fall " * 10, "black holes"]
    torch_emb = DenseEncoder(str(cls_model), cache=False, show_progress=False).encode(texts)
    # converted by the child process (what a torch-free process runs; torch is imported here, which would convert
    # in this process by default, as the MiniLM tests above do), then read from the cache by the encoder
    from synthneg.models import model_identity, resolve_bi_encoder
    from synthneg.search.openvino_backend import openvino_model_dir

    caplog.set_level(logging.INFO, logger="synthneg.search.openvino_backend")
    folder = openvino_model_dir(str(cls_model), model_identity(resolve_bi_encoder(str(cls_model))), in_process=False)
    ov_encoder = DenseEncoder(str(cls_model), cache=False, show_progress=False, backend="openvino")
    ov_emb = ov_encoder.encode(texts)
    assert (folder / "model.xml").is_file()
    assert [r.message for r in caplog.records].count(
        f"converting {cls_model} to OpenVINO IR (once; cached in {folder})"
    ) == 1
    assert _cosines(ov_emb, torch_emb).min() > 0.99999  # CLS pooling, truncation at 16 tokens

    dense_model = tmp_path / "dense"
    modules = [transformer, Pooling(dim, pooling_mode="mean"), Dense(dim, 8)]
    SentenceTransformer(modules=modules, device="cpu").save(str(dense_model))
    from synthneg.search import openvino_backend

    def no_child(*args: object, **kwargs: object) -> None:
        raise AssertionError("a conversion child was started for a model the backend cannot run")

    monkeypatch.setattr(openvino_backend.subprocess, "run", no_child)
    with pytest.raises(ModelError, match=r"Transformer \+ Pooling.*Use the torch backend"):
        DenseEncoder(str(dense_model), cache=False, show_progress=False, backend="openvino").encode(texts)


def test_encoder_backend_errors() -> None:
    from typer.testing import CliRunner

    from synthneg.cli import app

    with pytest.raises(SynthnegError, match="backend must be one of torch, openvino"):
        DenseEncoder(backend="onnx", cache=False, show_progress=False).encode(["x"])  # type: ignore[arg-type]
    bad = CliRunner().invoke(
        app, ["mine", "dense", "--queries", "q.jsonl", "--corpus", "c.jsonl", "--out", "o.jsonl", "--encoder", "onnx"]
    )
    assert bad.exit_code != 0 and "--encoder must be one of torch, openvino" in str(bad.exception or bad.output)
    bad = CliRunner().invoke(app, ["evaluate", "--dataset", "scifact", "--encoder", "onnx"])
    assert bad.exit_code != 0 and "--encoder must be one of torch, openvino" in str(bad.exception or bad.output)
