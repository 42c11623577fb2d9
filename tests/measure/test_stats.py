from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.measure.stats import (
    coefficient_of_variation,
    linear_fit,
    percentile,
    stability_score,
    summarize,
)


def test_percentile_interpolates_like_numpy() -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    assert percentile(values, 50) == pytest.approx(2.5)
    assert percentile(values, 90) == pytest.approx(3.7)
    assert percentile([5.0], 99) == 5.0


def test_percentile_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


def test_linear_fit_recovers_a_known_line() -> None:
    fit = linear_fit([100, 1000, 10000], [2 + 0.25 * x for x in (100, 1000, 10000)])
    assert fit.intercept == pytest.approx(2.0)
    assert fit.slope == pytest.approx(0.25)
    assert fit.r2 == pytest.approx(1.0)
    assert fit.at(170_000) == pytest.approx(2 + 0.25 * 170_000)
    assert fit.n == 3


def test_linear_fit_agrees_with_polyfit_on_noisy_points() -> None:
    rng = np.random.default_rng(5)
    xs = [float(x) for x in range(0, 50, 5)]
    ys = [3.0 - 0.2 * x + float(rng.normal(0, 1.5)) for x in xs]
    fit = linear_fit(xs, ys)
    slope, intercept = np.polyfit(xs, ys, 1)
    assert (fit.slope, fit.intercept) == pytest.approx((slope, intercept))
    residuals = np.asarray(ys) - (intercept + slope * np.asarray(xs))
    ss_tot = float(np.sum((np.asarray(ys) - np.mean(ys)) ** 2))
    assert fit.r2 == pytest.approx(1 - float(np.sum(residuals**2)) / ss_tot)
    assert fit.stderr is not None
    assert fit.stderr == pytest.approx(
        np.sqrt(np.sum(residuals**2) / (len(xs) - 2) / np.sum((np.asarray(xs) - np.mean(xs)) ** 2))
    )


def test_linear_fit_of_a_flat_series_fits_exactly() -> None:
    fit = linear_fit([1.0, 2.0, 3.0], [7.0, 7.0, 7.0])
    assert (fit.slope, fit.r2, fit.stderr) == (0.0, 1.0, 0.0)  # linregress itself gives NaN
    assert linear_fit([1.0, 2.0], [0.0, 5.0]).stderr is None  # two points leave no residual


def test_linear_fit_without_a_line_is_an_error() -> None:
    with pytest.raises(ValueError, match="two or more different x"):
        linear_fit([4.0, 4.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="as many y as x"):
        linear_fit([1.0, 2.0], [1.0])


def test_loading_the_plugin_imports_neither_numpy_nor_scipy() -> None:
    code = "import sys, harness.cases.plugin; print(sorted({'numpy', 'scipy'} & set(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.stdout.strip() == "[]"


def test_summarize_reports_cv_and_counts() -> None:
    out = summarize([10.0, 10.0, 10.0])
    assert out["n"] == 3
    assert out["cv"] == 0.0
    assert summarize([]) == {"n": 0}
    assert coefficient_of_variation([1.0]) is None


def test_steady_successful_cell_scores_near_one() -> None:
    result = stability_score(
        attempts=5,
        successes=5,
        decode_tok_s=[40.0] * 5,
        ttft_s=[0.5] * 5,
        memory_fraction_of_budget=0.5,
    )
    assert result.score == pytest.approx(1.0)
    assert result.components["headroom"] == 1.0


def test_failures_and_jitter_lower_the_score() -> None:
    steady = stability_score(
        attempts=5,
        successes=5,
        decode_tok_s=[40.0] * 5,
        ttft_s=[0.5] * 5,
        memory_fraction_of_budget=None,
    )
    jittery = stability_score(
        attempts=5,
        successes=4,
        decode_tok_s=[20.0, 40.0, 60.0, 30.0],
        ttft_s=[0.5, 1.5, 0.2, 0.9],
        memory_fraction_of_budget=None,
    )
    assert jittery.score < steady.score
    assert jittery.components["success_rate"] == pytest.approx(0.8)
    assert "headroom" in jittery.components
    assert jittery.components["headroom"] is None  # not measured: left out, not guessed


def test_memory_at_the_budget_has_no_headroom() -> None:
    full = stability_score(
        attempts=3,
        successes=3,
        decode_tok_s=[10.0] * 3,
        ttft_s=[1.0] * 3,
        memory_fraction_of_budget=1.0,
    )
    assert full.components["headroom"] == 0.0
    assert full.score == pytest.approx(0.7)  # consistency (0.4 + 0.3) of weight 1.0


def test_all_failed_scores_zero() -> None:
    assert (
        stability_score(
            attempts=3, successes=0, decode_tok_s=[], ttft_s=[], memory_fraction_of_budget=None
        ).score
        == 0.0
    )
