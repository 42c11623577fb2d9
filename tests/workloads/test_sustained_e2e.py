"""The sustained suite end to end on the smoke matrix, against the simulator.

`HARNESS_SUSTAINED_DURATION_S=4` shortens each workload to four simulated seconds, timed on
the simulator's own clock (only modelled work advances it): at `--sim-speed 2` about two
wall seconds on a quiet host, and the same requests however busy the host is.
"""

from __future__ import annotations

from typing import Any

import pytest

from harness.workloads.section import DURATION_ENV
from tests.suiterun import run_suite_once

SIM_S, SPEED = 4.0, 2.0


@pytest.fixture
def payload(pytester: pytest.Pytester) -> dict[str, Any]:
    run = run_suite_once(
        pytester, "sustained", "--matrix", "smoke", "--sim-speed", str(SPEED), "-q",
        env={DURATION_ENV: str(SIM_S)}, timeout=240,
    )  # fmt: skip
    return run.check().payload


def test_one_passing_case_per_workload(payload: dict[str, Any]) -> None:
    ids = [c["id"] for c in payload["cases"]]
    assert ids == [
        "sustained:gemma3:4b:coding",
        "sustained:liquid-rag:latest:rag",
        "sustained:qwen2.5:3b-instruct:chat",
    ]
    for case in payload["cases"]:
        assert case["verdict"] == "pass", case["reason"]
        assert case["suite"] == "sustained"
        assert case["metrics"]["success_rate"] == 1.0
        assert case["stability"]["components"]["drift"] is not None


def test_results_are_in_simulated_time(payload: dict[str, Any]) -> None:
    for case in payload["cases"]:
        assert case["time_scale"] == SPEED
        times = [s["t_s"] for s in case["samples"]]
        assert times == sorted(times)
        # The loop starts a request while simulated time is left and stops at the first
        # answer past the end; nothing modelled happens after it.
        assert times[-2] < SIM_S <= times[-1]
        assert case["metrics"]["duration_s"] == pytest.approx(times[-1], abs=1e-6)


def test_turns_trends_and_memory_are_recorded(payload: dict[str, Any]) -> None:
    for case in payload["cases"]:
        samples = case["samples"]
        assert len(samples) >= 5
        assert all(s["ttft_s"] > 0 and s["decode_tok_s"] > 0 for s in samples)
        drift = case["metrics"]["decode_drift_per_hour"]
        assert drift["low"] <= drift["slope"] <= drift["high"]
        assert case["memory"]["source"] == "sim_gpu"
        growth = case["metrics"]["memory_growth"]
        assert growth["bytes_over_run"] == 0  # the simulator does not leak
    chat = payload["cases"][2]
    assert any(s["trimmed"] for s in chat["samples"])  # 4K context, a growing conversation
    assert chat["samples"][1]["prompt_eval_count"] > chat["samples"][0]["prompt_eval_count"]


def test_each_case_records_the_host_s_load_where_a_baseline_keeps_it(
    payload: dict[str, Any],
) -> None:
    for case in payload["cases"]:
        load = case["host_load"]
        assert load == case["hardware"]["host_load"]
        assert load["window"] == "requests"
        assert load["cpu_count"] >= 1
