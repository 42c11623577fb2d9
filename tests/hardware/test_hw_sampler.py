from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from harness.hardware import Budget, HardwareSampler, SamplerConfig, Violation
from harness.hardware.backends.base import BackendSet

GIB = 1024**3
FAST = SamplerConfig(hz=100.0, ps_hz=100.0)


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    # A deadline for what never happens, not a timing bound: two readings of a 1 Hz backend
    # take 2 s by design, and a busy host's scheduler adds to that (a 2 s deadline failed at
    # load 6 on 2 cores).
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def fresh_reading(backend: Any) -> None:
    """Wait until a reading has been taken entirely after now.

    A fixed sleep is not enough on a busy host, where a sampler thread may not run at all
    for longer than the sleep, leaving a phase without a reading. The backend counts a call
    as sample() starts, but the sampler stamps the reading just before that, so the first
    call counted after now may carry an earlier stamp; the second cannot.
    """
    calls = backend.calls
    wait_for(lambda: backend.calls > calls + 1)


def gpu(used: float, total: float = 16 * GIB) -> dict[str, float]:
    return {"gpu0.mem_used_bytes": used, "gpu0.mem_total_bytes": total}


def test_each_phase_gets_its_own_summary_against_the_idle_baseline(make_backend: Any) -> None:
    backend = make_backend(**gpu(1 * GIB))
    sampler = HardwareSampler([backend], config=FAST)
    with sampler:
        fresh_reading(backend)
        sampler.mark("load")
        backend.values.update(gpu(9 * GIB))
        fresh_reading(backend)
        sampler.mark("prefill")
        backend.values.update(gpu(10 * GIB))
        fresh_reading(backend)
        sampler.mark("decode")
        backend.values.update(gpu(11 * GIB))
        fresh_reading(backend)
        sampler.mark("after")
        backend.values.update(gpu(2 * GIB))
        fresh_reading(backend)
    summary = sampler.summary()
    phases = summary["phases"]
    assert list(phases) == ["idle", "load", "prefill", "decode", "after"]
    assert phases["idle"]["gpu0.mem_used_bytes"]["peak"] == 1 * GIB
    for phase, peak in (("load", 9), ("prefill", 10), ("decode", 11), ("after", 2)):
        stats = phases[phase]["gpu0.mem_used_bytes"]
        assert stats["baseline"] == 1 * GIB
        assert stats["peak"] == peak * GIB
        assert stats["delta"] == (peak - 1) * GIB
    assert summary["overall"]["gpu0.mem_used_bytes"]["peak"] == 11 * GIB
    assert [m["phase"] for m in summary["marks"]] == ["load", "prefill", "decode", "after"]
    assert summary["over_budget"] is None


def test_a_mark_placed_afterwards_moves_readings_into_its_phase(make_backend: Any) -> None:
    backend = make_backend(**{"host.cpu_percent": 5.0})
    sampler = HardwareSampler([backend], config=FAST)
    with sampler:
        sampler.mark("prefill")
        sent = time.perf_counter_ns()
        fresh_reading(backend)
        backend.values["host.cpu_percent"] = 90.0
        first_chunk = time.perf_counter_ns()  # the measuring code learns this only later
        fresh_reading(backend)
        sampler.mark("decode", at_ns=first_chunk)
        sampler.mark("prefill", at_ns=sent)
    phases = sampler.summary()["phases"]
    assert phases["prefill"]["host.cpu_percent"]["peak"] == 5.0
    assert phases["decode"]["host.cpu_percent"]["mean"] > 80


def test_start_reads_every_backend_before_returning(make_backend: Any) -> None:
    slow = make_backend("slow", rate="slow", **{"ps.size_bytes": 1})
    sampler = HardwareSampler([slow], config=SamplerConfig(ps_hz=0.1))
    with sampler:
        assert slow.calls == 1
        assert slow.threads == {threading.current_thread().name}
    assert "idle" in sampler.summary()["phases"]


def test_a_mark_wakes_a_slow_backend_at_once(make_backend: Any) -> None:
    slow = make_backend("slow", rate="slow", **{"ps.size_bytes": 1})
    with HardwareSampler([slow], config=SamplerConfig(hz=100, ps_hz=0.1)) as sampler:
        sampler.mark("load")
        wait_for(lambda: slow.calls >= 2, timeout=1.0)  # the period alone is 10 s
        assert any(name.startswith("hw-sampler-slow") for name in slow.threads)


