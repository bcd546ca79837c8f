"""The experiment configuration: a YAML file validated by pydantic, with errors that name the file,
the line and the field."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, Field, ValidationError, model_validator

from synthneg.data.io import read_text_strict
from synthneg.errors import DataError
from synthneg.experiment.arms import ARMS, DEFAULT_ARMS, control_arms
from synthneg.experiment.config_sections import (
    EvalConfig,
    ExamplesConfig,
    LLMConfig,
    MiningConfig,
    NearMissConfig,
    PassagesConfig,
    QueriesConfig,
    QueryFilterConfig,
    StrictModel,
    TrainSettings,
)

__all__ = [
    "ALL_ARMS",
    "Arm",
    "EvalConfig",
    "ExamplesConfig",
    "ExperimentConfig",
    "LLMConfig",
    "MiningConfig",
    "NearMissConfig",
    "PassagesConfig",
    "QueriesConfig",
    "QueryFilterConfig",
    "TrainSettings",
    "dataset_label",
    "load_config",
]


def _known_arm(name: str) -> str:
    if name not in ARMS:
        raise ValueError(f"unknown arm {name!r}; the arms are: {', '.join(ARMS)}")
    return name


#: an arm's name, checked against the registry (synthneg.experiment.arms)
Arm = Annotated[str, AfterValidator(_known_arm)]
ALL_ARMS: tuple[str, ...] = DEFAULT_ARMS


class ExperimentConfig(StrictModel):
    """One experiment: passages -> queries -> negatives per arm -> fine-tuning per seed -> BEIR evaluation."""

    name: str = "experiment"
    output_dir: Path = Path("runs/experiment")
    passages: PassagesConfig
    llm: LLMConfig = LLMConfig()
    negatives_llm: LLMConfig | None = Field(
        default=None,
        description="the LLM that writes the llm-query and llm-query-positive negatives (default: `llm`, which "
        "always writes the queries): e.g. a larger model's negatives for the same small model's queries",
    )
    queries: QueriesConfig = QueriesConfig()
    mining: MiningConfig = MiningConfig()
    base_model: str = "minilm"
    labeled_dataset: str | None = Field(
        default=None, description="BEIR dataset whose train split feeds the 'labeled' arm (default: passages.beir)"
    )
    labeled_split: str = "train"
    labeled_per_query: int | None = Field(
        default=None,
        ge=1,
        description="at most this many labeled positives per train query, a seeded choice (default: every "
        "judged pair; NFCorpus train has 110,575 pairs for 2,590 queries, too many for a CPU budget)",
    )
    labeled_positive: Literal["random", "bm25-top"] = Field(
        default="random",
        description="with labeled_per_query, which judged documents of a query stay its positives: 'random', a "
        "seeded choice; 'bm25-top', those BM25 scores highest for the query (NFCorpus judges 42.7 documents "
        "per query, and a random one is often only loosely related to it)",
    )
    title_negatives: Literal["text", "with-title"] = Field(
        default="text",
        description="the title arm's BM25 negatives: 'text', without their titles, as its positives are; "
        "'with-title', the whole passage (every negative but no positive then opens with a title, a cue the model "
        "can learn instead of the topic; kept for the runs made with it)",
    )
    llm_positives: Literal["with-title", "text"] = Field(
        default="with-title",
        description="how the arms with LLM-written negatives (which never open with a title) show their positives: "
        "'with-title', title and text as the queries stage wrote them; 'text', without the title, as the negatives",
    )
    labeled_mask_judged: bool = Field(
        default=False,
        description="train the 'labeled' arm with its qrels masking in-batch candidates judged relevant to a "
        "query (synthneg.losses): NFCorpus batches of 32 bring about one such passage per query",
    )
    matched_arm: Literal["llm-query", "llm-query-positive", "llm-near-miss", "llm-query-verified", "ce"] = Field(
        default="llm-query-positive",
        description="the 'bm25-matched' control trains on BM25 negatives for exactly the queries this arm kept "
        "a triple for, so that a gain from the arm's query subset is not read as a gain from its negatives",
    )
    near_miss: NearMissConfig = NearMissConfig()
    train: TrainSettings = TrainSettings()
    eval: EvalConfig = EvalConfig()
    seeds: list[int] = Field(default=[0], min_length=1)
    arms: list[Arm] = Field(default=list(ALL_ARMS), min_length=1)
    arm_seeds: dict[Arm, int] = Field(
        default_factory=dict,
        description="a budget cut: train this arm on only the first n of `seeds`; the report states it",
    )
    significance_resamples: int = Field(default=10_000, ge=100)
    rules_revision: Literal[1, 2] = Field(
        default=2,
        description="revision of the rules that clean and validate LLM output (synthneg.llm.parse): 2, the "
        "current rules; 1, the rules of the committed arXiv-500 run, so that its stored calls replay to the same "
        "queries and negatives",
    )

    @model_validator(mode="after")
    def _unique(self) -> ExperimentConfig:
        if len(set(self.arms)) != len(self.arms):
            raise ValueError("arms: each arm may appear once")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds: each seed may appear once")
        for arm, n in self.arm_seeds.items():
            if not ARMS[arm].trained:
                raise ValueError(f"arm_seeds: {arm} is not trained, so it has no seeds to cut")
            if arm not in self.arms:
                raise ValueError(f"arm_seeds: {arm!r} is not one of the arms")
            if not 1 <= n <= len(self.seeds):
                raise ValueError(f"arm_seeds: {arm!r} needs 1..{len(self.seeds)} seeds (the length of 'seeds')")
        if "in-batch-unfiltered" in self.arms and self.queries.filter is None:
            raise ValueError("the 'in-batch-unfiltered' arm trains on the queries before queries.filter: set a filter")
        for control, target in control_arms(self):
            if target not in self.arms:
                raise ValueError(f"the {control!r} control needs the arm it matches ({target!r}) among the arms")
        for arm in self.arms:
            if (base := ARMS[arm].builds_on) is not None and base not in self.arms:
                raise ValueError(f"the {arm!r} arm trains on the negatives of {base!r}: list {base!r} among the arms")
        if self.labeled_positive != "random" and not self.labeled_per_query:
            raise ValueError("labeled_positive chooses among a query's judged documents: it needs labeled_per_query")
        if "labeled" in self.arms and not self.labeled_source:
            raise ValueError(
                "the 'labeled' arm needs labeled_dataset (or passages.beir): a BEIR set with a train split"
            )
        return self

    @property
    def negatives_llm_config(self) -> LLMConfig:
        """The LLM that writes the LLM arms' negatives: ``negatives_llm``, or ``llm``."""
        return self.negatives_llm or self.llm

    @property
    def labeled_source(self) -> str | None:
        """The BEIR set (name or path) the ``labeled`` ceiling reads its train queries and qrels from."""
        return self.labeled_dataset or self.passages.beir

    def seeds_of(self, arm: str) -> list[int]:
        """The seeds an arm is trained with: ``seeds``, or its first ``arm_seeds[arm]`` (zero-shot: none)."""
        if not ARMS[arm].trained:
            return []
        return self.seeds[: self.arm_seeds.get(arm, len(self.seeds))]  # type: ignore[call-overload]

    def rules_key(self) -> list[int]:
        """The rules' revision as a key part: empty for revision 1, so keys made before revisions existed hold."""
        return [] if self.rules_revision == 1 else [self.rules_revision]

    def digest(self, *parts: Any) -> str:
        """A short stable hash of JSON-able parts (used to key cached stages)."""
        blob = json.dumps(parts, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:10]


