"""The arms of an experiment, one entry each: what an arm trains on, what it reads, and how its data is made.

Config validation, the runner, ``--status``, the report and the terminal table look arms up here instead of comparing
names. Adding an arm (a new negative strategy, a verified variant) is one :class:`ArmSpec` in :data:`ARMS` plus its
data function. An arm's stage key is ``{"arm", "queries", "passages"}`` (the run's query file and passages) for arms
that train on the generated queries, plus what :attr:`ArmSpec.key` adds; keys of the committed runs depend on those
parts exactly, so a change to a ``key`` function must keep the old parts for the old settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from synthneg.errors import DataError, SynthnegError
from synthneg.experiment.llm_arms import llm_key, llm_negatives, near_miss_key, near_miss_negatives
from synthneg.experiment.mining_arms import bm25_negatives, ce_negatives, dense_key, dense_negatives, random_negatives

if TYPE_CHECKING:
    from synthneg.data.triples import QueryRecord, Triple
    from synthneg.experiment.runner import ExperimentRunner

MakeTriples = Callable[
    ["ExperimentRunner", str, "list[QueryRecord]", "dict[str, Any]"], "list[Triple] | list[Triple | QueryRecord]"
]
KeyParts = Callable[["ExperimentRunner"], "dict[str, Any] | None"]


@dataclass(frozen=True)
class ArmSpec:
    """One arm. ``make(runner, arm, records, info)`` builds its training triples (None: the arm has no negatives
    stage; ``info`` is the stage's log entry, for ledgers and counts); ``key`` adds the parts
    its stage key depends on beyond the queries and passages (None from it: not computable yet)."""

    name: str
    short: str  # the terminal table's label (fits 80 columns)
    title: str  # the report's label
    trained: bool = True
    reads_corpus: bool = False  # its negatives come from the passage collection (the corpus-free arms do not)
    mines: bool = False  # its negatives are mined from the mining pool (mining.pool: the passages or the collection)
    default: bool = True  # among a config's arms when it lists none
    uses_queries: bool = True  # trains on the run's generated queries
    store: str | None = None  # its generation store under generation/, whose progress --status shows
    pairs: str | None = None  # trains on this query file under generation/ (query-positive pairs, in-batch only)
    make: MakeTriples | None = None
    key: KeyParts | None = None
    # a BM25 control: the arm whose kept queries it trains on (CONFIG_MATCHED: the config's matched_arm)
    controls: str | None = None
    # the arm whose negatives it trains on (made first; its LLM calls count in this arm's costs too)
    builds_on: str | None = None
    # an LLM writes its negatives (without a title): config.llm_positives says how its positives are shown
    writes_negatives: bool = False

    @property
    def has_negatives(self) -> bool:
        """Whether the arm has a negatives stage (a triples file) before training."""
        return self.make is not None


#: :attr:`ArmSpec.controls` of ``bm25-matched``: the arm it matches is the config's ``matched_arm``
CONFIG_MATCHED = "matched_arm"


def control_target(arm: str, config: Any) -> str | None:
    """The arm whose kept queries the control ``arm`` trains on with BM25 negatives (None: not a control)."""
    target = ARMS[arm].controls
    return config.matched_arm if target == CONFIG_MATCHED else target


def control_arms(config: Any) -> list[tuple[str, str]]:
    """``(control, matched arm)`` for each BM25 control among the config's arms, in the config's order."""
    return [(arm, target) for arm in config.arms if (target := control_target(arm, config)) is not None]


def _bm25_matched(runner: ExperimentRunner, arm: str, records: list[QueryRecord], info: dict[str, Any]) -> list[Triple]:
    from synthneg.data.triples import read_triples
    from synthneg.mine.bm25 import mine_bm25

    matched_arm = control_target(arm, runner.config)
    assert matched_arm is not None
    runner.negatives(matched_arm, records)  # the queries to match (cached when made before)
    subset = matched_records(records, read_triples(runner.layout.triples(matched_arm)))
    info["matched"] = {"arm": matched_arm, "queries": len(subset), "of": len(records)}
    return [
        replace(t, method=arm, provenance={**t.provenance, "matched_to": matched_arm})
        for t in mine_bm25(subset, runner.mining_pool, show_progress=runner.show_progress)
    ]


def matched_records(records: list[QueryRecord], triples: list[Triple]) -> list[QueryRecord]:
    """The records whose query has a triple in ``triples`` (another arm's), in the records' order: the
    ``bm25-matched`` control trains on the same queries as that arm, with BM25 negatives."""
    kept = {t.query_id for t in triples}
    subset = [r for r in records if r.query_id in kept]
    missing = kept - {r.query_id for r in subset}
    if missing:
        raise DataError(
            f"{len(missing)} query id(s) of the matched arm's triples are not in the query file "
            f"(e.g. {sorted(missing)[0]!r}); were its triples made for other queries?"
        )
    return subset


def _bm25_matched_key(runner: ExperimentRunner, arm: str) -> dict[str, Any] | None:
    matched_arm = control_target(arm, runner.config)
    assert matched_arm is not None
    matched = runner.data_digest(matched_arm)
    return None if matched is None else {"matched": {"arm": matched_arm, "triples": matched}}


def _bm25_control(name: str, short: str, queries: str, target: str) -> ArmSpec:
    """A BM25 control arm: BM25 negatives for exactly the queries ``target`` kept a triple for."""
    return ArmSpec(
        name,
        short,
        f"control: BM25 negatives, {queries}",
        reads_corpus=True,
        mines=True,
        default=False,
        make=_bm25_matched,
        key=partial(_bm25_matched_key, arm=name),
        controls=target,
    )


def _llm_arm(name: str, short: str, label: str, mode: str) -> ArmSpec:
    """An arm of the paper's corpus-free negatives, written from the query (``mode``) by the run's LLM."""
    return ArmSpec(
        name,
        short,
        label,
        store=f"negatives-{name}.calls.jsonl",
        make=partial(llm_negatives, mode=mode),
        key=llm_key,
        writes_negatives=True,
    )


def _near_miss_arm(name: str, short: str, label: str) -> ArmSpec:
    """An arm of the two-step near-miss negatives (its verifiers come from the config); not run unless listed."""
    return ArmSpec(
        name,
        short,
        label,
        default=False,
        store="negatives-llm-near-miss.calls.jsonl",
        make=near_miss_negatives,
        key=partial(near_miss_key, arm=name),
        writes_negatives=True,
    )


#: the arm whose negatives ``llm-query-verified-mixed`` trains on where it kept one
VERIFIED = "llm-query-verified"


def _verified_mixed(
    runner: ExperimentRunner, arm: str, records: list[QueryRecord], info: dict[str, Any]
) -> list[Triple | QueryRecord]:
    """The verified arm's triples (the same negatives, relabelled), and every other query as a pair: the queries
    the verifiers kept no negative for still train, on in-batch negatives only, as in the ``in-batch`` arm."""
    from synthneg.data.triples import read_triples

    verified = read_triples(runner.negatives(VERIFIED, records))  # made first (cached when made before)
    kept = {t.query_id for t in verified}
    rows: list[Triple | QueryRecord] = [
        replace(t, method=arm, provenance={**t.provenance, "from_arm": VERIFIED}) for t in verified
    ]
    rows += [r for r in records if r.query_id not in kept]
    info["from_arm"] = VERIFIED
    return rows


def _verified_mixed_key(runner: ExperimentRunner) -> dict[str, Any] | None:
    verified = runner.data_digest(VERIFIED)
    return None if verified is None else {"verified": verified}


def _labeled(runner: ExperimentRunner, arm: str, records: list[QueryRecord], info: dict[str, Any]) -> list[Triple]:
    return runner.labeled_triples()


def _labeled_key(runner: ExperimentRunner) -> dict[str, Any]:
    cfg = runner.config
    return {
        "dataset": cfg.labeled_source,
        "split": cfg.labeled_split,
        # with a cap, the judged-relevant documents left out are excluded from the negatives too
        **({"per_query": cfg.labeled_per_query, "excludes": "judged-relevant"} if cfg.labeled_per_query else {}),
        **({"positive": cfg.labeled_positive} if cfg.labeled_positive != "random" else {}),  # keys unchanged
    }


def _title(runner: ExperimentRunner, arm: str, records: list[QueryRecord], info: dict[str, Any]) -> list[Triple]:
    from synthneg.generate.title_queries import shown_untitled, title_records
    from synthneg.mine.bm25 import mine_bm25

    titled, skipped = title_records(runner.passages.documents)
    info["title_queries"] = {"kept": len(titled), "skipped_without_title": skipped}
    if not titled:
        raise SynthnegError(f"{arm}: no passage has a title of 4 or more words")
    triples = mine_bm25(titled, runner.mining_pool, show_progress=runner.show_progress)
    if runner.config.title_negatives == "with-title":
        return [replace(t, method=arm) for t in triples]
    corpus = runner.mining_pool  # (a title arm's positive always has text; a negative may have a title only)
    return [replace(t, method=arm, negative=shown_untitled(corpus[t.negative_id])) for t in triples]


def _title_key(runner: ExperimentRunner) -> dict[str, Any]:
    from synthneg.generate.title_queries import MIN_TITLE_WORDS

    return {"passages": runner.passages.fingerprint, "min_title_words": MIN_TITLE_WORDS}


def _title_negatives_key(runner: ExperimentRunner) -> dict[str, Any]:
    """The title arm's key; ``with-title`` (the runs made before the negatives lost their titles) keys as before."""
    with_title = runner.config.title_negatives == "with-title"
    return {**_title_key(runner), **({} if with_title else {"negatives": "text without title"})}


def _in_batch_title(
    runner: ExperimentRunner, arm: str, records: list[QueryRecord], info: dict[str, Any]
) -> list[Triple | QueryRecord]:
    """The run's (kept) queries and, beside them, each passage's title as one more query for it: two free views of
    a passage in one in-batch training set (the title queries cost no LLM call and read no other passage)."""
    from synthneg.generate.title_queries import title_records

    titled, skipped = title_records(runner.passages.documents)
    info["title_queries"] = {"kept": len(titled), "skipped_without_title": skipped}
    return [*records, *titled]


def _mining_key(runner: ExperimentRunner) -> dict[str, Any]:
    return {"mining": runner.config.mining.ce_key_fields()}


_SPECS = (
    ArmSpec("zero-shot", "zero-shot", "zero-shot base model (no training)", trained=False, uses_queries=False),
    ArmSpec(
        "labeled",
        "labeled ceiling",
        "labeled ceiling (own train queries, BM25 negatives)",
        reads_corpus=True,
        default=False,
        uses_queries=False,
        make=_labeled,
        key=_labeled_key,
    ),
    ArmSpec("bm25", "BM25 neg.", "BM25 negatives", reads_corpus=True, mines=True, make=bm25_negatives),
    _llm_arm("llm-query", "LLM neg. (query)", "LLM negatives from the query alone (the paper's method)", "query"),
    _llm_arm("llm-query-positive", "LLM neg. (query+pos.)", "LLM negatives from query + positive", "query+positive"),
    _near_miss_arm(
        "llm-near-miss", "LLM near-miss", "LLM negatives: a near-miss query, then a passage for it (no corpus)"
    ),
    _near_miss_arm(
        "llm-query-verified",
        "LLM verified",
        "LLM negatives, verified: near-miss query, passage, refused if the judge finds it answers the query",
    ),
    ArmSpec(
        "llm-query-verified-mixed",
        "LLM verified + in-b.",
        "LLM negatives, verified, where kept; in-batch negatives only for the other queries (no corpus)",
        default=False,
        make=_verified_mixed,
        key=_verified_mixed_key,
        builds_on=VERIFIED,
        writes_negatives=True,
    ),
    ArmSpec("in-batch", "in-batch only", "in-batch negatives only", pairs="queries.jsonl"),
    ArmSpec(
        "in-batch-unfiltered",
        "in-batch, unfiltered",
        "in-batch negatives only, every query (before queries.filter)",
        default=False,
        pairs="queries.all.jsonl",
    ),
    ArmSpec(
        "dense",
        "dense neg.",
        "dense negatives: the base encoder's top passage below 95% of the positive's score (TopK-PercPos)",
        reads_corpus=True,
        mines=True,
        default=False,
        make=dense_negatives,
        key=dense_key,
    ),
    ArmSpec(
        "random", "random neg.", "random passage as negative", reads_corpus=True, mines=True, make=random_negatives
    ),
    ArmSpec(
        "ce",
        "CE neg.",
        "CE negatives (LLM reranker)",
        reads_corpus=True,
        mines=True,
        store="negatives-ce.scores.jsonl",
        make=ce_negatives,
        key=_mining_key,
    ),
    ArmSpec(
        "title",
        "title as query",
        "free baseline: each passage's title as its query, BM25 negatives (no LLM)",
        reads_corpus=True,
        mines=True,
        default=False,
        uses_queries=False,
        make=_title,
        key=_title_negatives_key,
    ),
    ArmSpec(
        "in-batch-title",
        "in-batch + titles",
        "in-batch negatives only, the generated queries plus each passage's title as a query (no corpus)",
        default=False,
        make=_in_batch_title,
        key=_title_key,
    ),
    _bm25_control("bm25-matched", "BM25 neg. (matched)", "same queries as the matched arm", CONFIG_MATCHED),
    _bm25_control(
        "bm25-matched-verified", "BM25 (verified q.)", "the queries llm-query-verified kept", "llm-query-verified"
    ),
)

#: every arm by name, in the order of the terminal table
ARMS: dict[str, ArmSpec] = {spec.name: spec for spec in _SPECS}
#: the arms a config runs when it lists none, in their order of old (keys and reports of committed runs use it)
DEFAULT_ARMS: tuple[str, ...] = ("zero-shot", "in-batch", "llm-query", "llm-query-positive", "bm25", "ce", "random")
assert set(DEFAULT_ARMS) == {s.name for s in _SPECS if s.default}
#: the arms that fine-tune the base model (every arm but zero-shot)
TRAINED_ARMS: tuple[str, ...] = tuple(name for name, spec in ARMS.items() if spec.trained)


def arm(name: str) -> ArmSpec:
    """The spec of arm ``name`` (a ``KeyError`` naming the known arms otherwise)."""
    try:
        return ARMS[name]
    except KeyError:
        raise KeyError(f"unknown arm {name!r}; known: {', '.join(ARMS)}") from None
