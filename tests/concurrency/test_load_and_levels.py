"""Poisson schedules, coordinated omission, goodput and the saturation rule."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness.concurrency.levels import saturation, summarize_level
from harness.concurrency.load import LoadSample, closed_loop, open_loop, poisson_offsets_ns
from harness.concurrency.slo import Slo, goodput
from harness.engines.base import StreamMeasurement


def test_poisson_schedule_is_seeded_and_has_the_rate() -> None:
    a = poisson_offsets_ns(10.0, 2000, seed=3)
    assert a == poisson_offsets_ns(10.0, 2000, seed=3)
    assert a != poisson_offsets_ns(10.0, 2000, seed=4)
    assert a == sorted(a)
    assert 2000 / (a[-1] / 1e9) == pytest.approx(10.0, rel=0.08)


def test_poisson_rejects_a_zero_rate() -> None:
    with pytest.raises(ValueError, match="rate"):
        poisson_offsets_ns(0.0, 3, seed=0)


def test_open_loop_latency_grows_from_the_scheduled_time_on_a_slow_server(
    serial_server: Callable[[float], Callable[[], StreamMeasurement]],
) -> None:
    # 50 ms of service per request, arrivals every 10 ms: a queue builds. Timed from the
    # send each request would look like ~50 ms; timed from the schedule it keeps growing.
    send = serial_server(0.05)
    samples = open_loop(send, [i * 10_000_000 for i in range(12)])
    ordered = sorted(samples, key=lambda s: s.scheduled_ns)
    e2e = [s.e2e_s() for s in ordered]
    # The request served last ends >= 12 x 50 ms after the first was scheduled and was
    # itself scheduled <= 110 ms after it. Not necessarily the last scheduled: on a busy
    # host the threads reach the server's lock in any order.
    assert max(e2e) > 12 * 0.05 - 11 * 0.01
    # Whatever the host's load: the last request to finish ends >= 11 services after the
    # first one, and was scheduled <= 110 ms after it, so latencies timed from the schedule
    # spread by at least 11 x (50 - 10) ms. A busy host only widens the spread.
    assert max(e2e) - min(e2e) >= 11 * (0.05 - 0.01)
    level = summarize_level(samples, Slo(e2e_s=0.2), mode="rate", value=100.0)
    assert level["queue_growth"] > 2.0
    assert saturation(level, level) is not None
    assert level["goodput"]["share"] < 0.5


def test_closed_loop_runs_every_request_and_joins_its_threads(
    serial_server: Callable[[float], Callable[[], StreamMeasurement]],
) -> None:
    samples = closed_loop(serial_server(0.002), concurrency=3, requests=7)
    assert len(samples) == 7
    assert all(s.ok for s in samples)


def _sample(ttft: float, itl: float, e2e: float, error: str | None = None) -> LoadSample:
    gaps = (itl,) * 3
    return LoadSample(0, 0, int(ttft * 1e9), int(e2e * 1e9), 4, gaps, None, error)


def test_goodput_counts_only_requests_meeting_every_target() -> None:
    slo = Slo(ttft_s=1.0, itl_s=0.1)
    requests = [
        _sample(0.5, 0.05, 1.0),  # good
        _sample(1.5, 0.05, 2.0),  # TTFT too slow
        _sample(0.5, 0.20, 2.0),  # ITL too slow
        _sample(0.5, 0.05, 1.0, error="ServerError: boom"),
    ]
    result = goodput(requests, slo, duration_s=2.0)
    assert result == {"met": 1, "share": 0.25, "req_s": 0.5}
    # Simulated time: at time_scale 10 every duration is 10x longer, the good one fails.
    assert goodput(requests, slo, 2.0, scale=10.0)["met"] == 0


def _level(concurrency: int, tok_s: float, ttft: float) -> dict[str, object]:
    return {
        "mode": "concurrency",
        "concurrency": concurrency,
        "requests": 8,
        "errors": 0,
        "output_tok_s": tok_s,
        "ttft_s": {"p50": ttft},
    }


def test_saturation_needs_flat_throughput_and_growing_ttft() -> None:
    assert saturation(_level(4, 100, 0.1), _level(8, 190, 0.2)) is None  # still growing
    assert saturation(_level(4, 100, 0.1), _level(8, 105, 0.11)) is None  # TTFT flat
    reason = saturation(_level(4, 100, 0.1), _level(8, 105, 0.3))
    assert reason is not None
    assert "saturated at concurrency 8" in reason


def test_mostly_failing_level_stops_the_sweep() -> None:
    bad = {**_level(8, 10, 0.1), "errors": 6}
    assert "failed" in str(saturation(_level(4, 100, 0.1), bad))
