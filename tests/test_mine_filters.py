"""Selection rules shared by the miners: positives, rank window, margins, score bounds, sampling."""

from __future__ import annotations

import pytest

from synthneg.errors import SynthnegError
from synthneg.mine.filters import SelectionConfig, SelectionStats, select_negatives

IDS = ["p", "a", "b", "c", "d", "e"]
SCORES = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]


def pick(config: SelectionConfig, positive_score: float | None = 0.9, **kw) -> list[str]:
    chosen = select_negatives(
        IDS, SCORES, query_id="q1", exclude_ids={"p"}, config=config, positive_score=positive_score, **kw
    )
    return [IDS[s.index] for s in chosen]


def test_positive_never_chosen_and_ranks_skip_it():
    chosen = select_negatives(IDS, SCORES, query_id="q", exclude_ids={"p"}, config=SelectionConfig(num_negatives=5))
    assert [IDS[s.index] for s in chosen] == ["a", "b", "c", "d", "e"]
    assert [s.rank for s in chosen] == [0, 1, 2, 3, 4]


def test_identical_text_counts_as_positive():
    texts = ["P", "P", "B", "C", "D", "E"]
    got = pick(SelectionConfig(num_negatives=2), candidate_texts=texts, exclude_texts={"P"})
    assert got == ["b", "c"]


def test_rank_window_is_half_open():
    assert pick(SelectionConfig(num_negatives=5, range_min=1, range_max=3)) == ["b", "c"]


def test_absolute_and_relative_margins():
    assert pick(SelectionConfig(num_negatives=5, absolute_margin=0.35)) == ["d", "e"]
    # 0.9 - 0.4 * 0.9 = 0.54
    assert pick(SelectionConfig(num_negatives=5, relative_margin=0.4)) == ["d", "e"]


def test_score_bounds():
    assert pick(SelectionConfig(num_negatives=5, max_score=0.65, min_score=0.45)) == ["c", "d"]


def test_margin_without_positive_score_is_an_error():
    with pytest.raises(SynthnegError, match="positive"):
        pick(SelectionConfig(absolute_margin=0.1), positive_score=None)


@pytest.mark.parametrize(
    "kwargs",
    [{"num_negatives": 0}, {"range_min": -1}, {"range_min": 3, "range_max": 3}, {"sampling": "best"}],
)
def test_invalid_configs(kwargs):
    with pytest.raises(SynthnegError):
        SelectionConfig(**kwargs)


def test_random_sampling_is_seeded_and_order_free():
    cfg = SelectionConfig(num_negatives=2, sampling="random", seed=7)
    first = pick(cfg)
    assert first == pick(cfg)
    assert "p" not in first and len(first) == 2
    draws = {tuple(pick(SelectionConfig(num_negatives=2, sampling="random", seed=s))) for s in range(20)}
    assert len(draws) > 1


def test_stats_count_short_queries():
    stats = SelectionStats()
    pick(SelectionConfig(num_negatives=3, max_score=0.55), stats=stats)
    assert stats.queries == 1 and stats.short == 1
    assert stats.skipped["max_score"] == 3 and stats.skipped["positive"] == 1
