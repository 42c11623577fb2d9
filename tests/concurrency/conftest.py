"""Fakes for the concurrency tests: a server that serves one request at a time, slowly."""

from __future__ import annotations

import itertools
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
        # First come, first served, as a server's queue: a plain lock goes to whichever
        # waiter wakes first, so on a busy host requests that arrived later were served
        # first and an open loop's growing queue looked flat (queue_growth 1.7 here).
        turn = threading.Condition()
        tickets = itertools.count()
        serving = [0]

        def send() -> StreamMeasurement:
            sent = time.perf_counter_ns()
            with turn:
                ticket = next(tickets)
                turn.wait_for(lambda: serving[0] == ticket)
            start = time.perf_counter_ns()
            time.sleep(service_s)
            end = time.perf_counter_ns()
            with turn:
                serving[0] += 1
                turn.notify_all()
            return fake_measurement(sent, start + (end - start) // 4, end)

        return send

    return make
