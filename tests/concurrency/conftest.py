"""Fakes for the concurrency tests: a server that serves one request at a time, slowly."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from harness.engines.base import ServerCounters, StreamMeasurement


def fake_measurement(sent: int, first: int, end: int, tokens: int = 4) -> StreamMeasurement:
    step = (end - first) // max(tokens - 1, 1)
    chunks = tuple(first + i * step for i in range(tokens))
    return StreamMeasurement(
        model="fake",
        sent_ns=sent,
        first_byte_ns=first,
        first_content_ns=first,
        end_ns=end,
        chunk_ns=chunks,
        done_reason="stop",
        counters=ServerCounters(eval_count=tokens, eval_duration_ns=max(end - first, 1)),
    )


@pytest.fixture
def serial_server() -> Callable[[float], Callable[[], StreamMeasurement]]:
    """A send() whose server handles one request at a time, each taking `service_s`."""

    def make(service_s: float) -> Callable[[], StreamMeasurement]:
        lock = threading.Lock()

        def send() -> StreamMeasurement:
            sent = time.perf_counter_ns()
            with lock:
                start = time.perf_counter_ns()
                time.sleep(service_s)
                end = time.perf_counter_ns()
            return fake_measurement(sent, start + (end - start) // 4, end)

        return send

    return make
