"""A busy host or a slower server: `noisy` verdicts from the host's load, on synthetic runs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.baseline import Baseline, BaselineStore, CompareConfig, compare_runs
from harness.baseline.hostload import busier, describe, noisy_reason

Factory = Callable[..., dict[str, Any]]


def load(runnable: float = 2.0, share: float = 0.5, delay: float = 0.5) -> dict[str, Any]:
    """A host_load block as harness.hardware.busy writes it, on a 2-CPU host."""
    return {
        "cpu_count": 2,
        "wall_s": 3.0,
        "load_avg_1m": 2 * runnable,
        "runnable_per_cpu": runnable,
        "other_cpu_s": share * 6.0,
        "other_cpu_share": share,
        "wake_delay_ms": delay,
    }


STEADY = load()
BUSY = load(runnable=4.0, share=0.95, delay=5.0)  # two more CPU-bound processes per CPU


def with_load(payload: dict[str, Any], host_load: dict[str, Any] | None) -> dict[str, Any]:
    for case in payload["cases"]:
        case["host_load"] = host_load
    return payload


def as_baseline(payload: dict[str, Any]) -> Baseline:
    return Baseline.from_payload("nightly", Path("nightly.json"), payload)


@pytest.fixture
def baseline(make_payload: Factory) -> Baseline:
    return as_baseline(with_load(make_payload(0), STEADY))


def test_twenty_unchanged_runs_with_the_load_changing_raise_no_regression(
    make_payload: Factory, baseline: Baseline
) -> None:
    # Every other run is on a busier host, which makes every timing 30% worse.
    verdicts: set[str] = set()
    for seed in range(1, 21):
        busy = seed % 2 == 1
        run = make_payload(seed, slowdown=1.3 if busy else 1.0)
        report = compare_runs(baseline, with_load(run, BUSY if busy else STEADY), CompareConfig())
        verdicts |= {c.verdict for c in report.cases}
        assert not report.regressed, seed
        assert report.counts["noisy"] == (6 if busy else 0), seed
    assert verdicts == {"noisy", "unchanged"}


def test_a_twenty_percent_slower_server_under_steady_load_is_flagged_on_every_case(
    make_payload: Factory, baseline: Baseline
) -> None:
    jittered = load(runnable=2.3, share=0.6, delay=0.8)  # the same load, as it wanders
    run = with_load(make_payload(1, slowdown=1.2), jittered)
    report = compare_runs(baseline, run, CompareConfig())
    assert {c.verdict for c in report.cases} == {"regressed"}
    assert report.regressed


def test_a_noisy_case_names_both_loads_and_keeps_the_evidence(
    make_payload: Factory, baseline: Baseline
) -> None:
    report = compare_runs(baseline, with_load(make_payload(1, slowdown=1.3), BUSY), CompareConfig())
    case = report.cases[0]
    assert case.verdict == "noisy"
    first, *evidence = case.messages
    assert first.startswith("noisy: the host was markedly busier than for the baseline")
    assert "baseline: 2.00 runnable/CPU" in first
    assert "this run: 4.00 runnable/CPU" in first
    assert "other processes 95% CPU" in first
    assert any(m.startswith("ttft_s regressed") for m in evidence)
    data = json.loads(json.dumps(report.to_json()))
    assert data["verdicts"]["noisy"] == 6
    assert data["regressed"] is False
    assert case.to_json()["host_load"] == {"baseline": STEADY, "current": BUSY}
    assert "noisy" in report.table()
    assert "6 noisy" in report.table()


def test_slower_on_a_quieter_host_is_still_a_regression(make_payload: Factory) -> None:
    baseline = as_baseline(with_load(make_payload(0), BUSY))
    run = with_load(make_payload(1, slowdown=1.3), STEADY)
    assert {c.verdict for c in compare_runs(baseline, run, CompareConfig()).cases} == {"regressed"}


def test_faster_on_a_quieter_host_is_noisy_not_improved(make_payload: Factory) -> None:
    baseline = as_baseline(with_load(make_payload(0), BUSY))
    run = with_load(make_payload(1, slowdown=0.7), STEADY)
    report = compare_runs(baseline, run, CompareConfig())
    assert {c.verdict for c in report.cases} == {"noisy"}
    assert "markedly quieter" in report.cases[0].messages[0]


def test_an_unchanged_case_on_a_busier_host_stays_unchanged(
    make_payload: Factory, baseline: Baseline
) -> None:
    run = with_load(make_payload(1), BUSY)
    assert {c.verdict for c in compare_runs(baseline, run, CompareConfig()).cases} == {"unchanged"}


def test_without_load_figures_the_verdict_is_as_before(make_payload: Factory) -> None:
    # A baseline saved before cases recorded their load.
    baseline = as_baseline(with_load(make_payload(0), None))
    run = with_load(make_payload(1, slowdown=1.3), BUSY)
    report = compare_runs(baseline, run, CompareConfig())
    assert {c.verdict for c in report.cases} == {"regressed"}
    assert report.cases[0].to_json()["host_load"] == {"baseline": None, "current": BUSY}


@pytest.mark.parametrize(
    ("change", "figure"),
    [
        ({"runnable_per_cpu": 2.5}, "runnable_per_cpu"),  # x1.25 and +0.5
        ({"other_cpu_share": 0.75}, "other_cpu_share"),  # +25 points
        ({"wake_delay_ms": 1.5}, "wake_delay_ms"),  # x3 and +1 ms
    ],
)
def test_each_figure_alone_marks_a_busier_host(change: dict[str, float], figure: str) -> None:
    assert busier(STEADY, {**STEADY, **change}) == [figure]


@pytest.mark.parametrize(
    "change",
    [
        {"runnable_per_cpu": 2.4},  # x1.2: below the ratio
        {"runnable_per_cpu": 0.6, "load_avg_1m": 1.2},  # against 0.4: x1.5 but only +0.2
        {"other_cpu_share": 0.7},  # +20 points
        {"wake_delay_ms": 1.2},  # x2.4 but only +0.7 ms
    ],
)
def test_small_changes_of_load_are_not_marked(change: dict[str, float]) -> None:
    base = {**STEADY, "runnable_per_cpu": 0.4} if change.get("runnable_per_cpu") == 0.6 else STEADY
    assert busier(base, {**STEADY, **change}) == []


def test_the_load_average_stands_in_when_one_side_has_no_sampled_figure() -> None:
    # Off Linux there is no /proc/loadavg to sample: compare the 1-minute averages per CPU.
    base = {**STEADY, "runnable_per_cpu": None}
    assert busier(base, {**STEADY, "load_avg_1m": 8.0}) == ["load_avg_per_cpu"]
    assert describe({"load_avg_1m": 4.0, "cpu_count": 2}) == "load avg 4.00 on 2 CPUs"
    assert describe({}) == "no figures"


def test_one_figure_is_enough_to_make_a_case_noisy() -> None:
    burst = {**STEADY, "wake_delay_ms": 5.0}  # the run queue as it was
    assert busier(STEADY, burst) == ["wake_delay_ms"]
    assert noisy_reason(STEADY, burst, "regressed") is not None


def test_only_a_moved_case_can_be_noisy() -> None:
    assert noisy_reason(STEADY, BUSY, "unchanged") is None
    assert noisy_reason(STEADY, BUSY, "incomparable") is None
    assert noisy_reason(None, BUSY, "regressed") is None
    assert noisy_reason(STEADY, BUSY, "regressed") is not None


def test_a_saved_baseline_keeps_each_case_s_load(
    make_payload: Factory, store: BaselineStore
) -> None:
    store.save("nightly", with_load(make_payload(0), STEADY))
    saved = store.load("nightly")
    assert all(case.host_load == STEADY for case in saved.cases)


def counted_by_the_server(payload: dict[str, Any]) -> dict[str, Any]:
    """The rates taken from the server's counters, as harness.measure.samples records them."""
    for case in payload["cases"]:
        for sample in case["samples"]:
            sample["prompt_source"] = sample["decode_source"] = "server"
    return payload


