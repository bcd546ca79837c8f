"""Export triples as a Hugging Face ``datasets`` folder with sentence-transformers columns and a card.

The folder loads with ``datasets.load_from_disk(folder)``: a ``DatasetDict`` with one split per method
(``bm25``, ``dense``, ``ce``, ``llm``...), columns ``anchor, positive, negative`` (what the
sentence-transformers trainer and MultipleNegativesRankingLoss take), optionally followed by the
metadata columns. ``README.md`` is a dataset card: counts per method, models and prompts, licences.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from synthneg.data.triples import Triple
from synthneg.errors import SynthnegError

logger = logging.getLogger(__name__)

ST_COLUMNS = ("anchor", "positive", "negative")
META_COLUMNS = ("query_id", "positive_id", "negative_id", "method", "scores", "provenance")


def split_name(method: str) -> str:
    """A valid ``datasets`` split name for a method (letters, digits, underscores)."""
    name = re.sub(r"\W+", "_", method).strip("_")
    return name or "unnamed"


def _columns(triples: Sequence[Triple], with_metadata: bool) -> dict[str, list[Any]]:
    cols: dict[str, list[Any]] = {
        "anchor": [t.query for t in triples],
        "positive": [t.positive for t in triples],
        "negative": [t.negative for t in triples],
    }
    if with_metadata:
        cols["query_id"] = [t.query_id for t in triples]
        cols["positive_id"] = [t.positive_id for t in triples]
        cols["negative_id"] = [t.negative_id for t in triples]
        cols["method"] = [t.method for t in triples]
        cols["scores"] = [json.dumps(t.scores, sort_keys=True) for t in triples]
        cols["provenance"] = [json.dumps(t.provenance, sort_keys=True, default=str) for t in triples]
    return cols


def build_dataset_dict(triples: Sequence[Triple], *, with_metadata: bool = False) -> Any:
    """A ``datasets.DatasetDict`` with one split per method."""
    from datasets import Dataset, DatasetDict

    if not triples:
        raise SynthnegError("no triples to export")
    by_split: dict[str, list[Triple]] = defaultdict(list)
    for t in triples:
        by_split[split_name(t.method)].append(t)
    return DatasetDict({name: Dataset.from_dict(_columns(rows, with_metadata)) for name, rows in by_split.items()})


def _provenance_summary(triples: Sequence[Triple]) -> dict[str, list[str]]:
    """Per method, the distinct models, prompt template hashes and first stages seen in provenance."""
    out: dict[str, set[str]] = defaultdict(set)
    for t in triples:
        for key in ("model", "template", "template_hash", "prompt", "first_stage", "mode"):
            value = t.provenance.get(key)
            if value:
                out[t.method].add(f"{key}: {value}")
        generator = t.provenance.get("generator")
        if isinstance(generator, dict):  # LLM-written negatives: which model wrote them, and how it ran
            for key in ("backend", "model", "model_id"):
                if generator.get(key):
                    out[t.method].add(f"generator {key}: {generator[key]}")
    return {m: sorted(v) for m, v in out.items()}


_CARD_FRONT_MATTER = (
    "---",
    "task_categories:",
    "- sentence-similarity",
    "- text-retrieval",
    "tags:",
    "- sentence-transformers",
    "- hard-negatives",
    "- synthneg",
    "---",
    "",
)


def dataset_card(
    triples: Sequence[Triple],
    *,
    title: str = "synthneg training triples",
    licences: Sequence[str] = (),
    with_metadata: bool = False,
) -> str:
    """A Hugging Face dataset card (README.md) for the triples."""
    counts = Counter(t.method for t in triples)
    queries = len({t.query_id for t in triples})
    lines = [
        *_CARD_FRONT_MATTER,
        f"# {title}",
        "",
        f"{len(triples)} (anchor, positive, negative) triples for {queries} queries, written by "
        "synthneg (queries by an LLM or from labeled pairs; negatives mined from a corpus "
        "or written by an LLM without one). Load with `datasets.load_from_disk(folder)`; each split is one method "
        "and trains directly with sentence-transformers' MultipleNegativesRankingLoss.",
        "",
        "## Counts per method",
        "",
        "| split | method | triples | queries |",
        "| --- | --- | ---: | ---: |",
    ]
    for method in sorted(counts):
        n_q = len({t.query_id for t in triples if t.method == method})
        lines.append(f"| `{split_name(method)}` | {method} | {counts[method]} | {n_q} |")
    lines += ["", "## Models and prompts", ""]
    for method, items in sorted(_provenance_summary(triples).items()):
        lines.append(f"- **{method}**: " + "; ".join(f"`{i}`" for i in items))
    lines += [
        "",
        "## Columns",
        "",
        "`anchor` (query), `positive` (passage the query was written from or judged relevant), "
        "`negative` (hard negative).",
    ]
    if with_metadata:
        lines.append(
            "Metadata: `query_id`, `positive_id`, `negative_id` (null for generated negatives), `method`, "
            "`scores` and `provenance` (JSON strings: models, template hashes, parameters, seeds)."
        )
    return "\n".join(lines + _licence_section(licences))


def _licence_section(licences: Sequence[str]) -> list[str]:
    """The card's licence lines: the sources' licences as given, and what generated text is subject to."""
    lines = ["", "## Licences of the sources", ""]
    if licences:
        lines += [f"- {lic}" for lic in licences]
    else:
        lines.append("- Not stated: give the licence of your passages and of the LLM outputs with `--licence`.")
    return [
        *lines,
        "",
        "Generated text is subject to the licence of the LLM that wrote it; mined negatives are passages of the "
        "source corpus and keep its licence.",
        "",
    ]


def export_triples(
    triples: Sequence[Triple],
    out_dir: str | Path,
    *,
    with_metadata: bool = False,
    licences: Sequence[str] = (),
    title: str = "synthneg training triples",
) -> Path:
    """Write the triples as a ``datasets`` folder (``load_from_disk`` works) with a README.md card."""
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise SynthnegError(f"{out} exists and is not empty; choose a new folder")
    dd = build_dataset_dict(triples, with_metadata=with_metadata)
    dd.save_to_disk(str(out))
    (out / "README.md").write_text(
        dataset_card(triples, title=title, licences=licences, with_metadata=with_metadata), encoding="utf-8"
    )
    logger.info("exported %s to %s", {k: len(v) for k, v in dd.items()}, out)
    return out


def push_to_hub(folder: str | Path, repo_id: str, *, private: bool = True, token: str | None = None) -> str:
    """Push an exported folder (splits and card) to the Hugging Face Hub; returns the dataset URL."""
    from datasets import load_from_disk

    folder = Path(folder)
    dd = load_from_disk(str(folder))
    dd.push_to_hub(repo_id, private=private, token=token)
    from huggingface_hub import HfApi

    HfApi(token=token).upload_file(
        path_or_fileobj=str(folder / "README.md"), path_in_repo="README.md", repo_id=repo_id, repo_type="dataset"
    )
    return f"https://huggingface.co/datasets/{repo_id}"
