"""The load generator in worker processes: counts, order, errors, crashes, the shared clock."""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness.concurrency.slo import Slo
from harness.concurrency.sweep import SweepPlan, run_sweep
from harness.concurrency.workers import ChatPool, ChatRequest, LoadPool, processes_for
from harness.engines.http import Timeouts
from harness.errors import ServerError
from harness.sim.server import SimServer
from tests.concurrency.fake_engines import CRASH_CODE, FakeEngine


def fake(url: str = "fake://ok") -> ChatRequest:
    return ChatRequest("fake", url, "m", factory=FakeEngine)


def test_processes_follow_the_streams() -> None:
    assert [processes_for(n, 8) for n in (1, 8, 9, 64)] == [1, 1, 2, 8]
    assert processes_for(0, 8) == 1


@pytest.mark.skipif(sys.platform != "linux", reason="the shared clock is a Linux fact")
def test_perf_counter_is_the_monotonic_clock_every_process_shares() -> None:
    # CLOCK_MONOTONIC counts from boot for the whole machine, so stamps taken in different
    # processes compare directly; the load generator's timings rely on it.
    for name in ("perf_counter", "monotonic"):
        assert "CLOCK_MONOTONIC" in time.get_clock_info(name).implementation
    before = time.perf_counter_ns()
    with LoadPool(fake(), per_process=1) as pool:
        pool.closed_loop(2, 2)
        ready = [w.ready_ns for w in pool.workers]
    after = time.perf_counter_ns()
    assert len(ready) == 2
    assert all(before < stamp < after for stamp in ready)


def test_closed_loop_over_processes_runs_every_request_in_send_order() -> None:
    with LoadPool(fake(), per_process=4) as pool:
        samples = pool.closed_loop(concurrency=10, requests=25)
        assert len(pool.workers) == 3
        again = pool.closed_loop(concurrency=2, requests=3)  # the pool serves later levels
    assert len(samples) == 25
    assert all(s.ok and s.output_tokens == 4 and len(s.chunk_ns) == 4 for s in samples)
    assert [s.sent_ns for s in samples] == sorted(s.sent_ns for s in samples)
    assert len(again) == 3


def test_open_loop_over_processes_keeps_the_schedule_and_its_order() -> None:
    offsets = [i * 3_000_000 for i in range(20)]
    with LoadPool(fake(), per_process=4) as pool:
        samples = pool.open_loop(offsets)
    assert len(samples) == 20
    # One start for every worker: each sample is timed from its own scheduled moment.
    start = samples[0].scheduled_ns
    assert [s.scheduled_ns - start for s in samples] == offsets
    assert all(s.sent_ns >= s.scheduled_ns for s in samples)


@pytest.mark.parametrize(
    ("url", "error"),
    [("fake://engine-error", "ServerError: the fake server failed"),
     ("fake://bug", "internal error: ValueError: a bug")],
)  # fmt: skip
def test_errors_become_failed_samples(url: str, error: str) -> None:
    with LoadPool(fake(url), per_process=2) as pool:
        samples = pool.closed_loop(concurrency=3, requests=5)
        opened = pool.open_loop([0, 1_000_000])
    assert [s.error for s in samples] == [error] * 5
    assert [s.error for s in opened] == [error] * 2


def test_a_crashed_worker_is_failed_samples_and_a_fresh_worker_next(tmp_path: Path) -> None:
    flag = tmp_path / "crash-once"
    flag.touch()
    with LoadPool(fake(str(flag)), per_process=2) as pool:
        samples = pool.closed_loop(concurrency=4, requests=8)
        crashed = [s for s in samples if not s.ok]
        # The worker that crashed owed its 2 streams' 4 requests; the other one ran its own.
        assert len(samples) == 8
        assert len(crashed) == 4
        assert all(f"exited with code {CRASH_CODE}" in str(s.error) for s in crashed)
        after = pool.closed_loop(concurrency=4, requests=8)
        assert all(s.ok for s in after)
        assert len(pool.workers) == 2


