"""Load generators: a closed loop of N clients, and open-loop Poisson arrivals.

Closed loop: N threads each send the next request as soon as their last one ends, so the
server never sees more than N at once; latency runs from the moment the client sent.

Open loop: requests go out at times drawn in advance (exponential gaps, seeded), whatever
the server is doing. Latency runs from the *scheduled* time, so when a slow server makes the
sender fall behind, the wait counts against the server instead of vanishing (no coordinated
omission, the mistake wrk and many benchmarks make by timing from the late send).

These run the client threads in this process; `Send` is any callable, which is what the
tests drive. The sweeps run the same loops in worker processes (workers.py), each of them
these functions over a share of the streams: one process's GIL cannot serve 64 streams
without adding milliseconds to what they time. Every run holds the collector off from its
first send to its last chunk (gcpause.held), in whichever process runs it.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from harness.engines.base import StreamMeasurement
from harness.errors import EngineError
from harness.measure.gcpause import held

Send = Callable[[], StreamMeasurement]
MAX_IN_FLIGHT = 256  # open loop: more than this many outstanding requests wait for a thread
START_LEAD_NS = 5_000_000  # the first scheduled send is this far ahead, to set up the pool


@dataclass(frozen=True)
class LoadSample:
    """One request, in wall-clock perf_counter_ns; `scale` turns seconds into simulated ones."""

    scheduled_ns: int
    sent_ns: int
    first_ns: int | None
    end_ns: int
    output_tokens: int = 0
    gaps_s: tuple[float, ...] = ()
    decode_tok_s: float | None = None  # server counters (eval_count / eval_duration), wall
    error: str | None = None
    chunk_ns: tuple[int, ...] = ()  # arrival of every content chunk
    server_id: str | None = None  # the server's id of the request, when the engine knows it
    # The server's own time to the first token (load + prompt evaluation), when it counts
    # them (Ollama): what the client's TTFT is compared against on a real server.
    server_prefill_ns: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def ttft_s(self, scale: float = 1.0) -> float | None:
        if self.first_ns is None:
            return None
        return (self.first_ns - self.scheduled_ns) / 1e9 * scale

    def itl_s(self, scale: float = 1.0) -> float | None:
        """Mean gap between content chunks after the first (time per output token)."""
        if not self.gaps_s:
            return None
        return sum(self.gaps_s) / len(self.gaps_s) * scale

    def e2e_s(self, scale: float = 1.0) -> float:
        return (self.end_ns - self.scheduled_ns) / 1e9 * scale


def failed(scheduled_ns: int, error: str) -> LoadSample:
    """A request that produced no measurement, ending now."""
    return LoadSample(scheduled_ns, scheduled_ns, None, time.perf_counter_ns(), error=error)


def measure(send: Send, scheduled_ns: int) -> LoadSample:
    """Send one request; any error becomes a failed sample, never an exception.

    Not only engine errors: a bug that raised here would end a client thread and lose its
    remaining requests silently, where a failed sample is counted and shown.
    """
    try:
        m = send()
    except EngineError as exc:
        return failed(scheduled_ns, f"{type(exc).__name__}: {exc}")
    except Exception as exc:
        return failed(scheduled_ns, f"internal error: {type(exc).__name__}: {exc}")
    tokens = m.counters.eval_count or len(m.chunk_ns)
    return LoadSample(
        scheduled_ns=scheduled_ns,
        sent_ns=m.sent_ns,
        first_ns=m.first_content_ns,
        end_ns=m.end_ns,
        output_tokens=tokens,
        gaps_s=m.itl_s,
        decode_tok_s=m.counters.decode_tok_s,
        chunk_ns=m.chunk_ns,
        # Set by an engine that reads the server's request id (the benchmarks' traced one).
        server_id=getattr(m, "server_id", None),
        server_prefill_ns=_prefill_ns(m),
    )


def _prefill_ns(m: StreamMeasurement) -> int | None:
    if m.counters.prompt_eval_duration_ns is None:
        return None
    return m.counters.prompt_eval_duration_ns + (m.counters.load_duration_ns or 0)


def closed_loop(send: Send, concurrency: int, requests: int) -> list[LoadSample]:
    """`requests` requests from `concurrency` clients that each wait for their answer."""
    tickets = iter(range(requests))
    lock = threading.Lock()
    samples: list[LoadSample] = []

    def client() -> None:
        while True:
            with lock:
                if next(tickets, None) is None:
                    return
            sample = measure(send, time.perf_counter_ns())
            with lock:
                samples.append(sample)

    threads = [
        threading.Thread(target=client, name=f"concurrency-client-{i}", daemon=True)
        for i in range(concurrency)
    ]
    with held():
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return samples


def poisson_offsets_ns(rate_per_s: float, count: int, seed: int) -> list[int]:
    """Send times (ns after the start) of `count` Poisson arrivals at `rate_per_s`."""
    if rate_per_s <= 0:
        raise ValueError(f"rate must be > 0, got {rate_per_s!r}")
    rng = random.Random(seed)
    at, out = 0.0, []
    for _ in range(count):
        at += rng.expovariate(rate_per_s)
        out.append(int(at * 1e9))
    return out


def open_loop(
    send: Send,
    offsets_ns: list[int],
    start_ns: int | None = None,
    max_in_flight: int = MAX_IN_FLIGHT,
) -> list[LoadSample]:
    """Send at `offsets_ns` after `start_ns` (default: now), each timed from its schedule.

    Samples come back in the order of `offsets_ns`.
    """
    workers = max(1, min(max_in_flight, len(offsets_ns)))
    with (
        held(),
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="concurrency-open") as pool,
    ):
        # After held()'s collection, which on a large heap takes longer than the lead.
        start = time.perf_counter_ns() + START_LEAD_NS if start_ns is None else start_ns
        futures = []
        for offset in offsets_ns:
            due = start + offset
            wait_ns = due - time.perf_counter_ns()
            if wait_ns > 0:
                time.sleep(wait_ns / 1e9)
            futures.append(pool.submit(measure, send, due))
        return [f.result() for f in futures]
