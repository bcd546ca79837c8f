"""Every path of an experiment's run folder, in one place.

```
<run>/
  generation/       LLM call stores (committed), queries.jsonl, negatives-*.jsonl, rejects, ledgers, reranker scores
  markers/          one done-marker per data stage: queries.json, negatives-<arm>.json
  triples/<arm>.jsonl
  models/<arm>/seed<N>/          fine-tuned models (not committed; synthneg_done.json marks a finished one)
  eval/<label>/<dataset>.json    per-query metrics of each evaluated model
  diagnostics/<arm>.json         the report's cached diagnostics of an arm's triples
  stages.json  contamination.json  results.json  report.md  plot.png  synthneg.log
```
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunLayout:
    """The paths of the run folder ``root``."""

    root: Path

    @property
    def generation(self) -> Path:
        return self.root / "generation"

    @property
    def queries(self) -> Path:
        """The run's query records (the ``in-batch`` arm's training file)."""
        return self.generation / "queries.jsonl"

    def store(self, name: str) -> Path:
        """A generation store by file name (``queries.calls.jsonl``, ``negatives-ce.scores.jsonl``, ...)."""
        return self.generation / name

    def marker(self, stage: str) -> Path:
        """The done-marker of a data stage: ``queries`` or ``negatives-<arm>``."""
        return self.root / "markers" / f"{stage}.json"

    def triples(self, arm: str) -> Path:
        return self.root / "triples" / f"{arm}.jsonl"

    def model(self, arm: str, seed: int) -> Path:
        return self.root / "models" / arm / f"seed{seed}"

    def evaluation(self, label: str, dataset: str) -> Path:
        """Per-query metrics of model ``label`` (``zero-shot`` or ``<arm>/seed<N>``) on one dataset."""
        return self.root / "eval" / label / f"{dataset}.json"

    def diagnostics(self, arm: str) -> Path:
        return self.root / "diagnostics" / f"{arm}.json"

    @property
    def stages(self) -> Path:
        return self.root / "stages.json"

    @property
    def contamination(self) -> Path:
        return self.root / "contamination.json"

    @property
    def results(self) -> Path:
        return self.root / "results.json"

    @property
    def report(self) -> Path:
        return self.root / "report.md"
