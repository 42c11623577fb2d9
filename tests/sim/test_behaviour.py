"""The broken-server switches, and the memory settings (num_parallel, KV cache type)."""

from __future__ import annotations

import threading
from typing import Any

import httpx

from harness.sim import physics
from harness.sim.behaviour import Behaviour
from harness.sim.profiles import hardware_profile, model_profile
from harness.sim.server import SimServer
from tests.noise import WakeNoise

GEN = {"model": "gemma3:4b", "stream": False, "options": {"num_predict": 1, "num_ctx": 8192}}


def _post(srv: SimServer, **extra: object) -> dict[str, Any]:
    resp = httpx.post(f"{srv.url}/api/generate", json={**GEN, **extra}, timeout=30)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def _ps(srv: SimServer) -> list[dict[str, Any]]:
    models: list[dict[str, Any]] = httpx.get(f"{srv.url}/api/ps").json()["models"]
    return models


def test_kv_sized_by_num_parallel() -> None:
    model = model_profile("gemma3:4b")
    sizes = {}
    for parallel in (1, 2):
        with SimServer(profile="tiny", speed=100, num_parallel=parallel) as srv:
            _post(srv, prompt="")
            sizes[parallel] = _ps(srv)[0]["size"]
            assert _ps(srv)[0]["context_length"] == 8192
    assert sizes[2] > sizes[1]
    assert (
        sizes[2]
        == physics.place(
            model, SimServer(profile="tiny").hw, physics.LoadConfig(8192, num_parallel=2)
        ).size
    )


def test_kv_cache_type_shrinks_memory() -> None:
    sizes = {}
    for kind in ("f16", "q8_0", "q4_0"):
        with SimServer(profile="tiny", speed=100, kv_cache_type=kind) as srv:
            _post(srv, prompt="")
            sizes[kind] = _ps(srv)[0]["size"]
    assert sizes["f16"] > sizes["q8_0"] > sizes["q4_0"]


def test_requests_beyond_slots_wait_in_load_duration() -> None:
    body = {"model": "gemma3:4b", "prompt": "hi", "stream": False, "options": {"num_predict": 100}}
    with (
        SimServer(profile="tiny", speed=0.5, num_parallel=1) as srv,
        httpx.Client(base_url=srv.url, timeout=30) as client,
    ):
        client.post("/api/generate", json={"model": "gemma3:4b"})
        out: list[dict[str, Any]] = []

        def one() -> None:
            out.append(client.post("/api/generate", json=body).json())

        threads = [threading.Thread(target=one) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    first, second = sorted(out, key=lambda r: r["load_duration"])
    assert second["load_duration"] > first["eval_duration"] * 0.8  # it queued behind it


def test_reload_every_request() -> None:
    # In the simulator's own time: a reload sleeps the modelled load, so the second
    # request's load_duration can never be shorter than it; a warm request's is only its
    # handling, which a busy host can stretch by the wake-up lateness measured meanwhile.
    load_ns = physics.load_seconds(model_profile("gemma3:4b"), hardware_profile("tiny")) / 10 * 1e9
    with (
        WakeNoise() as noise,
        SimServer(profile="tiny", speed=10, behaviour=Behaviour(reload_every_request=True)) as s,
    ):
        _post(s, prompt="x")
        again = _post(s, prompt="x")
        with SimServer(profile="tiny", speed=10) as normal:
            _post(normal, prompt="x")
            warm = _post(normal, prompt="x")
    assert int(again["load_duration"]) >= load_ns
    assert int(warm["load_duration"]) < load_ns + noise.allowance_s(2) * 1e9


def test_ctx_scaled_by_slots_truncates_early() -> None:
    prompt = "w " * 6000  # fits 8192, not 8192 / 2
    broken = Behaviour(ctx_scaled_by_slots=True)
    with SimServer(profile="tiny", speed=100, num_parallel=2, behaviour=broken) as srv:
        r = _post(srv, prompt=prompt, raw=True)
        assert _ps(srv)[0]["context_length"] == 8192  # what it claims
    assert r["prompt_eval_count"] == 4096  # what it holds


def test_no_prefix_cache() -> None:
    prompt = "w " * 3000
    with SimServer(profile="tiny", speed=10, behaviour=Behaviour(no_prefix_cache=True)) as srv:
        cold = _post(srv, prompt=prompt, raw=True)
        again = _post(srv, prompt=prompt, raw=True)
    assert int(again["prompt_eval_duration"]) >= int(cold["prompt_eval_duration"]) * 0.9


def test_silent_truncation_no_sign() -> None:
    broken = Behaviour(silent_truncation_no_sign=True)
    with SimServer(profile="tiny", speed=100, behaviour=broken) as srv:
        r = _post(srv, prompt="w " * 200, raw=True, options={"num_ctx": 64, "num_predict": 1})
    assert r["prompt_eval_count"] == 200


def test_ignore_keep_alive() -> None:
    with SimServer(profile="tiny", speed=100, behaviour=Behaviour(ignore_keep_alive=True)) as s:
        _post(s, prompt="x", keep_alive=0)
        threading.Event().wait(0.15)
        assert _ps(s)  # still loaded
