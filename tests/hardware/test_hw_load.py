"""The host's load during a case: figures, the request window, other processes' CPU time."""

from __future__ import annotations

import os
import time

import psutil
import pytest

from harness.hardware import busy as host_load
from harness.hardware.busy import HostLoadMeter, runnable_now


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


def test_other_processes_cpu_leaves_out_the_harness_and_the_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Scripted CPU times: the machine was busy 3.0 s, the harness 0.5 s of it and the
    # server (pid 4242, first seen at the end) 1.0 s: 1.5 s were other processes'.
    busy = iter([10.0, 13.0])
    own = {os.getpid(): iter([2.0, 2.5]), 4242: iter([1.0])}
    monkeypatch.setattr(host_load, "_busy_s", lambda times: next(busy))
    monkeypatch.setattr(host_load, "_cpu_s", lambda pid: next(own[pid]))
    started: list[bool] = []
    meter = HostLoadMeter(exclude=lambda: [4242] if started else [])
    meter.start()
    started.append(True)
    meter.stop()
    figures = meter.as_dict()
    assert figures is not None
    assert figures["other_cpu_s"] == pytest.approx(1.5)
