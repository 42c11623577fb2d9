from __future__ import annotations

import random

import pytest

from harness.batch.extrapolate import SizeRun, extrapolate


def runs(a: float, b: float, sizes: tuple[int, ...], noise: float = 0.0) -> list[SizeRun]:
    rng = random.Random(1)
    out = []
    for n in sizes:
        times = tuple(b * (1 + rng.uniform(-noise, noise)) for _ in range(n))
        out.append(SizeRun(n, a + sum(times), times, (100,) * n, (3,) * n, trims=n // 50,
                           peak_memory_bytes=10 * 2**30))  # fmt: skip
    return out


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


def test_a_size_of_one_request_enters_every_replicate_as_measured() -> None:
    single = SizeRun(1, 0.5, (0.5,), (100,), (3,))
    result = extrapolate([single, *runs(0.0, 0.5, (100,), noise=0.2)], strategy="x", target=1000)
    assert result["time_s_low"] < result["time_s"] < result["time_s_high"]
    only_singles = [single, SizeRun(2, 1.0, (1.0,), (100,), (3,))]  # nothing to resample
    fixed = extrapolate(only_singles, strategy="x", target=10, replicates=20)
    assert fixed["time_s_low"] == fixed["time_s"] == fixed["time_s_high"] == 5.0
