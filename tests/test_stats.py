from __future__ import annotations

import pytest

from harness.stats import coefficient_of_variation, percentile, stability_score, summarize


def test_percentile_interpolates_like_numpy() -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    assert percentile(values, 50) == pytest.approx(2.5)
    assert percentile(values, 90) == pytest.approx(3.7)
    assert percentile([5.0], 99) == 5.0


def test_percentile_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


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
