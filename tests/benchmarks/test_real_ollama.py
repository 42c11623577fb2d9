"""The load generator against a real Ollama: the client's TTFT against the server's own timings.

Ollama stamps no chunk, but it reports how long it took before the first token: its
`load_duration` + `prompt_eval_duration`. The client's TTFT (send to first content) minus
that is the gap: what the harness, HTTP and Ollama's own server around the model (template,
tokenizing, scheduling, the runner handing tokens to the server) add. The same request shape
runs against the simulator in the same benchmark, whose counters are computed the same way,
so the two gaps stand side by side (`ollama_*` and `sim_*`); the simulator's exact per-chunk
error is test_timing_accuracy's. Gemma 3 270M on the CPU (the `realmodel` extra), one stream
(Ollama's counters leave out time queued for a slot, so more streams than slots would show
queueing as a gap). Skips, saying how to get one, without an Ollama binary or the model.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from harness.concurrency.load import LoadSample
from harness.concurrency.workers import ChatRequest, LoadPool
from harness.measure.stats import percentile
from tests.benchmarks.conftest import remote_sim
from tests.real_ollama.server import (
    HOW_TO_GET,
    MODEL,
    NotAvailable,
    ensure_model,
    find_binary,
    gguf_path,
    start,
    stop,
    wait_until_ready,
)

pytestmark = pytest.mark.benchmark_suite

OPTIONS = {"num_predict": 2, "num_ctx": 2048, "temperature": 0}


@pytest.fixture(scope="module")
def ollama_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `ollama serve` on a free port with gemma3:270m, stopped by its PID afterwards."""
    try:
        gguf: Path = gguf_path()
        binary = find_binary()
    except NotAvailable as exc:
        pytest.skip(str(exc))
    if binary is None:
        pytest.skip(HOW_TO_GET)
    proc, url, log = start(binary, tmp_path_factory.mktemp("ollama"))
    try:
        wait_until_ready(url, proc, log)
        ensure_model(url, MODEL, gguf)
        yield url
    finally:
        stop(proc)


def gaps(url: str, model: str, requests: int) -> list[LoadSample]:
    """`requests` one-stream requests from the load generator's worker; the first warms."""
    request = ChatRequest("ollama", url, model, OPTIONS, prompt_words=16)
    with LoadPool(request) as pool:
        pool.closed_loop(1, 1)  # loads the model and opens the connection
        samples = pool.closed_loop(1, requests)
    failed = [s.error for s in samples if not s.ok]
    assert not failed, failed[0]
    return samples


def figures(prefix: str, samples: list[LoadSample]) -> dict[str, float]:
    ttft = [s.first_ns - s.sent_ns for s in samples if s.first_ns is not None]
    server = [s.server_prefill_ns for s in samples if s.server_prefill_ns is not None]
    gap = [t - p for t, p in zip(ttft, server, strict=True)]
    out: dict[str, float] = {f"{prefix}_samples": len(gap)}
    for name, values in (("client_ttft", ttft), ("server_prefill", server), ("ttft_gap", gap)):
        for q in (50, 99):
            out[f"{prefix}_{name}_p{q}_ms"] = round(percentile(values, q) / 1e6, 3)
    return out


def test_ttft_gap_against_the_servers_own_timings(
    benchmark: BenchmarkFixture, ollama_url: str
) -> None:
    # 20: on a busy 2-core box each prefill of Gemma 3 270M took seconds (6 s at load 10).
    requests = 2 if benchmark.disabled else 20
    real = benchmark.pedantic(gaps, args=(ollama_url, MODEL, requests), rounds=1)
    with remote_sim(profile="tiny", speed=1.0, num_parallel=1) as sim:
        simulated = gaps(sim.url, "gemma3:4b", requests)
    benchmark.extra_info.update(figures("ollama", real))
    benchmark.extra_info.update(figures("sim", simulated))
    assert benchmark.extra_info["ollama_samples"] == requests
    assert benchmark.extra_info["sim_samples"] == requests
