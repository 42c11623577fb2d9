"""The search against a fake server: bracketing, the probe bound, and every failure kind."""

from __future__ import annotations

import pytest

from harness.limits.predict import Prediction
from harness.limits.probe import Prober
from harness.limits.recovery import Backoff, wait_for_server
from harness.limits.search import Estimator, SearchResult, max_probes, next_context, search
from tests.limits.fakes import FakeEngine, FakeServer

RES = 1024


def first_guess(server: FakeServer) -> int:
    """The prediction's largest context for the 95% GPU budget: the first probe."""
    guess = server.prediction.largest_fitting(0.95 * server.total)
    assert guess is not None
    return guess


def run(
    prober: Prober, server: FakeServer, fake_engine: FakeEngine, *, estimate: bool = True
) -> SearchResult:
    cap = prober.learn_capacity()
    estimator = Estimator(server.prediction, cap.available_bytes if estimate else None, cap.gpu)
    now = [0.0]  # a clock that only moves when the wait sleeps

    def sleep(seconds: float) -> None:
        now[0] += seconds

    def recover() -> bool:
        return wait_for_server(fake_engine, Backoff(total_s=30.0), sleep, lambda: now[0])

    return search(prober, estimator, 131072, RES, recover=recover)


def test_the_first_probe_is_the_prediction_and_three_suffice(
    prober: Prober, server: FakeServer, fake_engine: FakeEngine
) -> None:
    result = run(prober, server, fake_engine)
    truth = server.truth()
    assert result.probes[0].num_ctx == first_guess(server)
    assert truth - RES <= (result.max_context or 0) <= truth
    assert len(result.probes) <= 3
    assert all(p.predicted_bytes == server.size(p.num_ctx) for p in result.probes)


def test_plain_bisection_stays_within_the_bound(
    prober: Prober, server: FakeServer, fake_engine: FakeEngine
) -> None:
    result = run(prober, server, fake_engine, estimate=False)
    truth = server.truth()
    assert truth - RES <= (result.max_context or 0) <= truth
    assert len(result.probes) <= max_probes(131072, RES) == 10
    assert result.first_bad is not None
    assert result.first_bad - (result.max_context or 0) <= RES + 1


@pytest.mark.parametrize("total_gib", [7, 9, 12, 24, 40])
def test_found_within_one_step_for_any_card(
    prober: Prober, server: FakeServer, fake_engine: FakeEngine, total_gib: int
) -> None:
    server.total = total_gib * 1024**3
    result = run(prober, server, fake_engine)
    truth = min(server.truth(), 131072)
    assert truth - RES <= (result.max_context or 0) <= truth
    assert len(result.probes) <= 10


def test_spilled_probes_are_bad_on_a_gpu(
    prober: Prober, server: FakeServer, fake_engine: FakeEngine
) -> None:
    server.total = 8 * 1024**3  # the prediction's first guess is far too high: spilled
    server.overhead = 2 * 1024**3
    result = run(prober, server, fake_engine)
    outcomes = {p.outcome for p in result.probes}
    assert "spilled" in outcomes or "over_budget" in outcomes
    assert result.max_context == pytest.approx(server.truth(), abs=RES)


def test_a_crash_is_waited_out_and_the_search_resumes(
    prober: Prober, server: FakeServer, fake_engine: FakeEngine
) -> None:
    first = first_guess(server)
    server.crash_at = {first}
    server.down_polls = 3
    result = run(prober, server, fake_engine)
    assert result.probes[0].outcome == "crash"
    assert result.stopped is None
    assert server.polls >= 4  # three refused polls, then the one that answered
    assert result.max_context is not None


def test_a_hang_is_a_timeout_and_recovers(
    prober: Prober, server: FakeServer, fake_engine: FakeEngine
) -> None:
    first = first_guess(server)
    server.hang_at = {first}
    server.down_polls = 2
    result = run(prober, server, fake_engine)
    assert result.probes[0].outcome == "timeout"
    assert result.max_context is not None


def test_a_server_that_never_returns_stops_the_search(
    prober: Prober, server: FakeServer, fake_engine: FakeEngine
) -> None:
    first = first_guess(server)
    server.crash_at = {first}
    server.down_polls = 10_000
    result = run(prober, server, fake_engine)
    assert len(result.probes) == 1
    assert fake_engine.server.polls < 20  # bounded: backoff up to 5 s within 30 s
    assert result.stopped is not None
    assert "did not come back" in result.stopped


def test_a_capped_context_bounds_the_maximum(
    prober: Prober, server: FakeServer, fake_engine: FakeEngine
) -> None:
    server.cap_at = 32768
    result = run(prober, server, fake_engine)
    assert "capped" in {p.outcome for p in result.probes}
    assert 32768 - RES <= (result.max_context or 0) <= 32768


def test_over_budget_is_judged_on_the_measured_peak(
    prober: Prober, server: FakeServer, fake_engine: FakeEngine
) -> None:
    # Fits the card, not the 95% budget: the probe is over_budget, not spilled.
    ctx = server.truth() + 2 * RES
    prober.learn_capacity()
    probe = prober(ctx)
    assert probe.outcome == "over_budget"
    assert probe.size == probe.size_vram
    assert probe.memory_bytes == server.size(ctx) + server.overhead


def test_oom_below_the_limit_brackets_below_it(
    prober: Prober, server: FakeServer, fake_engine: FakeEngine
) -> None:
    server.oom_from = 20000
    result = run(prober, server, fake_engine)
    assert "oom" in {p.outcome for p in result.probes}
    assert 20000 - RES <= (result.max_context or 0) < 20000


def test_next_context_guides_then_bisects() -> None:
    assert next_context(0, 131073, 50000, 0, 10, RES) == 50000
    assert next_context(50000, 131073, 40000, 1, 10, RES) == 50000 + RES
    assert next_context(0, 50000, 60000, 1, 10, RES) == 50000 - RES
    # No probes to spare for guessing: the middle of the bracket.
    assert next_context(0, 131073, 50000, 4, 10, RES) == 65536


def test_estimator_uses_the_latest_measurement(prober: Prober, server: FakeServer) -> None:
    cap = prober.learn_capacity()
    estimator = Estimator(server.prediction, cap.available_bytes, cap.gpu)
    naive = estimator([])
    assert naive is not None
    probe = prober(naive)
    corrected = estimator([probe])
    assert corrected == server.truth()
    assert corrected < naive  # the CUDA overhead the prediction cannot see


def test_estimator_without_capacity_guesses_nothing(server: FakeServer) -> None:
    assert Estimator(Prediction(server.prediction.shape), None, True)([]) is None
