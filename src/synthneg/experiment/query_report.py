"""The report's section on the queries themselves: which examples the prompt showed, and how the
generated queries look (title copies, passage mentions, generic queries, length against the target's)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

QUALITY_FILE = Path("generation") / "queries.quality.json"


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
