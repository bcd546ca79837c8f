"""How good is a set of negatives? Per method: counts, lengths, lexical overlap, dense hardness,
duplicates, an estimated false-negative rate, examples; rendered as markdown and a PNG histogram."""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from synthneg.data.triples import Triple
from synthneg.errors import SynthnegError
from synthneg.mine.filters import query_rng

if TYPE_CHECKING:
    from synthneg.mine.cross_encoder import PairScorer
    from synthneg.search.dense import DenseEncoder

logger = logging.getLogger(__name__)

_WORD = re.compile(r"\w+", re.UNICODE)


@lru_cache(maxsize=1)
def _analyzer() -> tuple[frozenset[str], Any]:
    import Stemmer
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN), Stemmer.Stemmer("english")


def terms(text: str) -> set[str]:
    """Stemmed, lower-cased word types without English stopwords (the BM25 analyzer's view)."""
    stop, stemmer = _analyzer()
    return set(stemmer.stemWords([w for w in _WORD.findall(text.lower()) if w not in stop]))


def coverage(a: set[str], b: set[str]) -> float:
    """Share of ``a``'s terms that occur in ``b`` (0 when ``a`` is empty)."""
    return len(a & b) / len(a) if a else 0.0


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


@dataclass
class MethodReport:
    """Diagnostics of one method's triples."""

    method: str
    count: int
    queries: int
    words: dict[str, float]  # mean words of query / positive / negative
    query_terms_in_negative: float
    query_terms_in_positive: float
    negative_positive_jaccard: float
    duplicate_rows: int
    negative_equals_positive: int
    unique_negative_share: float
    sim_query_negative: float | None = None
    sim_query_positive: float | None = None
    dense_harder_than_positive: float | None = None
    fn_rate: float | None = None
    fn_judged: int = 0
    examples: list[Triple] = field(default_factory=list)
    series: dict[str, np.ndarray] = field(default_factory=dict, repr=False)


def _dense(encoder: DenseEncoder, rows: Sequence[Triple]) -> tuple[np.ndarray, np.ndarray]:
    """Cosine sim(query, negative) and sim(query, positive) per row (texts encoded once)."""
    texts = sorted({t.positive for t in rows} | {t.negative for t in rows})
    queries = sorted({t.query for t in rows})
    p_emb = dict(zip(texts, encoder.encode(texts, prefix=encoder.passage_prefix, show_progress=False), strict=True))
    q_emb = dict(zip(queries, encoder.encode(queries, prefix=encoder.query_prefix, show_progress=False), strict=True))
    neg = np.array([float(q_emb[t.query] @ p_emb[t.negative]) for t in rows], dtype=np.float32)
    pos = np.array([float(q_emb[t.query] @ p_emb[t.positive]) for t in rows], dtype=np.float32)
    return neg, pos


def _fn_rate(reranker: PairScorer, rows: Sequence[Triple], margin: float) -> float:
    """Share of negatives the reranker scores at least as relevant as the positive (minus ``margin``)."""
    pairs = [(t.query, t.negative) for t in rows] + [(t.query, t.positive) for t in rows]
    s = reranker.score(pairs)
    neg, pos = s[: len(rows)], s[len(rows) :]
    return float(np.mean(neg >= pos - margin))


def _sample(rows: list[Triple], n: int | None, seed: int, tag: str) -> list[Triple]:
    if n is None or len(rows) <= n:
        return rows
    idx = sorted(query_rng(seed, tag).choice(len(rows), size=n, replace=False).tolist())
    return [rows[i] for i in idx]


