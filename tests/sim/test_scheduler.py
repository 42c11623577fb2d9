"""Loading, reloading, keep_alive, the queue, slots, the prefix cache and batching."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import ollama
import pytest

from harness.sim import physics
from harness.sim.profiles import hardware_profile, model_profile
from harness.sim.request_options import ApiError, parse_keep_alive
from harness.sim.server import SimServer

SPEED = 10.0  # tiny at speed 10: a gemma3:4b load takes ~17 ms


@pytest.fixture
def slow() -> Iterator[SimServer]:
    with SimServer(profile="tiny", speed=SPEED) as srv:
        yield srv


def _gen(url: str, **body: object) -> dict[str, Any]:
    payload = {"model": "gemma3:4b", "prompt": "hi", "stream": False, **body}
    resp = httpx.post(f"{url}/api/generate", json=payload, timeout=30)
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()
    return data


def _load_ns() -> int:
    seconds = physics.load_seconds(model_profile("gemma3:4b"), hardware_profile("tiny"))
    return int(seconds / SPEED * 1e9)


def _runner(srv: SimServer) -> object:
    (runner,) = srv.scheduler.snapshot()
    return runner


def test_reload_only_when_load_options_change(slow: SimServer) -> None:
    # Judged by the simulator's own state (is it the same loaded runner?) and its time (a
    # reload sleeps the modelled load), neither of which a busy host can blur.
    opts = {"num_ctx": 2048, "num_predict": 1}
    first = _gen(slow.url, options=opts)
    assert int(first["load_duration"]) >= _load_ns()
    loaded = _runner(slow)
    _gen(slow.url, options={**opts, "temperature": 0.1, "top_k": 3})
    assert _runner(slow) is loaded
    for change in (
        {"num_ctx": 3000},
        {"num_batch": 256},
        {"num_thread": 4},
        {"use_mmap": False},
        {"main_gpu": 0, "num_gpu": 20},
    ):
        again = _gen(slow.url, options={**opts, **change})
        assert int(again["load_duration"]) >= _load_ns(), change
        assert _runner(slow) is not loaded, change
        loaded = _runner(slow)


def test_ps_context_length_follows_load(client: ollama.Client) -> None:
    client.generate(model="gemma3:4b", prompt="x", options={"num_ctx": 8192, "num_predict": 1})
    assert client.ps().models[0].context_length == 8192
    client.generate(model="gemma3:4b", prompt="x", options={"num_predict": 1})
    assert client.ps().models[0].context_length == 4096  # the default (Ollama 0.6.7-0.15.4)


def test_num_ctx_capped_at_trained_context(client: ollama.Client) -> None:
    client.generate(model="qwen2.5:3b-instruct", prompt="", options={"num_ctx": 131072})
    (entry,) = client.ps().models
    assert entry.context_length == 32768


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, 300.0),
        (0, 0.0),
        (10, 10.0),
        (2.5, 2.5),
        ("10m", 600.0),
        ("1h30m", 5400.0),
        ("300ms", 0.3),
        (-1, None),
        ("-5m", None),
        ("0", 0.0),
        ("1.5s", 1.5),
    ],
)
def test_keep_alive_parsing(value: object, seconds: float | None) -> None:
    assert parse_keep_alive(value) == seconds


@pytest.mark.parametrize("value", ["ten minutes", "-1", "5"])
def test_keep_alive_bad_string_400(value: str) -> None:
    # Go's time.ParseDuration wants a unit on every number but a bare "0".
    with pytest.raises(ApiError, match="invalid duration") as exc:
        parse_keep_alive(value)
    assert exc.value.status == 400


def _wait_unloaded(client: ollama.Client, start: float, timeout: float = 30.0) -> float:
    """Seconds from `start` (perf_counter) until /api/ps is empty; a liveness deadline."""
    while client.ps().models:
        assert time.perf_counter() - start < timeout, "model did not expire"
        time.sleep(0.01)
    return time.perf_counter() - start


def test_keep_alive_expiry(client: ollama.Client) -> None:
    # Timed from before the request: the model expires 300 ms after the request *ended*,
    # so it cannot be gone sooner, however long a busy host takes to answer /api/ps.
    sent = time.perf_counter()
    client.generate(model="gemma3:4b", prompt="x", keep_alive="300ms", options={"num_predict": 1})
    assert _wait_unloaded(client, sent) >= 0.3


def test_keep_alive_zero_unloads_after_request(client: ollama.Client) -> None:
    client.generate(model="gemma3:4b", prompt="x", keep_alive=0, options={"num_predict": 1})
    _wait_unloaded(client, time.perf_counter())


def test_keep_alive_negative_is_forever(client: ollama.Client) -> None:
    client.generate(model="gemma3:4b", prompt="x", keep_alive=-1, options={"num_predict": 1})
    (entry,) = client.ps().models
    assert entry.expires_at is not None
    assert entry.expires_at.year > 2300


def test_prefix_cache_pays_only_new_tokens(slow: SimServer) -> None:
    base = "word " * 3000
    opts = {"num_ctx": 8192, "num_predict": 1}
    cold = _gen(slow.url, prompt=base, raw=True, options=opts)
    warm = _gen(slow.url, prompt=base + "more " * 10, raw=True, options=opts)
    assert cold["prompt_eval_count"] == 3000
    assert warm["prompt_eval_count"] == 3010  # counts the cached prefix too
    assert int(warm["prompt_eval_duration"]) * 20 < int(cold["prompt_eval_duration"])


def test_spill_when_context_does_not_fit(client: ollama.Client) -> None:
    fast = client.generate(
        model="gemma3:4b", prompt="x", options={"num_ctx": 4096, "num_predict": 8}
    )
    entry = client.ps().models[0]
    assert entry.size_vram == entry.size
    slow = client.generate(
        model="gemma3:4b", prompt="x", options={"num_ctx": 131072, "num_predict": 8}
    )
    entry = client.ps().models[0]
    assert entry.size_vram is not None
    assert entry.size is not None
    assert 0 < entry.size_vram < entry.size
    assert int(slow.eval_duration or 0) > 2 * int(fast.eval_duration or 0)


def test_not_enough_memory_500(http: httpx.Client) -> None:
    resp = http.post(
        "/api/generate",
        json={"model": "qwen3-coder:30b", "prompt": "", "options": {"num_ctx": 262144}},
    )
    assert resp.status_code == 500
    error = resp.json()["error"]
    assert error.startswith("model requires more system memory (")
    assert "GiB) than is available (" in error


def test_forced_num_gpu_dies_with_cuda_oom(http: httpx.Client) -> None:
    resp = http.post(
        "/api/generate",
        json={"model": "gemma3:4b", "prompt": "", "options": {"num_ctx": 131072, "num_gpu": 34}},
    )
    assert resp.status_code == 500
    assert "cudaMalloc failed: out of memory" in resp.json()["error"]


def test_loading_another_model_evicts_idle_one(client: ollama.Client) -> None:
    client.generate(model="gemma3:4b", prompt="")
    client.generate(model="qwen2.5:3b-instruct", prompt="")
    names = [m.name for m in client.ps().models]
    assert names == ["qwen2.5:3b-instruct"]  # both do not fit the 5 GiB card together


def _stream_many(url: str, n: int, body: dict[str, Any]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = [{} for _ in range(n)]
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    with httpx.Client(timeout=60, limits=limits) as client:

        def one(i: int) -> None:
            with client.stream("POST", f"{url}/api/chat", json=body) as r:
                lines = [json.loads(line) for line in r.iter_lines() if line]
                results[i] = {"status": r.status_code, "lines": lines}

        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    return results


def test_64_concurrent_streams() -> None:
    body = {
        "model": "gemma3:4b",
        "messages": [{"role": "user", "content": "hello"}],
        "options": {"num_predict": 16},
    }
    with SimServer(profile="tiny", speed=100, num_parallel=8) as srv:
        results = _stream_many(srv.url, 64, body)
    for result in results:
        assert result["status"] == 200
        lines = result["lines"]
        assert isinstance(lines, list)
        assert len(lines) == 17
        assert lines[-1]["done"] is True
        assert lines[-1]["eval_count"] == 16


def test_queue_full_503() -> None:
    body = {
        "model": "gemma3:4b",
        "messages": [{"role": "user", "content": "hello"}],
        "options": {"num_predict": 100},
    }
    with SimServer(profile="tiny", speed=1.0, max_queue=2) as srv:
        httpx.post(f"{srv.url}/api/generate", json={"model": "gemma3:4b"}, timeout=10)
        results = _stream_many(srv.url, 8, body)
    statuses = sorted(int(r["status"]) for r in results)
    assert statuses.count(200) >= 3
    assert 503 in statuses
    busy = [r for r in results if r["status"] == 503]
    assert busy[0]["lines"] == [
        {"error": "server busy, please try again.  maximum pending requests exceeded"}
    ]


def test_batching_shares_weight_reads() -> None:
    body = {
        "model": "gemma3:4b",
        "messages": [{"role": "user", "content": "hello"}],
        "options": {"num_predict": 64},
    }
    with SimServer(profile="tiny", speed=20, num_parallel=4) as srv:
        (single,) = _stream_many(srv.url, 1, body)
        batch = _stream_many(srv.url, 4, body)
    one = single["lines"][-1]["eval_duration"]
    for result in batch:
        shared = result["lines"][-1]["eval_duration"]
        # Memory-bound decode: four sequences per step cost far less than four steps.
        assert shared < 2 * one


def test_chat_follow_up_hits_the_prefix_cache(slow: SimServer) -> None:
    opts = {"num_ctx": 8192, "num_predict": 8}
    msgs: list[dict[str, str]] = [{"role": "user", "content": "word " * 3000}]
    url = f"{slow.url}/api/chat"
    first = httpx.post(
        url, json={"model": "gemma3:4b", "messages": msgs, "stream": False, "options": opts}
    ).json()
    msgs += [first["message"], {"role": "user", "content": "and then?"}]
    second = httpx.post(
        url, json={"model": "gemma3:4b", "messages": msgs, "stream": False, "options": opts}
    ).json()
    # Plus the assistant message (8 + 4) and "and then?" (3 + 4).
    assert second["prompt_eval_count"] == first["prompt_eval_count"] + 12 + 7
    assert second["prompt_eval_duration"] * 20 < first["prompt_eval_duration"]
