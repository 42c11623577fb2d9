"""The host's load during a case: figures, the request window, other processes' CPU time."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import psutil
import pytest

from harness.hardware.load import HostLoadMeter, runnable_now


def test_the_figures_are_recorded_for_the_span() -> None:
    meter = HostLoadMeter()
    assert meter.as_dict() is None
    meter.start()
    time.sleep(0.15)
    meter.stop()
    meter.stop()  # idempotent
    figures = meter.as_dict()
    assert figures is not None
    assert figures["cpu_count"] == psutil.cpu_count()
    assert figures["wall_s"] >= 0.15
    assert figures["window"] == "case"
    assert figures["wake_delay_ms"] >= 0
    assert 0 <= figures["other_cpu_share"] <= 1
    assert figures["load_avg_1m"] >= 0
    if runnable_now() is not None:  # Linux: the sampled run queue counts at least us
        assert figures["runnable_per_cpu"] > 0


def test_the_sampled_figures_cover_the_requests_when_told_where_they_are() -> None:
    meter = HostLoadMeter()
    meter.start()
    time.sleep(0.1)
    inside_from = time.perf_counter_ns()
    time.sleep(0.1)
    meter.stop(measured=lambda t_ns: t_ns >= inside_from)
    figures = meter.as_dict()
    assert figures is not None
    assert figures["window"] == "requests"


def test_stop_before_start_is_harmless() -> None:
    meter = HostLoadMeter()
    meter.stop()
    assert meter.as_dict() is None


@pytest.fixture
def spinner() -> Iterator[subprocess.Popen[bytes]]:
    """A CPU-bound process standing in for a local server's tree."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_other_processes_cpu_leaves_out_the_excluded_server(
    spinner: subprocess.Popen[bytes],
) -> None:
    # Two meters over the same span: one counts the spinning process as "other", the
    # other excludes it as the server's tree. The difference is that process's CPU time.
    counted, excluded = HostLoadMeter(), HostLoadMeter(exclude=lambda: [spinner.pid])
    counted.start()
    excluded.start()
    cpu_before = sum(psutil.Process(spinner.pid).cpu_times()[:2])
    time.sleep(0.5)
    cpu_spent = sum(psutil.Process(spinner.pid).cpu_times()[:2]) - cpu_before
    excluded.stop()
    counted.stop()
    a, b = counted.as_dict(), excluded.as_dict()
    assert a is not None
    assert b is not None
    assert cpu_spent > 0
    # Clock ticks are 10 ms; the meters start and stop a moment apart.
    assert a["other_cpu_s"] - b["other_cpu_s"] == pytest.approx(cpu_spent, abs=0.05)
