"""The batch engine's own cost: time per request and memory over 100,000 requests.

Against a fake engine that answers instantly, so every microsecond measured is the batch
engine's (validation, strategy, records, stats). Goals: under 0.5 ms a request, and memory
flat in the number of requests. Run by `make bench`; figures go to `extra_info`, never into
an assertion. With --benchmark-disable (the normal run) the sizes shrink to prove the path.
"""

from __future__ import annotations

import json
import resource
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from harness.batch.fixture import MemorySink, make_batch_engine
from harness.batch.jsonl import read_requests
from harness.batch.output import OutputWriter
from harness.engines.base import ServerCounters, StreamMeasurement

pytestmark = pytest.mark.benchmark_suite

_ANSWER = StreamMeasurement(
    model="m", sent_ns=0, first_byte_ns=1, first_content_ns=1, end_ns=2, chunk_ns=(1,),
    done_reason="stop", text="7",
    counters=ServerCounters(prompt_eval_count=400, prompt_eval_duration_ns=1000, eval_count=1,
                            eval_duration_ns=1000),
)  # fmt: skip


class InstantEngine:
    kind = "ollama"
    base_url = "http://instant"

    def chat(
        self, model: str, messages: Sequence[Mapping[str, Any]], **kw: Any
    ) -> StreamMeasurement:
        return _ANSWER


def lines(n: int) -> Iterator[str]:
    system = "You score candidates from 1 to 10. " * 40
    for i in range(n):
        body = {
            "model": "m",
            "max_tokens": 2,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": f"candidate {i}"},
            ],
        }
        yield json.dumps({"custom_id": f"c{i}", "url": "/v1/chat/completions", "body": body})


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def per_request_ms(n: int, out: Path | None, strategy: str) -> float:
    engine = make_batch_engine(InstantEngine(), strategy=strategy)  # type: ignore[arg-type]
    start = time.perf_counter()
    if out is None:
        engine.run(read_requests(lines(n)), MemorySink())
    else:
        with OutputWriter(out, sync_every_s=1.0) as writer:
            engine.run(read_requests(lines(n)), writer)
    return (time.perf_counter() - start) * 1000 / n


@pytest.mark.parametrize("strategy", ["independent", "conversation"])
def test_overhead_per_request(benchmark: Any, tmp_path: Path, strategy: str) -> None:
    n = 500 if benchmark.disabled else 20_000
    ms = benchmark.pedantic(per_request_ms, args=(n, None, strategy), rounds=1)
    with_file = per_request_ms(n, tmp_path / "out.jsonl", strategy)
    benchmark.extra_info.update({
        "requests": n, "engine_overhead_ms_per_request": round(ms, 4),
        "with_output_file_ms_per_request": round(with_file, 4), "goal_ms": 0.5,
    })  # fmt: skip
    assert ms > 0


def test_memory_is_flat_over_many_requests(benchmark: Any) -> None:
    first, total = (200, 1_000) if benchmark.disabled else (10_000, 100_000)
    engine = make_batch_engine(InstantEngine(), strategy="conversation")  # type: ignore[arg-type]
    stream = read_requests(lines(total))

    def run_all() -> tuple[float, float]:
        head = (next(stream) for _ in range(first))
        engine.run(head, MemorySink())
        after_first = _rss_mb()
        engine.run(stream, MemorySink())
        return after_first, _rss_mb()

    after_first, after_all = benchmark.pedantic(run_all, rounds=1)
    benchmark.extra_info.update({
        f"max_rss_mb_after_{first}": round(after_first, 1),
        f"max_rss_mb_after_{total}": round(after_all, 1),
        "growth_mb": round(after_all - after_first, 1),
    })  # fmt: skip
    assert after_all > 0
