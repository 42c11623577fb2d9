"""The sustained suite end to end on the smoke matrix, against the simulator.

`HARNESS_SUSTAINED_DURATION_S=2` shortens each workload to two wall seconds; at
`--sim-speed 2` that is four simulated seconds, which the results must say (durations are
reported in simulated time).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.workloads.section import DURATION_ENV

ROOT = Path(__file__).resolve().parents[2]
WALL_S, SPEED = 2.0, 2.0


@pytest.fixture(scope="module")
def payload(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    reports = tmp_path_factory.mktemp("reports")
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(ROOT / "suites" / "sustained"),
        "--engine",
        "sim",
        "--matrix",
        "smoke",
        "--sim-speed",
        str(SPEED),
        "--reports-dir",
        str(reports),
        "-q",
    ]
    env = {**os.environ, DURATION_ENV: str(WALL_S)}
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=240, check=False, env=env
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    result: dict[str, Any] = json.loads((reports / "latest" / "results.json").read_text())
    return result


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
        duration = case["metrics"]["duration_s"]
        assert WALL_S * SPEED * 0.95 <= duration <= WALL_S * SPEED * 1.5, duration
        times = [s["t_s"] for s in case["samples"]]
        assert times == sorted(times)
        assert times[-1] <= duration


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
