"""The demo slice shipped with the package: 60 arXiv title + abstract records (ids 0704.0001 to
0704.0060, April 2007). arXiv releases this metadata under CC0 1.0; it comes from the Cornell/Kaggle
arXiv metadata snapshot (fields ``id, title, abstract, categories``)."""

from __future__ import annotations

from pathlib import Path

DEMO_PASSAGES = Path(__file__).with_name("arxiv_cc0_sample.jsonl.gz")
