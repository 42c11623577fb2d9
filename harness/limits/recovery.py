"""Waiting for a server that crashed or hung during a probe, before the search goes on.

Ollama restarts a dead runner on the next request, and a supervisor (systemd, Docker)
restarts a dead server; either takes seconds. The wait is bounded so a server that never
comes back ends the search with a reason instead of hanging the run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.engines.retry import RetryPolicy
from harness.errors import EngineError


@dataclass(frozen=True)
class Backoff:
    """Poll delays: first, doubled each time, capped; the whole wait is bounded."""

    first_s: float = 0.25
    max_s: float = 5.0
    total_s: float = 120.0


def wait_for_server(
    engine: Any,
    backoff: Backoff = Backoff(),
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> bool:
    """Poll `engine.version()` until it answers (True) or `backoff.total_s` passed (False)."""
    policy = RetryPolicy(
        max_attempts=None,
        base_delay_s=backoff.first_s,
        max_delay_s=backoff.max_s,
        total_s=backoff.total_s,
    )
    try:
        policy.call(engine.version, retry_on=(EngineError,), sleep=sleep, clock=clock)
    except EngineError:
        return False
    return True
