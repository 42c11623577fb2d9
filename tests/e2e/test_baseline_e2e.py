"""Baselines on the simulator: quiet when nothing changed, loud when it got slower.

Each "run" measures the smoke matrix's 4K cells with the same code the plugin uses
(`measure_cell`, five repeats so Mann-Whitney can reach p < 0.01) against an in-process
simulator, and is compared with a stored baseline exactly as `--baseline` does.

Speed 0.25 makes the simulated prefill (~110 ms of wall time) dominate the simulator's own
request handling (a few ms of Python that slows when other processes load the CPU): at full
speed on the tiny profile that handling is a fifth of TTFT, and a busy machine really does
make it slower, which a baseline comparison rightly flags. Run it on a quiet machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.baseline import BaselineStore, CompareConfig, compare_runs
from harness.engines import create_engine
from harness.matrix import load_matrix
from harness.measure import MeasureSettings, measure_cell
from harness.sim.server import SimServer

ROOT = Path(__file__).resolve().parents[2]
RUNS = 20
SPEED = 0.25


def measure_run(profile: str, faults: str | None = None) -> dict[str, Any]:
    cells = [c for c in load_matrix(ROOT / "matrices" / "smoke.yaml").cells() if c.num_ctx == 4096]
    settings = MeasureSettings(time_scale=SPEED)
    with SimServer(profile=profile, faults=faults, speed=SPEED) as sim:
        engine = create_engine("sim", sim.url)
        try:
            cases = [measure_cell(engine, c, repeats=5, settings=settings).case for c in cells]
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
    flagged = []
    for run in range(RUNS):
        report = compare_runs(baseline, measure_run("tiny"), CompareConfig())
        flagged += [(run, c.case_id, c.messages) for c in report.cases if c.verdict == "regressed"]
    assert flagged == []


def test_a_twenty_percent_slower_server_is_flagged_on_every_case(baseline: Any) -> None:
    report = compare_runs(baseline, measure_run("tiny", faults="slowdown=1.2"), CompareConfig())
    verdicts = {c.case_id: c.verdict for c in report.cases}
    assert set(verdicts.values()) == {"regressed"}, verdicts
    messages = [m for c in report.cases for m in c.messages]
    assert any(m.startswith("decode_tok_s regressed") for m in messages), messages


def test_a_baseline_from_another_profile_is_incomparable(baseline: Any) -> None:
    report = compare_runs(baseline, measure_run("rtx4080-16gb"), CompareConfig())
    assert {c.verdict for c in report.cases} == {"incomparable"}
    assert any("profile" in w for w in report.fingerprint_mismatch), report.fingerprint_mismatch