def keep_counters(run: dict[str, Any], counters: dict[str, Any]) -> None:
    """Give `run` the counter rates of `counters`: only the client's timings differ."""
    for case, same in zip(run["cases"], counters["cases"], strict=True):
        for sample, kept in zip(case["samples"], same["samples"], strict=True):
            for rate in ("prompt_tok_s", "decode_tok_s"):
                sample[rate] = kept[rate]


def simulated(make_payload: Factory, seed: int, **kwargs: Any) -> dict[str, Any]:
    return counted_by_the_server(make_payload(seed, sim_profile="tiny", **kwargs))


def test_a_slower_simulator_on_a_busier_host_is_still_a_regression(
    make_payload: Factory,
) -> None:
    # The simulator's counters are its modelled time: no load moves its token rates.
    baseline = as_baseline(with_load(simulated(make_payload, 0), STEADY))
    run = with_load(simulated(make_payload, 1, slowdown=1.2), BUSY)
    report = compare_runs(baseline, run, CompareConfig())
    assert {c.verdict for c in report.cases} == {"regressed"}
    first, *evidence = report.cases[0].messages
    assert first.startswith("regressed, though the host was markedly busier than for the base")
    assert first.endswith(": prompt_tok_s, decode_tok_s are the simulator's modelled time")
    assert any(m.startswith("decode_tok_s regressed") for m in evidence)


