"""Slopes with intervals: exact on a line, honest about noise, quiet about too few points."""

from __future__ import annotations

import random

import pytest

from harness.workloads.drift import linear_trend, relative_drift_per_hour


@pytest.mark.parametrize(("n", "t_975"), [(3, 12.706), (5, 3.182), (12, 2.228), (32, 2.042)])
def test_the_95_percent_interval_is_the_student_t_table_times_the_stderr(
    n: int, t_975: float
) -> None:
    # Published two-sided 95% quantiles for n - 2 degrees of freedom (1, 3, 10, 30).
    xs = [float(i) for i in range(n)]
    trend = linear_trend(xs, [x + (0.5 if i % 3 else -0.7) for i, x in enumerate(xs)])
    assert trend is not None
    assert trend.stderr is not None
    assert trend.high is not None
    assert trend.low is not None
    assert (trend.high - trend.slope) / trend.stderr == pytest.approx(t_975, rel=5e-4)
    assert (trend.slope - trend.low) / trend.stderr == pytest.approx(t_975, rel=5e-4)


def test_a_flat_series_has_a_zero_width_interval_and_no_trend() -> None:
    trend = linear_trend([0.0, 1.0, 2.0, 3.0], [4.0, 4.0, 4.0, 4.0])
    assert trend is not None
    assert trend.slope == 0.0
    assert trend.stderr == 0.0
    assert not trend.significant


def test_a_perfect_line_gives_its_slope_and_a_zero_width_interval() -> None:
    trend = linear_trend([0, 1, 2, 3], [5, 7, 9, 11])
    assert trend is not None
    assert trend.slope == pytest.approx(2.0)
    assert trend.intercept == pytest.approx(5.0)
    assert trend.low == pytest.approx(2.0)
    assert trend.high == pytest.approx(2.0)
    assert trend.significant


def test_too_few_points_or_no_spread_in_time_give_no_interval() -> None:
    assert linear_trend([1.0], [2.0]) is None
    assert linear_trend([1.0, 1.0, 1.0], [2.0, 3.0, 4.0]) is None
    two = linear_trend([0, 1], [0, 1])
    assert two is not None
    assert two.low is None
    assert not two.significant


def test_the_interval_covers_the_true_slope_about_95_percent_of_the_time() -> None:
    rng = random.Random(42)
    xs = [float(i) for i in range(20)]
    covered = 0
    trials = 400
    for _ in range(trials):
        ys = [3.0 + 0.5 * x + rng.gauss(0, 2.0) for x in xs]
        trend = linear_trend(xs, ys)
        assert trend is not None
        assert trend.low is not None
        assert trend.high is not None
        covered += trend.low <= 0.5 <= trend.high
    assert 0.92 <= covered / trials <= 0.98


def test_pure_noise_is_rarely_called_a_trend() -> None:
    rng = random.Random(7)
    xs = [float(i) for i in range(30)]
    flagged = sum(
        bool(trend and trend.significant)
        for trend in (linear_trend(xs, [rng.gauss(10, 1) for _ in xs]) for _ in range(200))
    )
    assert flagged <= 20  # ~5% expected


def test_relative_drift_is_a_fraction_of_the_mean_per_hour() -> None:
    # 100 tok/s losing 0.01 tok/s every second = -36 tok/s per hour = -36% per hour.
    xs = [float(t) for t in range(0, 610, 10)]  # mean 300
    trend = linear_trend(xs, [100.0 - 0.01 * (x - 300) for x in xs])
    drift = relative_drift_per_hour(trend)
    assert drift is not None
    assert drift["slope"] == pytest.approx(-0.36)
    assert relative_drift_per_hour(None) is None