def inspect_method(
    method: str,
    rows: list[Triple],
    *,
    encoder: DenseEncoder | None = None,
    reranker: PairScorer | None = None,
    fn_sample: int = 50,
    fn_margin: float = 0.0,
    dense_sample: int | None = 1000,
    n_examples: int = 2,
    seed: int = 0,
) -> MethodReport:
    """Diagnostics of one method's rows (see :func:`inspect_triples`)."""
    q_terms = [terms(t.query) for t in rows]
    p_terms = [terms(t.positive) for t in rows]
    n_terms = [terms(t.negative) for t in rows]
    over_qn = np.array([coverage(q, n) for q, n in zip(q_terms, n_terms, strict=True)])
    over_qp = np.array([coverage(q, p) for q, p in zip(q_terms, p_terms, strict=True)])
    jac_np = np.array([jaccard(n, p) for n, p in zip(n_terms, p_terms, strict=True)])
    words = {k: np.array([len(getattr(t, k).split()) for t in rows]) for k in ("query", "positive", "negative")}
    keys = [(t.query_id, t.negative.strip()) for t in rows]
    report = MethodReport(
        method=method,
        count=len(rows),
        queries=len({t.query_id for t in rows}),
        words={k: float(v.mean()) for k, v in words.items()},
        query_terms_in_negative=float(over_qn.mean()),
        query_terms_in_positive=float(over_qp.mean()),
        negative_positive_jaccard=float(jac_np.mean()),
        duplicate_rows=len(keys) - len(set(keys)),
        negative_equals_positive=sum(t.negative.strip() == t.positive.strip() for t in rows),
        unique_negative_share=len({t.negative for t in rows}) / len(rows),
        examples=_sample(rows, n_examples, seed, f"examples:{method}"),
        series={"negative_words": words["negative"], "query_terms_in_negative": over_qn},
    )
    if encoder is not None:
        sub = _sample(rows, dense_sample, seed, f"dense:{method}")
        neg, pos = _dense(encoder, sub)
        report.sim_query_negative = float(neg.mean())
        report.sim_query_positive = float(pos.mean())
        report.dense_harder_than_positive = float(np.mean(neg >= pos))
        report.series["hardness"] = neg - pos
    if reranker is not None and fn_sample > 0:
        sub = _sample(rows, fn_sample, seed, f"fn:{method}")
        report.fn_rate = _fn_rate(reranker, sub, fn_margin)
        report.fn_judged = len(sub)
    return report


def inspect_triples(triples: Sequence[Triple], **kwargs: Any) -> list[MethodReport]:
    """One :class:`MethodReport` per method, in first-seen order; ``kwargs`` go to :func:`inspect_method`.

    ``encoder`` (a :class:`~synthneg.search.dense.DenseEncoder`) adds dense hardness; ``reranker``
    (a pair scorer, e.g. the LLM reranker) adds the estimated false-negative rate on ``fn_sample``
    triples per method.
    """
    if not triples:
        raise SynthnegError("no triples to inspect")
    groups: dict[str, list[Triple]] = defaultdict(list)
    for t in triples:
        groups[t.method].append(t)
    return [inspect_method(m, rows, **kwargs) for m, rows in groups.items()]


def _fmt(x: float | None, pct: bool = False) -> str:
    if x is None:
        return "-"
    return f"{100 * x:.1f}%" if pct else f"{x:.3f}"


