"""The report's section on the queries themselves: which examples the prompt showed, and how the
generated queries look (title copies, passage mentions, generic queries, length against the target's)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthneg.data.beir import Corpus, load_beir
from synthneg.data.locate import resolve_dataset
from synthneg.data.triples import QueryRecord
from synthneg.experiment.stages import write_json
from synthneg.generate.examples import QueryExample, read_examples, sample_beir_examples
from synthneg.generate.query_quality import query_quality

if TYPE_CHECKING:
    from synthneg.experiment.config import ExperimentConfig

QUALITY_FILE = Path("generation") / "queries.quality.json"


def load_examples(config: ExperimentConfig) -> list[QueryExample]:
    """The few-shot example queries of ``queries.examples``: a file, or a seeded draw from a split of the
    labeled set (``labeled_dataset`` or ``passages.beir``); none when unset."""
    ex = config.queries.examples
    if ex is None:
        return []
    if ex.path is not None:
        return read_examples(ex.path)
    folder = resolve_dataset(config.labeled_source or "", data_dir=config.eval.data_dir)
    return sample_beir_examples(folder, split=ex.split or "train", n=ex.n, seed=ex.seed, with_passages=ex.passages)


def write_quality(
    out: Path,
    records: Sequence[QueryRecord],
    passages: Corpus,
    config: ExperimentConfig,
    examples: Sequence[QueryExample],
) -> Path:
    """Write ``generation/queries.quality.json``: title copies, passage mentions, generic queries, and the
    length against the target collection's train queries (when it has a train split)."""
    target: list[str] = []
    if config.labeled_source:
        folder = resolve_dataset(config.labeled_source, data_dir=config.eval.data_dir)
        if (folder / "qrels" / "train.tsv").is_file():
            target = list(load_beir(folder, "train").queries.values())
    quality = query_quality(records, {d.id: d.title for d in passages.documents}, target)
    quality["examples"] = [{"id": e.id} for e in examples]  # ids only: the texts stay in the data
    verdicts = out / "generation" / "queries.filter.jsonl"
    if config.queries.filter is not None and verdicts.is_file():
        reasons = [json.loads(line)["reason"] for line in verdicts.read_text(encoding="utf-8").splitlines()]
        quality["filter"] = {
            "settings": config.queries.filter.key_fields(),
            "queries": len(reasons),
            "kept": reasons.count(None),
            "removed": {r: reasons.count(r) for r in sorted({r for r in reasons if r is not None})},
        }
    path = out / QUALITY_FILE
    write_json(path, quality)
    return path


def load_quality(out: Path) -> dict[str, Any] | None:
    """The quality figures the runner wrote for the run's queries, or None before the queries exist."""
    path = out / QUALITY_FILE
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else None


def _length(d: dict[str, Any]) -> str:
    if not d.get("n"):
        return "-"
    return f"{d['mean']:.1f} (median {d['median']:.0f}, IQR {d['p25']:.0f}-{d['p75']:.0f})"


def quality_lines(quality: dict[str, Any], labeled_source: str | None) -> list[str]:
    """Markdown lines: the examples used, then one table row of the queries' shapes and lengths."""
    lines = ["## The generated queries", ""]
    examples = quality.get("examples") or []
    if examples:
        lines += [
            f"{len(examples)} labeled queries of `{labeled_source}` were shown to the LLM as examples "
            f"(ids {', '.join(str(e['id']) for e in examples)}); no other label was read to make the queries.",
            "",
        ]
    filt = quality.get("filter")
    if filt:
        s = filt["settings"]
        rules = (
            [f"round trip (own passage in the top {s['round_trip_k']} under {s['retriever']})"]
            if s.get("round_trip_k")
            else []
        )
        rules += ["a content word of the passage"] if s.get("require_content_word") else []
        if s.get("max_lead_overlap"):
            rules += [f"under {s['max_lead_overlap']:.0%} of its terms from the title or first sentence"]
        if s.get("max_sibling_overlap"):
            rules += [f"term overlap with a kept query of its passage under {s['max_sibling_overlap']:.0%}"]
        if s.get("easy_dense_k"):
            rules += [f"own passage not in the zero-shot encoder's top {s['easy_dense_k']} (hard queries only)"]
        if s.get("judge_min_score") is not None:
            rules += [f"judge {s.get('judge_model', 'llm')} scores its passage {s['judge_min_score']:+g} or more"]
        rules += [f"passages of {s['min_passage_words']}+ words"] if s.get("min_passage_words") else []
        removed = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in filt["removed"].items()) or "none"
        lines += [
            f"Query filter ({'; '.join(rules) or 'no rule'}): **{filt['kept']} of {filt['queries']} kept** "
            f"({filt['kept'] / filt['queries']:.1%}); removed: {removed}. The table describes the kept queries.",
            "",
        ]
    lines += [
        "| queries | copy the title | mention the passage / study | no content word of the passage "
        "| words per query | words per target query (train split) |",
        "| ---: | ---: | ---: | ---: | --- | --- |",
        f"| {quality['queries']} | {quality['copies_title']:.1%} | {quality['mentions_passage']:.1%} "
        f"| {quality['no_content_word']:.1%} | {_length(quality['length_words'])} "
        f"| {_length(quality['target_length_words'])} |",
        "",
    ]
    return lines
