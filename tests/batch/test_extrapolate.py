from __future__ import annotations

import random

import pytest

from harness.batch.extrapolate import SizeRun, extrapolate, linear_fit


def runs(a: float, b: float, sizes: tuple[int, ...], noise: float = 0.0) -> list[SizeRun]:
    rng = random.Random(1)
    out = []
    for n in sizes:
        times = tuple(b * (1 + rng.uniform(-noise, noise)) for _ in range(n))
        out.append(SizeRun(n, a + sum(times), times, (100,) * n, (3,) * n, trims=n // 50,
                           peak_memory_bytes=10 * 2**30))  # fmt: skip
    return out


def test_linear_fit_recovers_known_line() -> None:
    fit = linear_fit([100, 1000, 10000], [2 + 0.25 * x for x in (100, 1000, 10000)])
    assert fit.a == pytest.approx(2.0)
    assert fit.b == pytest.approx(0.25)
    assert fit.r2 == pytest.approx(1.0)


def test_projection_interval_contains_the_truth() -> None:
    a, b = 5.0, 0.28  # the seeds' 3.52 req/s
    result = extrapolate(runs(a, b, (100, 1000, 3000), noise=0.2), strategy="conversation")
    truth = a + b * 170_000
    assert result["time_s_low"] <= truth <= result["time_s_high"]
    assert result["time_s"] == pytest.approx(truth, rel=0.02)
    assert result["fit"]["b"] == pytest.approx(b, rel=0.02)
    assert result["prompt_tokens"] == 17_000_000
    assert result["completion_tokens"] == 510_000
    assert result["trims"] == 3400  # every 50 requests, as the seeds projected
    assert result["trims_low"] <= 3400 <= result["trims_high"]
    assert result["peak_memory_bytes"] == result["peak_memory_bytes_high"] == 10 * 2**30
    assert result["warning"] is None
    assert result["target"] == 170_000


def test_falling_throughput_warns() -> None:
    measured = runs(0.0, 0.25, (100, 1000))
    slow = runs(0.0, 0.4, (10000,))
    result = extrapolate([*measured, *slow], strategy="independent", replicates=50)
    assert result["warning"] is not None
    assert "throughput falls with size" in result["warning"]
    assert "10000" in result["warning"]


def test_same_seed_same_interval() -> None:
    data = runs(1.0, 0.3, (50, 100, 200), noise=0.3)
    one = extrapolate(data, strategy="x", replicates=100, seed=4)
    two = extrapolate(data, strategy="x", replicates=100, seed=4)
    assert one == two
