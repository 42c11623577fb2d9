"""Baselines on the simulator: quiet when nothing changed, loud when it got slower.

Each "run" measures the smoke matrix's 4K cells with the same code the plugin uses
(`measure_cell`, five repeats so Mann-Whitney can reach p < 0.01) against an in-process
simulator, and is compared with a stored baseline exactly as `--baseline` does.

Speed 0.25 makes the simulated prefill (~110 ms of wall time) dominate the simulator's own
request handling (a few ms of Python that slows when other processes load the CPU). A busy
host still makes that handling slower: measured on a 2-core host shared with others, an
unchanged simulator's TTFT moved by up to 90% between runs a minute apart. Every case
records the host's load (through the hardware sampler, as the plugin does), and the
simulator's own counters (prompt and decode rates) are its modelled time, which no load
moves: a change they do not show is the host's handling, `noisy`, never `regressed`
(harness.baseline.hostload); a slower simulator shows in them, however the host's load
moved between the baseline and the run. The unchanged runs below alternate between this
host as it is and this host with two CPU-bound processes per CPU beside it.
"""

from __future__ import annotations

import os
import statistics
from pathlib import Path
from typing import Any

import pytest

from harness.baseline import BaselineStore, CompareConfig, compare_runs
from harness.engines import create_engine
from harness.hardware import HardwareSampler, build_backends
from harness.matrix.cells import Cell, load_matrix
from harness.measure.procedure import MeasureSettings, measure_cell
from harness.sim.server import SimServer
from tests.noise import busy_host

ROOT = Path(__file__).resolve().parents[2]
RUNS = 20
SPEED = 0.25
BUSY = 2 * (os.cpu_count() or 1)  # two CPU-bound processes per CPU


def _measure(engine: Any, cell: Cell) -> dict[str, Any]:
    backends = build_backends(engine=engine, server_url=engine.base_url, simulated=True)
    sampler = HardwareSampler(backends)
    sampler.start()

    def finish() -> tuple[dict[str, Any], None]:
        sampler.stop()
        return sampler.summary(), None

    settings = MeasureSettings(time_scale=SPEED, finish_hardware=finish)
    try:
        return measure_cell(engine, cell, repeats=5, settings=settings, marker=sampler).case
    finally:
        sampler.stop()


def measure_run(profile: str, faults: str | None = None) -> dict[str, Any]:
    cells = [c for c in load_matrix(ROOT / "matrices" / "smoke.yaml").cells() if c.num_ctx == 4096]
    with SimServer(profile=profile, faults=faults, speed=SPEED) as sim:
        engine = create_engine("sim", sim.url)
        try:
            cases = [_measure(engine, c) for c in cells]
        finally:
            engine.close()
    for case in cases:
        case["suite"] = "context_scaling"
    fingerprint = {"engine": "sim", "gpus": [], "sim": {"profile": profile, "speed": SPEED}}
    return {
        "schema": "harness.results/1",
        "run_id": f"{profile}-{faults}",
        "simulated": True,
        "fingerprint": fingerprint,
        "cases": cases,
    }


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Any:
    store = BaselineStore(tmp_path_factory.mktemp("baselines"))
    store.save("smoke", measure_run("tiny"))
    return store.load("smoke")


def test_twenty_unchanged_runs_raise_no_false_regression(baseline: Any) -> None:
    flagged: list[Any] = []
    runnable: dict[bool, list[float]] = {True: [], False: []}
    for run in range(RUNS):
        if run % 2:
            with busy_host(BUSY):
                payload = measure_run("tiny")
        else:
            payload = measure_run("tiny")
        report = compare_runs(baseline, payload, CompareConfig())
        flagged += [
            (run, c.case_id, c.messages, c.host_load)
            for c in report.cases
            if c.verdict == "regressed"
        ]
        for case in report.cases:
            assert case.host_load is not None
            assert case.host_load["baseline"]
            assert case.host_load["current"]
            busy = case.host_load["current"].get("runnable_per_cpu")
            if busy is not None:
                runnable[bool(run % 2)].append(float(busy))
    assert flagged == []
    # The load really changed between the runs (whether it slowed them enough to need a
    # `noisy` verdict depends on how busy the host already was): the cases recorded it.
    if runnable[True] and runnable[False]:
        assert statistics.median(runnable[True]) > statistics.median(runnable[False])


def test_a_twenty_percent_slower_server_is_flagged_on_every_case(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # Baseline and run back to back on this host as it is; others share it, so its load may move.
    store = BaselineStore(tmp_path_factory.mktemp("steady-baselines"))
    store.save("steady", measure_run("tiny"))
    slower = measure_run("tiny", faults="slowdown=1.2")
    report = compare_runs(store.load("steady"), slower, CompareConfig())
    verdicts = {c.case_id: c.verdict for c in report.cases}
    assert set(verdicts.values()) == {"regressed"}, verdicts
    for case in report.cases:
        # 1 - 1/1.2 exactly: the simulator's counters are its modelled time.
        assert any(m.startswith("decode_tok_s regressed 16.7%") for m in case.messages), verdicts


def test_a_twenty_percent_slower_server_is_flagged_under_steady_load(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    store = BaselineStore(tmp_path_factory.mktemp("busy-baselines"))
    with busy_host(BUSY):
        store.save("busy", measure_run("tiny"))
        slower = measure_run("tiny", faults="slowdown=1.2")
    report = compare_runs(store.load("busy"), slower, CompareConfig())
    verdicts = {c.case_id: (c.verdict, c.messages) for c in report.cases}
    assert {v for v, _ in verdicts.values()} == {"regressed"}, verdicts
    for case in report.cases:
        assert any(m.startswith("decode_tok_s regressed 16.7%") for m in case.messages), verdicts


def test_a_baseline_from_another_profile_is_incomparable(baseline: Any) -> None:
    report = compare_runs(baseline, measure_run("rtx4080-16gb"), CompareConfig())
    assert {c.verdict for c in report.cases} == {"incomparable"}
    assert any("profile" in w for w in report.fingerprint_mismatch), report.fingerprint_mismatch