def _clip(text: str, n: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def table_row(r: MethodReport) -> str:
    """One method's row of the report's table (markdown)."""
    w = r.words
    fn = f"{_fmt(r.fn_rate, True)} (n={r.fn_judged})" if r.fn_rate is not None else "-"
    return (
        f"| {r.method} | {r.count} | {r.queries} | {w['query']:.0f}/{w['positive']:.0f}/{w['negative']:.0f} "
        f"| {_fmt(r.query_terms_in_negative, True)} | {_fmt(r.query_terms_in_positive, True)} "
        f"| {_fmt(r.negative_positive_jaccard)} | {_fmt(r.sim_query_negative)} | {_fmt(r.sim_query_positive)} "
        f"| {_fmt(r.dense_harder_than_positive, True)} | {fn} | {r.duplicate_rows} "
        f"| {r.negative_equals_positive} | {_fmt(r.unique_negative_share, True)} |"
    )


def example_lines(r: MethodReport) -> list[str]:
    """One method's examples (markdown lines, texts clipped)."""
    lines: list[str] = []
    for t in r.examples:
        lines += [
            f"**{r.method}** · query `{t.query_id}`: {_clip(t.query)}",
            f"- positive: {_clip(t.positive)}",
            f"- negative: {_clip(t.negative)}",
            "",
        ]
    return lines


def render_markdown(reports: Sequence[MethodReport], *, plot_name: str | None = None) -> str:
    """A markdown report: one table over methods, then examples."""
    return render_parts([table_row(r) for r in reports], [x for r in reports for x in example_lines(r)], plot_name)


def render_parts(rows: Sequence[str], examples: Sequence[str], plot_name: str | None = None) -> str:
    """The report from rendered rows and example lines (e.g. kept from earlier runs, per method)."""
    lines = [
        "# Negatives report",
        "",
        "| method | triples | queries | words q/pos/neg | q-terms in neg | q-terms in pos | Jaccard neg-pos "
        "| sim(q,neg) | sim(q,pos) | neg >= pos (dense) | FN rate (reranker) | duplicates | neg == pos | unique neg |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *rows,
    ]
    lines += [
        "",
        "q-terms: share of the query's stemmed non-stopword terms found in the passage. "
        "neg >= pos (dense): share of negatives at least as close to the query as the positive under the bi-encoder "
        "(a false-negative proxy). FN rate: share of sampled negatives the reranker scores at least as relevant as "
        "the positive. duplicates: repeated (query, negative) rows.",
        "",
    ]
    if plot_name:
        lines += [f"![histograms]({plot_name})", ""]
    lines += ["## Examples", "", *examples]
    return "\n".join(lines)


def plot_histograms(reports: Sequence[MethodReport], path: str | Path) -> Path:
    """A PNG with per-method histograms: negative length, query-term coverage, dense hardness."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("negative_words", "negative length (words)"),
        ("query_terms_in_negative", "query terms found in negative"),
        ("hardness", "sim(q,neg) - sim(q,pos)"),
    ]
    panels = [p for p in panels if any(p[0] in r.series for r in reports)]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6))
    axes = np.atleast_1d(axes)
    for ax, (key, label) in zip(axes, panels, strict=True):
        data = [(r.method, r.series[key]) for r in reports if key in r.series]
        lo = min(float(v.min()) for _, v in data)
        hi = max(float(v.max()) for _, v in data)
        bins = np.linspace(lo, hi if hi > lo else lo + 1, 30)
        for method, values in data:
            ax.hist(values, bins=bins, alpha=0.5, label=f"{method} (n={len(values)})")
        if key == "hardness":
            ax.axvline(0, color="black", lw=1, ls="--")
        ax.set_xlabel(label)
        ax.set_ylabel("triples")
        ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


@dataclass(frozen=True)
class InBatchJudged:
    """In-batch false negatives that a labeled set implies for MultipleNegativesRankingLoss.

    ``per_query``: the expected number of other rows' passages (positives and negatives) in a query's
    batch that are judged relevant to it, under random batches of ``batch_size`` that keep rows sharing
    a text apart (as the NO_DUPLICATES sampler does). ``queries_exposed``: the share of rows for which
    at least one other row can bring such a passage into its batch. The loss treats all of them as
    negatives.
    """

    batch_size: int
    rows: int
    per_query: float
    queries_exposed: float

    def to_dict(self) -> dict[str, float | int]:
        return {
            "batch_size": self.batch_size,
            "rows": self.rows,
            "per_query": self.per_query,
            "queries_exposed": self.queries_exposed,
        }


def in_batch_judged(triples: Sequence[Triple], qrels: dict[str, dict[str, int]], batch_size: int) -> InBatchJudged:
    """How many judged-relevant passages another row brings into a query's batch (see :class:`InBatchJudged`)."""
    rows = list(triples)
    if batch_size < 2:
        raise SynthnegError(f"batch_size must be at least 2, got {batch_size}")
    if len(rows) < 2:
        return InBatchJudged(batch_size, len(rows), 0.0, 0.0)
    by_doc: dict[str, list[int]] = defaultdict(list)  # doc id -> rows holding it as positive or negative
    for j, t in enumerate(rows):
        by_doc[t.positive_id].append(j)
        if t.negative_id is not None and t.negative_id != t.positive_id:
            by_doc[t.negative_id].append(j)
    texts = [{t.query, t.positive, t.negative} for t in rows]
    share = (min(batch_size, len(rows)) - 1) / (len(rows) - 1)  # chance that a given other row shares the batch
    total, exposed = 0.0, 0
    for i, t in enumerate(rows):
        judged = {d for d, grade in qrels.get(t.query_id, {}).items() if grade > 0}
        count = 0
        for doc in judged:
            for j in by_doc.get(doc, ()):
                if j != i and not texts[i] & texts[j]:  # rows sharing a text never share a batch
                    count += 1
        total += count * share
        exposed += count > 0
    return InBatchJudged(batch_size, len(rows), total / len(rows), exposed / len(rows))
