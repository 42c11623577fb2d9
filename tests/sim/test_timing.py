"""What a client measures matches the server's counters and timeline.

The counters are checked in the simulator's own time, exactly: they are what it modelled.
The wall clock is checked against them with a hard lower bound (the simulator never runs
faster than its model: its step deadlines are chained) and an upper bound made of what
this host adds right now: the round trip of a trivial request and the thread wake-ups on
the path, at the lateness measured while the request ran (tests/noise.py).
"""

from __future__ import annotations

import json
import statistics
import time

import httpx
import pytest

from harness.sim import physics
from harness.sim.profiles import hardware_profile, model_profile
from harness.sim.server import SimServer
from harness.sim.truth import truth
from tests.noise import WakeNoise, round_trip_s

# Wake-ups between the client's send and its reading of the first chunk: the server's
# handler, the runner, the handler again for the write, the client's read.
TTFT_HANDOFFS = 4


def test_client_ttft_matches_server_counters() -> None:
    body = {
        "model": "gemma3:4b",
        "prompt": "w " * 2000,
        "raw": True,
        "options": {"num_predict": 20},
    }
    with (
        SimServer(profile="tiny", speed=1.0) as srv,
        httpx.Client(base_url=srv.url) as c,
        WakeNoise() as noise,
    ):
        c.post("/api/generate", json={"model": "gemma3:4b"})
        floor_s = round_trip_s(lambda: c.get("/api/version"))
        sent = time.perf_counter_ns()
        arrivals: list[int] = []
        with c.stream("POST", "/api/generate", json=body) as resp:
            rid = resp.headers["X-Sim-Request-Id"]
            for line in resp.iter_lines():
                arrivals.append(time.perf_counter_ns())
                final = json.loads(line)
        record = srv.timeline(rid)
    tokens = final["prompt_eval_count"]
    modelled_prefill_s = tokens / truth("tiny", "gemma3:4b", [tokens])["prefill_tok_s"][tokens]
    assert final["prompt_eval_duration"] / 1e9 == pytest.approx(modelled_prefill_s, rel=1e-3)
    assert final["prompt_eval_duration"] > 10e6  # a real prefill, ~17 ms on tiny

    client_ttft = arrivals[0] - sent
    # The first token comes with the prompt's last batch (as Ollama's runner samples it), so
    # TTFT is load + prefill, and eval_duration holds the 19 decode steps after it.
    step = final["eval_duration"] / (final["eval_count"] - 1)
    expected = final["load_duration"] + final["prompt_eval_duration"]
    allowed_ns = (floor_s + noise.allowance_s(TTFT_HANDOFFS)) * 1e9
    assert client_ttft >= 0.99 * final["prompt_eval_duration"]
    assert client_ttft - expected <= allowed_ns, (client_ttft, expected, noise.worst_s)
    # The client sees each chunk when the server writes it: no buffering on the way. The
    # stamp is taken after the write returns, so the client may read the bytes before it.
    deliveries = [c - s for s, c in zip(record["chunk_ns"], arrivals, strict=False)]
    assert (
        statistics.median(abs(d) for d in deliveries) <= (floor_s + noise.allowance_s(2)) * 1e9
    ), (deliveries, noise.worst_s)
    decode_wall = record["chunk_ns"][-1] - record["chunk_ns"][0]
    assert decode_wall >= 19 * step - noise.allowance_s(2) * 1e9
    assert decode_wall - step * 19 <= (floor_s + noise.allowance_s(2)) * 1e9


def test_sim_clock_counts_modelled_work_only() -> None:
    speed = 50.0
    body = {"model": "gemma3:4b", "prompt": "w " * 2000, "raw": True,
            "options": {"num_predict": 300}, "stream": False}  # fmt: skip
    with SimServer(profile="tiny", speed=speed) as srv, httpx.Client(base_url=srv.url) as c:
        start = srv.clock_ns()
        c.post("/api/generate", json={"model": "gemma3:4b"})
        loaded = srv.clock_ns()
        final = json.loads(c.post("/api/generate", json=body).text)
        answered = srv.clock_ns()
        time.sleep(0.05)  # the client's own work is not the profiled machine's time
        idle = srv.clock_ns()
    load_s = physics.load_seconds(model_profile("gemma3:4b"), hardware_profile("tiny"))
    assert (loaded - start) / 1e9 == pytest.approx(load_s, rel=1e-3)
    # Server durations are reported in wall ns (speed-compressed); x speed is simulated.
    modelled = (final["prompt_eval_duration"] + final["eval_duration"]) * speed
    assert modelled > 0.1e9
    assert answered - loaded == pytest.approx(modelled, rel=1e-3)
    assert idle == answered
