"""Simulated throughput does not depend on --sim-speed (issue 18, item 5).

The throughput suite reads durations from the simulator's own clock, which counts modelled
work at its simulated length and the client's own work at its real length; multiplying the
client's wall time by the speed made 170,000 requests take 3.5 h at speed 2 and 27 h at 50.
"""

from __future__ import annotations

import pytest

from tests.suiterun import run_suite_once

SPEEDS = (2, 20, 50)


def _req_s_by_strategy(pytester: pytest.Pytester, speed: int) -> dict[str, float]:
    args = ("--matrix", "smoke", "--sim-speed", str(speed), "-q", "-p", "no:randomly")
    entries = run_suite_once(pytester, "throughput", *args).check().payload["throughput"]
    totals: dict[str, tuple[int, float]] = {}
    for e in entries:
        n, t = totals.get(e["strategy"], (0, 0.0))
        totals[e["strategy"]] = (n + e["size"], t + e["total_s"])
    return {strategy: n / t for strategy, (n, t) in totals.items()}


@pytest.fixture
def rates(pytester: pytest.Pytester) -> dict[int, dict[str, float]]:
    return {speed: _req_s_by_strategy(pytester, speed) for speed in SPEEDS}


def test_req_s_agrees_within_5_percent_across_speeds(rates: dict[int, dict[str, float]]) -> None:
    for strategy in ("independent", "conversation"):
        by_speed = {speed: rates[speed][strategy] for speed in SPEEDS}
        low, high = min(by_speed.values()), max(by_speed.values())
        assert (high - low) / high <= 0.05, f"{strategy}: req/s by --sim-speed {by_speed}"
