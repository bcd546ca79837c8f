"""The trainer's losses: the in-batch losses by name (:func:`make_loss`), and a MultipleNegativesRankingLoss that does
not push a query away from passages judged relevant to it.

MNRL scores every query against every passage in its batch and treats all but its own positive as
negatives. That suits synthetic data (one query per passage), but labeled data with many judged
documents per query trains against its own labels: in NFCorpus train (42.7 judged documents per
query) the other rows of a batch of 32 bring on average 0.93 passages judged relevant to a query
(:func:`synthneg.diagnostics.in_batch_judged`), about as many as the one positive it is trained towards.

:func:`judged_masked_mnrl` masks those candidates out of each query's softmax (their logit is -inf),
using the qrels. Batches, steps and everything else stay as in plain MNRL; a row's own positive is
never masked. Single process only (no gathering across devices).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, get_args

from synthneg.data.triples import QueryRecord, Triple
from synthneg.errors import SynthnegError
from synthneg.st_modules import st_module

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

LossName = Literal["mnrl", "cached-mnrl", "mnrl-symmetric"]
LOSSES: tuple[str, ...] = get_args(LossName)
LOSS_CLASSES = {  # the sentence-transformers loss each name trains with
    "mnrl": "MultipleNegativesRankingLoss",
    "cached-mnrl": "CachedMultipleNegativesRankingLoss",
    "mnrl-symmetric": "MultipleNegativesSymmetricRankingLoss",
}
ROW_COLUMN = "label"  # sentence-transformers hands this column to the loss as ``labels`` (and never encodes it)


def make_loss(
    st: SentenceTransformer, name: LossName, *, scale: float = 20.0, mini_batch_size: int = 32, ddp: bool = False
) -> Any:
    """The sentence-transformers loss ``name`` (:data:`LOSS_CLASSES`); under DDP (``ddp``), in-batch candidates come
    from every process's share of the batch. ``mnrl-symmetric`` adds each passage against the batch's queries."""
    losses = st_module("losses")
    kwargs: dict[str, Any] = {"scale": scale} | ({"gather_across_devices": True} if ddp else {})
    if name == "cached-mnrl":
        kwargs |= {"mini_batch_size": mini_batch_size, "show_progress_bar": False}
    return getattr(losses, LOSS_CLASSES[name])(st, **kwargs)


def row_documents(rows: Sequence[Triple | QueryRecord], *, use_negatives: bool = True) -> list[tuple[str | None, ...]]:
    """The document ids that each row puts into a batch, in MNRL's column order (positive, then negative)."""
    out: list[tuple[str | None, ...]] = []
    for r in rows:
        if isinstance(r, Triple) and use_negatives:
            out.append((r.positive_id, r.negative_id))
        else:
            out.append((r.positive_id,))
    return out


def judged_mask(
    row_ids: Sequence[int],
    docs: Sequence[tuple[str | None, ...]],
    judged: Sequence[frozenset[str]],
) -> list[list[bool]]:
    """``mask[i][c]``: candidate column ``c`` of the batch is judged relevant to query ``i`` and is not its
    own positive. Columns are MNRL's: the batch's positives, then its negatives (one block per doc slot)."""
    size = len(row_ids)
    slots = len(docs[row_ids[0]]) if size else 0
    column_ids = [docs[row_ids[c % size]][c // size] for c in range(size * slots)]
    return [
        [c != i and column_ids[c] is not None and column_ids[c] in judged[row_ids[i]] for c in range(size * slots)]
        for i in range(size)
    ]


def judged_masked_mnrl(
    model: SentenceTransformer,
    rows: Sequence[Triple | QueryRecord],
    qrels: Mapping[str, Mapping[str, int]],
    *,
    scale: float = 20.0,
    use_negatives: bool = True,
) -> Any:
    """An MNRL loss over ``rows`` (the training dataset's rows, in order; the dataset carries each row's
    index in its ``label`` column) that masks in-batch candidates judged relevant (grade > 0) to the query."""
    import torch

    base = st_module("losses").MultipleNegativesRankingLoss
    docs = row_documents(rows, use_negatives=use_negatives)
    judged = [frozenset(d for d, g in qrels.get(r.query_id, {}).items() if g > 0) for r in rows]

    class JudgedMaskedMNRL(base):  # type: ignore[misc, valid-type]
        """See :mod:`synthneg.losses`."""

        def forward(self, sentence_features: Any, labels: Any) -> Any:
            embeddings = [self.model(features)["sentence_embedding"] for features in sentence_features]
            return self.masked_loss(embeddings, labels)

        def masked_loss(self, embeddings: list[Any], labels: Any) -> Any:
            if labels is None:
                raise SynthnegError("the judged-masked loss needs each row's index in the dataset's 'label' column")
            queries, candidates = embeddings[0], torch.cat(embeddings[1:], dim=0)
            row_ids = [int(x) for x in labels.tolist()]
            if len(embeddings) - 1 != len(docs[row_ids[0]]):
                raise SynthnegError("the dataset's passage columns do not match the rows given to the loss")
            scores = self.similarity_fct(queries, candidates) * self.scale
            mask = torch.tensor(judged_mask(row_ids, docs, judged), dtype=torch.bool, device=scores.device)
            self.masked_total = getattr(self, "masked_total", 0) + int(mask.sum())  # for the log and tests
            scores = scores.masked_fill(mask, float("-inf"))
            target = torch.arange(queries.size(0), device=scores.device)
            return torch.nn.functional.cross_entropy(scores, target)

    return JudgedMaskedMNRL(model, scale=scale)
