"""Shared fixtures: the shared BEIR/arXiv data (read in place, never copied) and tiny BEIR folders."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from synthneg.data.locate import shared_data_dirs


def _allowed_cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one worker per CPU this process may use (xdist's own count is the machine's physical cores,
    more than a container's cpuset allows)."""
    from synthneg.llm.llamacpp_load import available_cpus

    return available_cpus()


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (``-n N``), each worker runs on its own share of the CPUs: llama.cpp and torch then start
    as many threads as their worker has CPUs, instead of every worker starting one per CPU of the machine (threads
    that outnumber the cores stall llama.cpp's spinning thread barriers)."""
    worker, count = os.environ.get("PYTEST_XDIST_WORKER", ""), os.environ.get("PYTEST_XDIST_WORKER_COUNT", "")
    if not hasattr(os, "sched_setaffinity") or not worker.startswith("gw") or not count.isdigit():
        return
    try:
        index = int(worker.removeprefix("gw"))
    except ValueError:  # a worker named by --tx ...//id=: left unpinned
        return
    cpus, n = _allowed_cpus(), int(count)
    share = cpus[index % len(cpus) :: n] if n <= len(cpus) else [cpus[index % len(cpus)]]
    os.sched_setaffinity(0, share)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(len(share))


def _shared_root() -> Path | None:
    for root in shared_data_dirs():
        if (root / "beir" / "scifact").is_dir():
            return root
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    root = _shared_root()
    if root is None:
        pytest.skip("../shared/data is not available")
    return root


@pytest.fixture(scope="session")
def scifact_dir(shared_data: Path) -> Path:
    return shared_data / "beir" / "scifact"


@pytest.fixture(scope="session")
def arxiv_path(shared_data: Path) -> Path:
    return shared_data / "arxiv" / "arxiv_kaggle_first2000.jsonl.gz"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test writes caches (embeddings, the assembled GGUF, call stores) into one session temp
    folder, never into ~/.cache. Under pytest-xdist the workers share the derived models (the assembled GGUF, the
    OpenVINO conversions): each is built once per session (atomically, behind a lock) instead of once per worker."""
    cache = tmp_path_factory.getbasetemp() / "synthneg-cache"
    monkeypatch.setenv("SYNTHNEG_CACHE", str(cache))
    if os.environ.get("PYTEST_XDIST_WORKER") and not (cache / "models").exists():
        shared = tmp_path_factory.getbasetemp().parent / "shared-models"  # in pytest-N/, above each popen-gwK/
        cache.mkdir(parents=True, exist_ok=True)
        for name in ("models", "openvino"):
            (shared / name).mkdir(parents=True, exist_ok=True)
            (cache / name).symlink_to(shared / name, target_is_directory=True)


def write_jsonl(path: Path, rows: list[dict], gz: bool = False) -> Path:
    text = "".join(json.dumps(r) + "\n" for r in rows)
    if gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def make_beir(folder: Path, *, gz: bool = False, split: str = "test") -> Path:
    """A 6-document BEIR folder with 3 queries about distinct topics."""
    folder.mkdir(parents=True, exist_ok=True)
    sfx = ".jsonl.gz" if gz else ".jsonl"
    docs = [
        {
            "_id": "d1",
            "title": "Photosynthesis",
            "text": "Plants convert sunlight, water and carbon dioxide into glucose.",
        },
        {"_id": "d2", "title": "Chlorophyll", "text": "Chlorophyll absorbs red and blue light in plant leaves."},
        {
            "_id": "d3",
            "title": "Black holes",
            "text": "A black hole is a region of spacetime where gravity prevents escape.",
        },
        {
            "_id": "d4",
            "title": "Neutron stars",
            "text": "Neutron stars are collapsed cores of massive supergiant stars.",
        },
        {
            "_id": "d5",
            "title": "Sourdough",
            "text": "Sourdough bread is leavened by wild yeast and lactic acid bacteria.",
        },
        {"_id": "d6", "title": "Baguette", "text": "A baguette is a long thin loaf of French bread."},
    ]
    queries = [
        {"_id": "q1", "text": "how do plants make glucose from sunlight"},
        {"_id": "q2", "text": "what prevents escape from a black hole"},
        {"_id": "q3", "text": "which bread uses wild yeast"},
        {"_id": "q9", "text": "a query without judgments"},
    ]
    write_jsonl(folder / f"corpus{sfx}", docs, gz)
    write_jsonl(folder / f"queries{sfx}", queries, gz)
    (folder / "qrels").mkdir(exist_ok=True)
    (folder / "qrels" / f"{split}.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td2\t1\nq2\td3\t1\nq3\td5\t1\n", encoding="utf-8"
    )
    return folder


@pytest.fixture
def tiny_beir(tmp_path: Path) -> Path:
    return make_beir(tmp_path / "tiny")


def tiny_bert(folder: Path, words: list[str], *, num_labels: int | None = None) -> Path:
    """A 2-layer, 32-wide BERT with a vocabulary of ``words`` saved to ``folder`` (no hub): a bare encoder,
    or a sequence classifier (a cross-encoder) when ``num_labels`` is given."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertModel, BertTokenizerFast

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        **({"num_labels": num_labels} if num_labels else {}),
    )
    model = BertForSequenceClassification(config) if num_labels else BertModel(config)
    model.save_pretrained(folder)
    BertTokenizerFast(str(folder / "vocab.txt")).save_pretrained(folder)
    return folder


def tiny_sentence_transformer(folder: Path, words: list[str]) -> Path:
    """The one tiny bi-encoder of the tests: :func:`tiny_bert` over ``words`` with mean pooling, saved as a
    sentence-transformers folder (``folder/st``); loads offline in a second."""
    from sentence_transformers import SentenceTransformer

    try:
        from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.models import Pooling, Transformer

    bert = tiny_bert(folder / "bert", words)
    st = SentenceTransformer(modules=[Transformer(str(bert), max_seq_length=32), Pooling(32, "mean")], device="cpu")
    st.save(str(folder / "st"))
    return folder / "st"
