"""What a client measures matches the server's counters and timeline."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from harness.sim import physics
from harness.sim.profiles import hardware_profile, model_profile
from harness.sim.server import SimServer


def test_client_ttft_matches_server_counters() -> None:
    body = {
        "model": "gemma3:4b",
        "prompt": "w " * 2000,
        "raw": True,
        "options": {"num_predict": 20},
    }
    with SimServer(profile="tiny", speed=1.0) as srv, httpx.Client(base_url=srv.url) as c:
        c.post("/api/generate", json={"model": "gemma3:4b"})
        sent = time.perf_counter_ns()
        arrivals: list[int] = []
        with c.stream("POST", "/api/generate", json=body) as resp:
            rid = resp.headers["X-Sim-Request-Id"]
            for line in resp.iter_lines():
                arrivals.append(time.perf_counter_ns())
                final = json.loads(line)
        record = srv.timeline(rid)
    client_ttft = arrivals[0] - sent
    # The first token comes with the prompt's last batch (as Ollama's runner samples it), so
    # TTFT is load + prefill, and eval_duration holds the 19 decode steps after it.
    step = final["eval_duration"] / (final["eval_count"] - 1)
    expected = final["load_duration"] + final["prompt_eval_duration"]
    assert final["prompt_eval_duration"] > 10e6  # a real prefill, ~17 ms on tiny
    assert abs(client_ttft - expected) < 5e6
    # The client sees each chunk within a few ms of the server's stamp; the stamp is taken
    # after the write returns, so a fast client can read the bytes a few us before it.
    for server_ns, client_ns in zip(record["chunk_ns"], arrivals, strict=False):
        assert abs(client_ns - server_ns) < 5e6
    decode_wall = record["chunk_ns"][-1] - record["chunk_ns"][0]
    assert abs(decode_wall - step * 19) < 5e6


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