def test_rates_follow_the_config(make_backend: Any) -> None:
    fast = make_backend("fast", rate="fast", a=1.0)
    slow = make_backend("slow", rate="slow", b=1.0)
    with HardwareSampler([fast, slow], config=SamplerConfig(hz=50, ps_hz=5)):
        time.sleep(0.4)
    # Upper bounds only: a busy machine may read less often, never more often.
    # (1 at start + one per period + 1 closing reading.)
    assert fast.calls <= 1 + 21 + 1
    assert slow.calls <= 1 + 2 + 1
    assert fast.calls > slow.calls


def test_crossing_a_budget_sets_the_flag_and_fires_callbacks_once(make_backend: Any) -> None:
    backend = make_backend(**gpu(1 * GIB))
    seen: list[tuple[str, str]] = []
    sampler = HardwareSampler([backend], config=FAST, budget=Budget(gpu_max_fraction=0.5))
    sampler.on_over_budget(lambda v: seen.append((v.metric, threading.current_thread().name)))
    with sampler:
        sampler.mark("load")
        assert not sampler.over_budget
        backend.values.update(gpu(12 * GIB))
        wait_for(lambda: sampler.over_budget)
        time.sleep(0.05)  # more readings over budget: no second call
        late: list[Violation] = []
        sampler.on_over_budget(late.append)  # registered after: runs at once
    assert seen == [("gpu0.mem_used_bytes", "hw-sampler-scripted")]
    assert len(late) == 1
    reason = sampler.over_budget_reason
    assert reason is not None
    assert "gpu0.mem_used_bytes" in reason
    assert "12.00 GiB" in reason
    assert "gpu_max_fraction=0.5" in reason
    summary = sampler.summary()
    assert summary["over_budget"] == reason
    assert summary["over_budget_detail"]["phase"] == "load"
    assert summary["over_budget_detail"]["limit"] == 8 * GIB


def test_a_failing_callback_or_backend_does_not_stop_sampling(make_backend: Any) -> None:
    broken = make_backend("broken", a=1.0)
    broken.error = OSError("device gone")
    good = make_backend("good", **gpu(15.9 * GIB))

    def explode(violation: Violation) -> None:
        raise RuntimeError("callback bug")

    sampler = HardwareSampler([broken, good], config=FAST)
    sampler.on_over_budget(explode)
    with sampler:
        wait_for(lambda: good.calls >= 5 and broken.calls >= 5)
    summary = sampler.summary()
    assert summary["errors"]["broken"]["last"] == "OSError: device gone"
    assert summary["errors"]["broken"]["count"] >= 5
    assert summary["errors"]["on_over_budget"] == {"count": 1, "last": "RuntimeError: callback bug"}
    assert summary["over_budget"] is not None


def test_stop_joins_threads_closes_owned_backends_and_is_idempotent(make_backend: Any) -> None:
    owned = make_backend("owned", a=1.0)
    sampler = HardwareSampler([owned], config=FAST)
    sampler.start()
    assert any(t.name == "hw-sampler-owned" for t in threading.enumerate())
    sampler.stop()
    sampler.stop()
    assert not any(t.name == "hw-sampler-owned" for t in threading.enumerate())
    assert owned.closed == 1
    with pytest.raises(RuntimeError, match="single-use"):
        sampler.start()


def test_backends_not_owned_stay_open(make_backend: Any) -> None:
    shared = make_backend("shared", a=1.0)
    with HardwareSampler([shared], config=FAST, owns_backends=False):
        pass
    assert shared.closed == 0


def test_stop_without_start_is_harmless(make_backend: Any) -> None:
    sampler = HardwareSampler([make_backend()], config=FAST)
    sampler.stop()
    assert sampler.summary()["phases"] == {}


def test_unknown_phase_is_refused(make_backend: Any) -> None:
    sampler = HardwareSampler([make_backend()], config=FAST)
    with pytest.raises(ValueError, match="idle, load, prefill, decode, after"):
        sampler.mark("warmup")


