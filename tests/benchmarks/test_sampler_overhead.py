"""The sampler's own CPU cost at 10 Hz, as a percentage of one core (goal: under 0.5%).

Run by `make bench`; reported in `extra_info`, never asserted, since a timing goal must
not fail a slow machine. In the normal run (--benchmark-disable) it samples briefly,
only to prove the path works.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from harness.hardware import HardwareSampler, SamplerConfig
from harness.hardware.backends.host import HostBackend
from harness.hardware.backends.procs import ServerProcessTracker

pytestmark = pytest.mark.benchmark_suite


def sampler_cpu_percent(seconds: float, port: int) -> float:
    """Process CPU time spent while only the sampler works, per wall second, in %."""
    tracker = ServerProcessTracker(port)
    assert tracker.locate()  # this process, listening on `port`, plays the server
    sampler = HardwareSampler([HostBackend(tracker=tracker)], config=SamplerConfig(hz=10.0))
    with sampler:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        time.sleep(seconds)  # the main thread idles: all CPU time is the sampler's
        cpu1, wall1 = time.process_time(), time.perf_counter()
    return 100.0 * (cpu1 - cpu0) / (wall1 - wall0)


def test_sampler_cpu_cost_at_10_hz(benchmark: Any) -> None:
    seconds = 0.5 if benchmark.disabled else 3.0
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        percent = benchmark.pedantic(sampler_cpu_percent, args=(seconds, port), rounds=1)
    benchmark.extra_info["sampler_cpu_percent_of_one_core"] = round(percent, 3)
    benchmark.extra_info["sampled_seconds"] = seconds
    assert percent >= 0