def test_a_sweep_of_a_chat_request_runs_in_workers_against_the_simulator() -> None:
    with SimServer(profile="tiny", speed=20.0, num_parallel=4) as server:
        request = ChatRequest(
            "ollama", server.url, "gemma3:4b", {"num_predict": 8, "num_ctx": 2048}
        )
        plan = SweepPlan((1, 4), Slo(ttft_s=60.0), requests_per_level=4, rates=(2.0,))
        result = run_sweep(request, plan)
        received = [r for r in server.timeline() if r["path"] == "/api/chat"]
    assert [lv["requests"] for lv in result["levels"]] == [4, 8]
    assert all(lv["errors"] == 0 for lv in [*result["levels"], *result["rates"]])
    assert len(received) == 4 + 8 + 4


def test_a_worker_that_cannot_build_its_engine_says_why() -> None:
    with (
        LoadPool(ChatRequest("nonesuch", "http://127.0.0.1:9", "m")) as pool,
        pytest.raises(RuntimeError, match=r"could not start: .*nonesuch"),
    ):
        pool.closed_loop(1, 1)


def test_a_worker_that_never_answers_is_killed_at_the_levels_deadline(tmp_path: Path) -> None:
    flag = tmp_path / "hang-once"
    flag.touch()
    with LoadPool(fake(f"hang://{flag}"), per_process=2, request_timeout_s=0.5) as pool:
        began = time.monotonic()
        samples = pool.closed_loop(concurrency=4, requests=4)
        took = time.monotonic() - began
        stuck = [s for s in samples if not s.ok]
        # The stuck worker owed its 2 streams' 2 requests; the other one ran its own.
        assert len(samples) == 4
        assert len(stuck) == 2
        assert all("did not answer within 0.55 s: killed" in str(s.error) for s in stuck)
        assert took < 30  # the deadline (one round of 0.5 s), not the fake's hour
        after = pool.closed_loop(concurrency=4, requests=4)
        assert all(s.ok for s in after)
        assert len(pool.workers) == 2


def test_the_pools_default_deadline_is_what_the_engines_timeouts_allow() -> None:
    assert LoadPool(fake()).request_timeout_s == Timeouts().connect + Timeouts().read
    request = ChatRequest("fake", "fake://ok", "m", timeouts=Timeouts(connect=1.0, read=7.0))
    assert LoadPool(request).request_timeout_s == 8.0
    with pytest.raises(ValueError, match="request_timeout_s must be > 0"):
        LoadPool(fake(), request_timeout_s=0)


def test_a_chat_pool_runs_each_threads_chats_in_its_worker() -> None:
    with ChatPool(fake(), streams=4, per_process=2) as pool:
        assert pool.processes == 2
        with ThreadPoolExecutor(4) as threads:
            answers = list(threads.map(lambda _: pool.chat("m", [], options={}), range(16)))
    assert all(m.counters.eval_count == 4 and len(m.chunk_ns) == 4 for m in answers)


def test_a_chat_pool_raises_what_the_engine_raised() -> None:
    with ChatPool(fake("fake://engine-error"), streams=1) as pool:
        with pytest.raises(ServerError, match="the fake server failed"):
            pool.chat("m", [])
    with ChatPool(fake("fake://bug"), streams=1) as pool:
        with pytest.raises(ValueError, match="a bug"):
            pool.chat("m", [])


def test_a_chat_pools_crashed_worker_fails_its_call_and_is_replaced(tmp_path: Path) -> None:
    flag = tmp_path / "crash-once"
    flag.touch()
    with ChatPool(fake(str(flag)), streams=1) as pool:
        with pytest.raises(RuntimeError, match=f"exited with code {CRASH_CODE}"):
            pool.chat("m", [])
        assert pool.chat("m", []).counters.eval_count == 4