def test_summary_is_json_ready_with_the_documented_keys(make_backend: Any) -> None:
    backend = make_backend(**gpu(GIB), **{"host.cpu_percent": 3.3})
    backend.extra = {"devices": ["x"], "unavailable": {"power": "Not Supported"}}
    backends = BackendSet([backend], scope="local", unavailable={"nvml": "nvmlInit failed"})
    sampler = HardwareSampler(backends, config=SamplerConfig(hz=200, series_points=10))
    with sampler:
        sampler.mark("load")
        time.sleep(0.15)
    summary = sampler.summary()
    text = json.dumps(summary, allow_nan=False)
    assert json.loads(text) == summary
    assert {
        "hz",
        "scope",
        "backends",
        "unavailable",
        "phases",
        "overall",
        "series",
        "over_budget",
    } <= set(summary)
    assert summary["hz"] == 200
    assert summary["scope"] == "local"
    assert summary["backends"] == ["scripted"]
    assert summary["unavailable"] == {
        "nvml": "nvmlInit failed",
        "scripted.power": "Not Supported",
    }
    assert summary["details"]["scripted"] == {"devices": ["x"]}
    assert set(summary["overall"]["gpu0.mem_used_bytes"]) == {"baseline", "peak", "mean", "delta"}
    assert 2 <= len(summary["series"]["t_s"]) <= 10
    assert len(summary["series"]["gpu0.mem_used_bytes"]) == len(summary["series"]["t_s"])
    assert sampler.summary() == summary  # asking twice gives the same block


def test_the_closing_reading_starts_after_stop_even_when_a_poll_is_under_way(
    make_backend: Any,
) -> None:
    # A poll that began before stop() (here: blocked until stop() is called) describes the
    # machine before the last mark; stop() must still take a reading that starts after it.
    backend = make_backend("slow", **gpu(1 * GIB))
    entered, release = threading.Event(), threading.Event()
    started_at: list[int] = []
    plain: Callable[[], dict[str, float]] = backend.sample  # make_backend is typed Any

    def sample() -> dict[str, float]:
        started_at.append(time.perf_counter_ns())
        if backend.calls == 1:  # the first poll of the thread, after start()'s own reading
            entered.set()
            release.wait(5)
        return plain()

    sampler = HardwareSampler([backend], config=SamplerConfig(hz=1000.0))
    backend.sample = sample
    sampler.start()
    assert entered.wait(5)
    sampler.mark("after")
    backend.values.update(gpu(9 * GIB))  # the model finished loading during that poll
    stopper = threading.Thread(target=sampler.stop)
    stopper.start()
    wait_for(lambda: sampler._stopping.is_set())
    stop_called = time.perf_counter_ns()
    release.set()
    stopper.join(5)
    assert max(started_at) > stop_called
    assert sampler.summary()["phases"]["after"]["gpu0.mem_used_bytes"]["peak"] == 9 * GIB


def test_readings_since_a_mark_are_the_metric_s_own_readings_from_then_on(
    make_backend: Any,
) -> None:
    # Two backends on one time axis: the summary's chart series carries the slow one's
    # last value into the fast one's buckets; a trend needs the readings themselves.
    fast = make_backend("fast", **{"host.cpu_percent": 5.0})
    slow = make_backend("slow", rate="slow", **gpu(0))
    sampler = HardwareSampler([fast, slow], config=SamplerConfig(hz=100.0, ps_hz=1.0))
    with sampler:
        fresh_reading(slow)  # 0 bytes before the model loads
        slow.values.update(gpu(5 * GIB))
        sampler.mark("prefill")  # wakes every backend: a reading of 5 GiB from now on
        fresh_reading(slow)
        fresh_reading(fast)
    since = sampler.readings_since("gpu0.mem_used_bytes", "prefill")
    assert since
    assert all(value == 5 * GIB for _, value in since)
    assert [t for t, _ in since] == sorted(t for t, _ in since)
    assert sampler.readings_since("gpu0.mem_used_bytes", "decode") == []


def test_the_host_load_is_sampled_by_the_fast_backends_thread(make_backend: Any) -> None:
    slow, fast = make_backend("ps", rate="slow"), make_backend("host")
    sampler = HardwareSampler([slow, fast], config=FAST)
    with sampler:
        names = {t.name for t in threading.enumerate()}
        assert "hw-sampler-host-load" not in names  # no wake-ups of its own
        sampler.mark("prefill")
        fresh_reading(fast)
        fresh_reading(fast)
        sampler.mark("decode")
        fresh_reading(fast)
    load = sampler.summary()["host_load"]
    assert load["window"] == "requests"  # ticks fell inside the prefill and decode phases
    assert load["wake_delay_ms"] is not None
    assert load["wake_delay_ms"] >= 0


def test_without_a_fast_backend_the_host_load_has_its_own_thread(make_backend: Any) -> None:
    sampler = HardwareSampler([make_backend("ps", rate="slow")], config=FAST)
    with sampler:
        assert "hw-sampler-host-load" in {t.name for t in threading.enumerate()}
        time.sleep(0.1)
    assert sampler.summary()["host_load"]["wake_delay_ms"] is not None
