"""Engines for the load generator's worker processes in tests (imported there by name).

`base_url` picks the behaviour, since it is what a ChatRequest hands a factory:
- "fake://ok": every chat takes ~2 ms and returns 4 chunks;
- "fake://engine-error": every chat raises ServerError;
- "fake://bug": every chat raises ValueError (a bug in the harness, not the server);
- a file path: the first chat in any worker that finds the file removes it and kills its
  process with exit code 3 (a crashed worker); the others behave as "fake://ok";
- "hang://" + a file path: the first chat in any worker that finds the file removes it and
  never returns (a stuck worker); the others behave as "fake://ok".
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from harness.engines.base import ContextControl, ServerCounters, StreamMeasurement
from harness.engines.http import Timeouts
from harness.errors import ServerError

CRASH_CODE = 3


class FakeEngine:
    """A whole `Engine`, so that it is a factory a ChatRequest takes; only chat() does work."""

    kind = "fake"
    context_control: ContextControl = "none"  # it ignores num_ctx

    def __init__(self, base_url: str, timeouts: Timeouts | None = None) -> None:
        self.base_url = base_url

    def version(self) -> str:
        return "fake"

    def check(self) -> None:
        pass

    def chat(self, model: str, messages: Sequence[Any], **kwargs: Any) -> StreamMeasurement:
        if self.base_url == "fake://engine-error":
            raise ServerError("the fake server failed")
        if self.base_url == "fake://bug":
            raise ValueError("a bug")
        if self.base_url.startswith("hang://"):
            try:
                os.remove(self.base_url.removeprefix("hang://"))
            except FileNotFoundError:
                pass
            else:
                time.sleep(3600)  # killed by the pool long before this ends
        elif not self.base_url.startswith("fake://"):
            try:
                os.remove(self.base_url)
            except FileNotFoundError:
                pass
            else:
                os._exit(CRASH_CODE)
        sent = time.perf_counter_ns()
        time.sleep(0.002)
        first = time.perf_counter_ns()
        chunks = (first, first + 1000, first + 2000, first + 3000)
        return StreamMeasurement(
            model=model,
            sent_ns=sent,
            first_byte_ns=first,
            first_content_ns=first,
            end_ns=first + 3000,
            chunk_ns=chunks,
            done_reason="stop",
            counters=ServerCounters(eval_count=4, eval_duration_ns=3000),
        )

    def close(self) -> None:
        pass