@pytest.mark.parametrize(
    ("host_load", "evidence"),
    [
        (BUSY, "the host was markedly busier than for the baseline"),
        # No figure marked: the load swung in a way they missed; the counters still tell.
        (STEADY, "baseline: 2.00 runnable/CPU"),
    ],
)
def test_a_simulator_slower_only_by_the_client_s_clock_is_noisy(
    make_payload: Factory, host_load: dict[str, Any], evidence: str
) -> None:
    # Unchanged counters; the host slowed what the client times (TTFT, end to end).
    baseline = as_baseline(with_load(simulated(make_payload, 0), STEADY))
    run = simulated(make_payload, 1, slowdown=1.3)
    counters = simulated(make_payload, 1)
    keep_counters(run, counters)
    report = compare_runs(baseline, with_load(run, host_load), CompareConfig())
    assert {c.verdict for c in report.cases} == {"noisy"}
    first, *rest = report.cases[0].messages
    assert first.startswith(
        "noisy: the simulator's modelled time did not move (prompt_tok_s, decode_tok_s), "
        "so this host's handling did; "
    )
    assert evidence in first
    assert any(m.startswith("ttft_s regressed") for m in rest)


def test_a_real_server_slower_by_the_client_s_clock_under_steady_load_regresses(
    make_payload: Factory,
) -> None:
    # The same run against a real server: its counters are wall time, so only figures tell.
    baseline = as_baseline(with_load(counted_by_the_server(make_payload(0)), STEADY))
    run = counted_by_the_server(make_payload(1, slowdown=1.3))
    counters = make_payload(1)
    keep_counters(run, counters)
    report = compare_runs(baseline, with_load(run, STEADY), CompareConfig())
    assert {c.verdict for c in report.cases} == {"regressed"}


def test_client_timed_rates_of_a_simulator_move_with_the_load(make_payload: Factory) -> None:
    # Without the server's counters the rates are the client's (tokens over its own times).
    baseline = as_baseline(with_load(make_payload(0, sim_profile="tiny"), STEADY))
    run = with_load(make_payload(1, sim_profile="tiny", slowdown=1.3), BUSY)
    assert {c.verdict for c in compare_runs(baseline, run, CompareConfig()).cases} == {"noisy"}


def test_a_real_server_s_counters_move_with_the_load(make_payload: Factory) -> None:
    # A real server's counters are its own wall time on the host it shares with the load.
    baseline = as_baseline(with_load(counted_by_the_server(make_payload(0)), STEADY))
    run = with_load(counted_by_the_server(make_payload(1, slowdown=1.3)), BUSY)
    assert {c.verdict for c in compare_runs(baseline, run, CompareConfig()).cases} == {"noisy"}
