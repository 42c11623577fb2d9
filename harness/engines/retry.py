"""Retrying transient faults: one policy and one loop (tenacity's) for every caller.

A dropped connection, a cut or garbled answer, a stall past the read timeout or a 503 says
nothing about the request itself, so it is worth another try after a pause; a 4xx, a missing
model or an out-of-memory answer is not, and goes back to the caller at once. Engines retry
their control requests (`/api/version`, `/api/tags`, `/api/show`, `/api/ps`) with
`CONTROL_RETRY`, which also makes the start-up check patient; the batch engine retries its
generation requests with the policy its options give; the limits search waits for a server
that crashed, and the launcher for one it started, with a policy bounded by time.

Measured requests are not retried here: a retried sample would time two requests as one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import tenacity

from harness import errors

T = TypeVar("T")

# Worth another try after a pause: nothing answered, the stream broke or was garbled, nothing
# came within the read timeout, the server was busy, or its runner did not start in time.
TRANSIENT: tuple[type[errors.EngineError], ...] = (
    errors.ServerUnreachable,
    errors.StreamError,
    errors.RequestTimeout,
    errors.ServerBusy,
    errors.LoadTimeout,
)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: base, 2 x base, 4 x base ... capped; `max_attempts` in all (None:
    no limit), and no pause that would end more than `total_s` after the first try."""

    max_attempts: int | None = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    total_s: float | None = None

    def delay(self, attempt: int) -> float:
        """The pause after failed attempt number `attempt` (from 1)."""
        return float(min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1)))

    def call(
        self,
        fn: Callable[[], T],
        *,
        retry_on: tuple[type[BaseException], ...] = TRANSIENT,
        stop: threading.Event | None = None,
        on_retry: Callable[[int, BaseException], None] | None = None,
        sleep: Callable[[float], object] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> T:
        """`fn()`, tried again after each `retry_on` error until it succeeds or the attempts
        run out; the last error is raised as it was.

        `stop`, once set, ends the retries (and wakes a pause early when `sleep` is its
        `wait`); `on_retry(attempt, error)` runs before each pause; `sleep` and `clock` are
        the time.monotonic pair that tests replace.
        """
        stop_rule: tenacity.stop.stop_base = tenacity.stop_never
        if self.max_attempts is not None:
            stop_rule = stop_rule | tenacity.stop_after_attempt(self.max_attempts)
        if self.total_s is not None:
            deadline = clock() + self.total_s
            # tenacity decides the pause before it asks whether to stop: a pause that would
            # end past the deadline is not taken.
            stop_rule = stop_rule | _Deadline(deadline, clock)
        if stop is not None:
            stop_rule = stop_rule | tenacity.stop_when_event_set(stop)

        def before_sleep(state: tenacity.RetryCallState) -> None:
            if on_retry is not None and state.outcome is not None:
                error = state.outcome.exception()
                assert error is not None  # only failed attempts are retried
                on_retry(state.attempt_number, error)

        def pause(seconds: float) -> None:
            sleep(seconds)  # Event.wait answers a bool that tenacity has no use for

        retrying = tenacity.Retrying(
            stop=stop_rule,
            wait=tenacity.wait_exponential(
                multiplier=self.base_delay_s, exp_base=2, max=self.max_delay_s
            ),
            retry=tenacity.retry_if_exception_type(retry_on),
            before_sleep=before_sleep,
            sleep=pause,
            reraise=True,
        )
        return retrying(fn)


class _Deadline(tenacity.stop.stop_base):
    def __init__(self, deadline: float, clock: Callable[[], float]) -> None:
        self.deadline, self.clock = deadline, clock

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        return self.clock() + retry_state.upcoming_sleep > self.deadline


# Control requests are small and cheap: quick first retries, about 3 s in all, so a dropped
# connection is ridden out while a server that is not there is reported within seconds.
CONTROL_RETRY = RetryPolicy(max_attempts=5, base_delay_s=0.2, max_delay_s=1.6)
