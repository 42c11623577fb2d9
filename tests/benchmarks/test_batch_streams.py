"""How late a batch's requests see the first token at 64 streams: worker processes or threads.

`harness batch run` sends, times and parses each request on its own threads, or with
`--worker-processes` in a ChatPool worker process (harness/concurrency/workers.py). Both
layouts here drive 64 streams against the simulator (a child process), alternating REPEATS
times, and each answer's first content arrival is matched with the simulator's write stamp
by request id: `pool_ttft_error_*` and `threads_ttft_error_*`, in ms. Reported in
extra_info, never asserted.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from harness.concurrency.workers import ChatPool, ChatRequest
from harness.devtools.benchfigures import TimingErrors, TracedOllama, timing_errors
from harness.engines.base import StreamMeasurement
from tests.benchmarks.conftest import MODEL, RemoteSim, remote_sim

pytestmark = pytest.mark.benchmark_suite

OPTIONS = {"num_predict": 20, "num_ctx": 2048}
REPEATS = 3

Chat = Callable[..., StreamMeasurement]


def _streams(sim: RemoteSim, chat: Chat, streams: int, rounds: int) -> TimingErrors:
    """`rounds` requests a stream from `streams` threads; a first round warms every stream."""

    def one(i: int) -> StreamMeasurement:
        return chat(MODEL, [{"role": "user", "content": f"request {i}"}], options=OPTIONS)

    with ThreadPoolExecutor(streams) as threads:
        list(threads.map(one, range(streams)))
        answers = list(threads.map(one, range(streams, streams * (rounds + 1))))
    timeline = sim.timeline()
    pairs = [
        (m.sent_ns, m.first_content_ns, m.chunk_ns, timeline[str(getattr(m, "server_id", ""))])
        for m in answers
    ]
    return timing_errors(pairs)


def test_batch_ttft_error_at_64_streams(benchmark: BenchmarkFixture) -> None:
    streams = 10 if benchmark.disabled else 64
    rounds, repeats = (1, 1) if benchmark.disabled else (4, REPEATS)
    runs: dict[str, list[TimingErrors]] = {"pool": [], "threads": []}

    def alternate() -> None:
        for _ in range(repeats):
            with remote_sim(profile="tiny", speed=1.0, num_parallel=streams) as sim:
                request = ChatRequest("ollama", sim.url, MODEL, factory=TracedOllama)
                with ChatPool(request, streams) as pool:
                    runs["pool"].append(_streams(sim, pool.chat, streams, rounds))
            with remote_sim(profile="tiny", speed=1.0, num_parallel=streams) as sim:
                engine = TracedOllama(sim.url)
                try:
                    runs["threads"].append(_streams(sim, engine.chat, streams, rounds))
                finally:
                    engine.close()

    benchmark.pedantic(alternate, rounds=1)
    info: dict[str, Any] = {"streams": streams, "repeats": repeats}
    for name, parts in runs.items():
        joined = TimingErrors.join(parts)
        assert joined.ttft
        assert joined.unmatched == 0
        info.update(joined.summary(prefix=f"{name}_"))
    benchmark.extra_info.update(info)
