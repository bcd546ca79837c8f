"""Paired randomization test and bootstrap CI: hand-checkable cases and parity with scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from synthneg.errors import DataError
from synthneg.evaluate.significance import align, bootstrap_ci, compare, holm, randomization_test


def test_identical_systems_p_is_one_and_diff_zero():
    a = np.array([0.1, 0.5, 0.9, 0.3, 0.0, 1.0] * 10)
    res = compare(a, a.copy(), n_resamples=2000)
    assert res.mean_diff == 0.0
    assert res.p_value == 1.0
    assert res.ci_low == res.ci_high == 0.0
    assert not res.significant()


def test_constant_shift_ci_excludes_zero():
    rng = np.random.default_rng(1)
    b = rng.uniform(0, 0.8, size=50)
    res = compare(b + 0.05, b, n_resamples=2000)
    assert res.mean_diff == pytest.approx(0.05)
    assert res.ci_low == pytest.approx(0.05) and res.ci_high == pytest.approx(0.05)
    assert res.ci_low > 0
    # every sign flip but the all-plus one (and its mirror) gives a smaller |mean|
    assert res.p_value == pytest.approx(1 / 2001)
    assert res.significant()


def test_exact_small_case_by_hand():
    # d = (1, 1, 1): of the 8 sign assignments only +++ and --- reach |mean| = 1 -> p = 2/8
    assert randomization_test([1, 1, 1], [0, 0, 0]) == pytest.approx(0.25)
    # d = (1, -1): every assignment has |mean| in {0, 1}; observed 0 -> p = 1
    assert randomization_test([1, 0], [0, 1]) == 1.0


@pytest.mark.parametrize("seed", [0, 3])
def test_matches_scipy_permutation_test(seed):
    rng = np.random.default_rng(seed)
    a = rng.uniform(size=10)
    b = a - rng.normal(0.1, 0.2, size=10)

    def mean_diff(x, y, axis):
        return np.mean(x - y, axis=axis)

    ref = stats.permutation_test(
        (a, b), mean_diff, permutation_type="samples", vectorized=True, n_resamples=5000, alternative="two-sided"
    )
    ours = randomization_test(a, b, n_resamples=5000)  # 2**10 <= 5000: exact, like scipy
    assert ours == pytest.approx(ref.pvalue, rel=1e-9)


def test_monte_carlo_close_to_scipy_and_seeded():
    rng = np.random.default_rng(7)
    a = rng.uniform(size=200)
    b = a - rng.normal(0.02, 0.15, size=200)
    ref = stats.permutation_test(
        (a, b),
        lambda x, y, axis: np.mean(x - y, axis=axis),
        permutation_type="samples",
        vectorized=True,
        n_resamples=20000,
        random_state=0,
    )
    p1 = randomization_test(a, b, n_resamples=20000, seed=1)
    assert abs(p1 - ref.pvalue) < 0.02
    assert randomization_test(a, b, n_resamples=20000, seed=1) == p1


def test_bootstrap_ci_covers_mean_and_is_seeded():
    rng = np.random.default_rng(2)
    a, b = rng.uniform(size=300), rng.uniform(size=300)
    low, high = bootstrap_ci(a, b, seed=5, n_resamples=4000)
    assert low < float(np.mean(a - b)) < high
    assert (low, high) == bootstrap_ci(a, b, seed=5, n_resamples=4000)
    # close to the normal-approximation interval
    se = np.std(a - b, ddof=1) / np.sqrt(300)
    assert high - low == pytest.approx(2 * 1.96 * se, rel=0.1)


def test_per_query_mappings_are_aligned_by_id():
    a = {"q1": {"nDCG@10": 1.0}, "q2": {"nDCG@10": 0.5}, "q3": {"nDCG@10": 0.0}}
    b = {"q3": {"nDCG@10": 0.0}, "q1": {"nDCG@10": 0.5}, "q2": {"nDCG@10": 0.5}}
    res = compare(a, b, metric="nDCG@10")
    assert res.n == 3 and res.mean_diff == pytest.approx(0.5 / 3)
    assert res.metric == "nDCG@10"
    with pytest.raises(DataError, match="metric="):
        compare(a, b)


def test_missing_queries():
    a, b = {"q1": 1.0, "q2": 0.0}, {"q1": 0.5}
    with pytest.raises(DataError, match="different queries"):
        align(a, b)
    assert align(a, b, on_missing="intersect")[0] == ["q1"]
    qids, _, y = align(a, b, on_missing="zero")
    assert qids == ["q1", "q2"] and y.tolist() == [0.5, 0.0]


def test_bad_input():
    with pytest.raises(DataError):
        compare([1.0, 2.0], [1.0])
    with pytest.raises(DataError):
        compare([], [])
    with pytest.raises(DataError, match="finite"):
        compare([float("nan")], [0.0])


def test_holm_by_hand():
    # sorted: 0.01 x 3 = 0.03; 0.03 x 2 = 0.06; 0.04 x 1 = 0.04 -> monotone 0.06
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm([]) == []
    with pytest.raises(DataError):
        holm([1.5])


def test_format_p_never_prints_a_zero_p() -> None:
    from synthneg.evaluate.significance import format_p

    assert format_p(1 / 10_001) == "<0.001"  # the smallest p of 10,000 resamples
    assert format_p(0.0123) == "0.012"
    assert format_p(1.0) == "1.000"
