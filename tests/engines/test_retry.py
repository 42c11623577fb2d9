"""RetryPolicy: which errors are retried, the pauses between tries, and when it gives up."""

from __future__ import annotations

import threading

import pytest

from harness import errors
from harness.engines.retry import CONTROL_RETRY, RetryPolicy


class Flaky:
    """Raises the given errors in turn, then answers "ok"."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


def test_transient_errors_are_retried_with_doubling_capped_pauses() -> None:
    pauses: list[float] = []
    retried: list[tuple[int, str]] = []
    flaky = Flaky(
        errors.ServerUnreachable("reset"),
        errors.StreamIncomplete("cut"),
        errors.MalformedChunk("garbage"),
        errors.RequestTimeout("stall"),
        errors.ServerBusy("503"),
    )
    policy = RetryPolicy(max_attempts=6, base_delay_s=0.5, max_delay_s=3.0)
    answer = policy.call(
        flaky, sleep=pauses.append, on_retry=lambda n, e: retried.append((n, type(e).__name__))
    )
    assert answer == "ok"
    assert flaky.calls == 6
    assert pauses == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert [n for n, _ in retried] == [1, 2, 3, 4, 5]
    assert retried[0][1] == "ServerUnreachable"


@pytest.mark.parametrize(
    "error",
    [errors.ModelNotFound("no"), errors.RequestRejected("400"), errors.OutOfMemory("oom")],
)
def test_errors_about_the_request_itself_are_not_retried(error: Exception) -> None:
    flaky = Flaky(error)
    with pytest.raises(type(error)):
        RetryPolicy().call(flaky, sleep=lambda _: None)
    assert flaky.calls == 1


def test_the_last_error_is_raised_when_the_attempts_run_out() -> None:
    flaky = Flaky(*(errors.StreamIncomplete(f"cut {i}") for i in range(5)))
    with pytest.raises(errors.StreamIncomplete, match="cut 2"):
        RetryPolicy(max_attempts=3).call(flaky, sleep=lambda _: None)
    assert flaky.calls == 3


def test_no_pause_ends_past_the_total_time() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    flaky = Flaky(*(errors.ServerUnreachable("down") for _ in range(100)))
    policy = RetryPolicy(max_attempts=None, base_delay_s=1.0, max_delay_s=4.0, total_s=10.0)
    with pytest.raises(errors.ServerUnreachable):
        policy.call(flaky, sleep=sleep, clock=lambda: now[0])
    assert now[0] == 1 + 2 + 4  # a further pause of 4 s would end at 11 s
    assert flaky.calls == 4


def test_a_set_stop_event_ends_the_retries() -> None:
    stop = threading.Event()
    flaky = Flaky(*(errors.ServerBusy("503") for _ in range(10)))

    def pause(seconds: float) -> None:
        stop.set()  # Ctrl-C arrived during the first pause

    with pytest.raises(errors.ServerBusy):
        RetryPolicy(max_attempts=10).call(flaky, stop=stop, sleep=pause)
    assert flaky.calls == 2


def test_control_requests_give_up_within_a_few_seconds() -> None:
    pauses: list[float] = []
    with pytest.raises(errors.ServerUnreachable):
        CONTROL_RETRY.call(
            Flaky(*(errors.ServerUnreachable("x") for _ in range(9))), sleep=pauses.append
        )
    assert 1.0 <= sum(pauses) <= 5.0
