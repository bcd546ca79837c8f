"""The passages an experiment writes queries for: a file, or a seeded sample of a BEIR corpus (its corpus only,
never its queries or qrels)."""

from __future__ import annotations

import random

from synthneg.data.beir import Corpus, load_folder_corpus
from synthneg.data.locate import resolve_dataset
from synthneg.data.passages import read_passages
from synthneg.experiment.config import ExperimentConfig


def load_training_passages(config: ExperimentConfig, *, sample: bool = True) -> Corpus:
    """The passages the LLM writes queries for (``passages.path``, or a seeded sample of ``passages.beir``);
    ``sample=False``: the whole collection they are drawn from (``passages.limit`` still applies)."""
    p = config.passages
    if p.path is not None:
        corpus = read_passages(
            p.path, id_field=p.id_field, text_field=p.text_field, title_field=p.title_field, limit=p.limit
        )
    else:
        corpus = load_folder_corpus(resolve_dataset(p.beir or "", data_dir=config.eval.data_dir))
        if p.limit:
            corpus = Corpus.from_documents(corpus.documents[: p.limit], source=corpus.source)
    if sample and p.sample is not None and p.sample < len(corpus):
        chosen = sorted(random.Random(p.seed).sample(range(len(corpus)), p.sample))
        corpus = Corpus.from_documents([corpus.documents[i] for i in chosen], source=corpus.source)
    return corpus
