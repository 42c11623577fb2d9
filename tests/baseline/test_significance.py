"""Mann-Whitney U against brute-force enumeration and textbook tables; the bootstrap.

Both are scipy's; these tests pin the harness's own choices on top (exact up to
EXACT_MAX_PAIRS without ties, no exact test with ties, a one-value side in the bootstrap)
and that the results are still the textbook ones.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from harness.baseline.significance import (
    EXACT_MAX_PAIRS,
    bootstrap_ratio_of_medians,
    mann_whitney_u,
    min_exact_p,
)


def brute_force_p_greater(x: list[float], y: list[float]) -> float:
    """P(U >= u_observed) over every way of splitting the pooled values into x and y."""
    pooled = [*x, *y]

    def u_of(xs: list[float], ys: list[float]) -> float:
        return sum((a > b) + 0.5 * (a == b) for a in xs for b in ys)

    observed = u_of(x, y)
    splits = list(itertools.combinations(range(len(pooled)), len(x)))
    hits = 0
    for chosen in splits:
        xs = [pooled[i] for i in chosen]
        ys = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        hits += u_of(xs, ys) >= observed - 1e-9
    return hits / len(splits)


@pytest.mark.parametrize(
    ("x", "y"),
    [
        ([5.0, 6.0, 7.0], [1.0, 2.0, 3.0]),
        ([1.1, 3.2, 4.5, 6.0], [0.5, 2.0, 2.5, 3.0, 3.9]),
        ([10.0, 12.0, 9.5, 11.0, 13.0], [9.0, 8.0, 9.2, 10.5, 7.5]),
        ([2.0, 4.0, 6.0, 8.0, 10.0, 12.0], [1.0, 3.0, 5.0, 7.0, 9.0, 11.0]),
    ],
)
def test_exact_p_matches_enumeration(x: list[float], y: list[float]) -> None:
    result = mann_whitney_u(x, y, alternative="greater")
    assert result.method == "exact"
    assert result.p_value == pytest.approx(brute_force_p_greater(x, y), abs=1e-12)


def test_exact_p_matches_textbook_table() -> None:
    # Published critical-value tables, n1 = 4, n2 = 5: P(U <= u) for u = 0..3.
    y = [10.0, 11.0, 12.0, 13.0, 14.0]
    table = {0: 0.0079, 1: 0.0159, 2: 0.0317, 3: 0.0556}
    for u, expected in table.items():
        # Three values below every y and one that beats exactly u of them: U == u.
        x = [1.0, 2.0, 3.0, 9.5 + u]
        result = mann_whitney_u(x, y, alternative="less")
        assert result.u == u
        assert result.p_value == pytest.approx(expected, abs=5e-5)


def test_smallest_p_with_five_repeats_is_below_default_alpha() -> None:
    assert min_exact_p(5, 5) == pytest.approx(1 / 252)
    assert min_exact_p(5, 5) < 0.01 < min_exact_p(4, 4)
    separated = mann_whitney_u([6.0, 7, 8, 9, 10], [1.0, 2, 3, 4, 5], alternative="greater")
    assert separated.p_value == pytest.approx(1 / 252)


def test_auto_stays_exact_up_to_the_harness_limit_not_scipys() -> None:
    # scipy's own "auto" goes asymptotic above 8 values a side; the gate's rule is pairs.
    x = [float(v) for v in range(0, 40, 2)]
    y = [float(v) for v in range(1, 41, 2)]
    assert len(x) * len(y) <= EXACT_MAX_PAIRS
    assert mann_whitney_u(x, y).method == "exact"
    assert mann_whitney_u([*x, 100.0], [*y, 101.0]).method == "asymptotic"


def test_two_sided_and_argument_order_are_symmetric() -> None:
    x, y = [3.1, 4.7, 5.2, 6.0, 2.2], [1.0, 2.5, 3.0, 4.0, 1.7, 0.9]
    greater = mann_whitney_u(x, y, alternative="greater").p_value
    assert mann_whitney_u(y, x, alternative="less").p_value == pytest.approx(greater)
    two = mann_whitney_u(x, y).p_value
    assert two == pytest.approx(mann_whitney_u(y, x).p_value)
    assert two == pytest.approx(min(1.0, 2 * greater))


@pytest.mark.parametrize("shift", [0.0, 0.3, 0.6, 1.0])
def test_normal_approximation_is_close_to_exact_for_n20(shift: float) -> None:
    rng = np.random.default_rng(7)
    x = list(rng.normal(shift, 1.0, 20))
    y = list(rng.normal(0.0, 1.0, 20))
    for alternative in ("greater", "less", "two-sided"):
        exact = mann_whitney_u(x, y, alternative=alternative, method="exact").p_value
        approx = mann_whitney_u(x, y, alternative=alternative, method="asymptotic").p_value
        assert approx == pytest.approx(exact, abs=0.005)


def test_ties_use_the_corrected_normal_approximation() -> None:
    x = [1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 5.0]
    y = [2.0, 3.0, 3.0, 4.0, 5.0, 5.0, 6.0]
    result = mann_whitney_u(x, y, alternative="less")
    assert result.method == "asymptotic"
    # The permutation distribution with the same ties is the exact reference.
    permutation = brute_force_p_greater(y, x)
    assert result.p_value == pytest.approx(permutation, abs=0.02)
    with pytest.raises(ValueError, match="without ties"):
        mann_whitney_u(x, y, method="exact")


def test_all_values_tied_gives_no_evidence() -> None:
    assert mann_whitney_u([1.0, 1.0, 1.0], [1.0, 1.0]).p_value == 1.0


def test_empty_sample_is_rejected() -> None:
    with pytest.raises(ValueError, match="both samples"):
        mann_whitney_u([], [1.0])


def test_bootstrap_interval_is_seeded_and_detects_a_shift() -> None:
    base = [1.00, 1.02, 0.98]
    slow = [1.20, 1.22, 1.19]
    first = bootstrap_ratio_of_medians(base, slow, confidence=0.99, seed=3)
    assert first == bootstrap_ratio_of_medians(base, slow, confidence=0.99, seed=3)
    assert first.ratio == pytest.approx(1.20)
    assert first.low > 1.0
    assert first.excludes_one()
    assert first.p_value < 0.01
    same = bootstrap_ratio_of_medians(base, [0.99, 1.01, 1.03], seed=3)
    assert not same.excludes_one()
    assert same.low <= 1.0 <= same.high


def test_bootstrap_rejects_a_zero_baseline() -> None:
    with pytest.raises(ValueError, match="positive"):
        bootstrap_ratio_of_medians([0.0, 1.0], [1.0, 1.0])


def test_bootstrap_interval_is_scipys_percentile_interval() -> None:
    from scipy.stats import bootstrap

    base, cur = [1.0, 1.1, 0.9, 1.05], [1.3, 1.2, 1.25]
    ours = bootstrap_ratio_of_medians(base, cur, confidence=0.95, resamples=500, seed=11)

    def ratio(b: np.ndarray, c: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.asarray(np.median(c, axis=axis) / np.median(b, axis=axis))

    theirs = bootstrap(
        (base, cur),
        ratio,
        n_resamples=500,
        confidence_level=0.95,
        method="percentile",
        rng=np.random.default_rng(11),
    ).confidence_interval
    assert (ours.low, ours.high) == pytest.approx((theirs.low, theirs.high), rel=1e-12)


def test_a_single_value_side_is_held_fixed_in_the_bootstrap() -> None:
    one_base = bootstrap_ratio_of_medians([2.0], [2.4, 2.6, 2.5], seed=1)
    assert one_base.ratio == pytest.approx(1.25)
    assert 1.2 <= one_base.low <= one_base.high <= 1.3
    one_each = bootstrap_ratio_of_medians([2.0], [3.0], resamples=100)
    assert (one_each.low, one_each.high, one_each.p_value) == (1.5, 1.5, 0.0)


@pytest.mark.parametrize("seed", range(12))
def test_bootstrap_p_value_agrees_with_the_interval(seed: int) -> None:
    rng = np.random.default_rng(seed)
    base = list(rng.lognormal(0.0, 0.05, 3))
    cur = list(rng.lognormal(float(rng.choice([0.0, 0.05, 0.15])), 0.05, 4))
    result = bootstrap_ratio_of_medians(base, cur, confidence=0.9, resamples=1000, seed=seed)
    assert (result.p_value < 0.1) == result.excludes_one()