def dataset_label(name: str) -> str:
    """A dataset's short label: the BEIR name, or the folder name of a path."""
    return Path(name).name or name


def _line_of(root: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the YAML key or item at pydantic location ``loc`` (its parent's when missing)."""
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if getattr(k, "value", None) == str(key)), None)
            if pair is None:
                return line
            line, node = pair[0].start_mark.line + 1, pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def load_config(path: str | Path) -> ExperimentConfig:
    """Read and validate an experiment YAML; relative paths in it are resolved against its folder."""
    path = Path(path)
    if not path.is_file():
        raise DataError("config file not found", path=path)
    text = read_text_strict(path)
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DataError(
            f"invalid YAML: {getattr(exc, 'problem', exc)}", path=path, line=mark.line + 1 if mark else None
        ) from None
    if not isinstance(data, dict):
        raise DataError("the config must be a YAML mapping", path=path, line=1)
    try:
        config = ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        field = ".".join(str(p) for p in loc) or "(top level)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise DataError(f"field '{field}': {err['msg']}{more}", path=path, line=_line_of(root, loc)) from None
    base = path.parent

    def beside(p: Path) -> Path:
        """``p`` relative to the config's folder, written plainly (``docs/x``, not ``experiments/../docs/x``)."""
        return Path(os.path.normpath(base / p))

    updates: dict[str, Any] = {}
    if not config.output_dir.is_absolute():
        updates["output_dir"] = beside(config.output_dir)
    if config.passages.path is not None and not config.passages.path.is_absolute():
        updates["passages"] = config.passages.model_copy(update={"path": beside(config.passages.path)})
    if config.queries.path is not None and not config.queries.path.is_absolute():
        updates["queries"] = config.queries.model_copy(update={"path": beside(config.queries.path)})
    return config.model_copy(update=updates) if updates else config
