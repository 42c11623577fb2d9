"""The context_limits suite end to end, as `make demo` runs it (tests/suiterun.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.limits import format_recommendations, write_context_limit_results
from harness.results.schema import load_run
from harness.sim.truth import truth
from tests.suiterun import run_suite, run_suite_once


@pytest.fixture
def demo(pytester: pytest.Pytester) -> dict[str, Any]:
    run = run_suite_once(pytester, "context_limits", "-m", "gpu", "--sim-speed", "200", "-q")
    run.check()
    return {"stdout": run.stdout, "latest": run.latest, "payload": run.payload}


def test_the_demo_finds_the_gpu_limit(demo: dict[str, Any]) -> None:
    payload = demo["payload"]
    (limit,) = payload["limits"]
    expected = truth("rtx4080-16gb", "gemma3:12b")
    assert limit["model"] == "gemma3:12b"
    assert limit["matrix"] == "gpu"
    assert limit["hardware"] == "rtx4080-16gb (SIMULATED)"
    assert abs(limit["max_context"] - expected["max_context_gpu"]) <= 1024
    assert limit["bytes_per_token"] == pytest.approx(expected["bytes_per_token"], rel=0.02)
    assert limit["verdict"] == "pass"
    (case,) = payload["cases"]
    assert (case["id"], case["verdict"]) == ("limits:gemma3:12b", "pass")
    assert "limits:gemma3:12b  pass" in demo["stdout"]


def test_the_reports_show_the_settings(demo: dict[str, Any], tmp_path: Path) -> None:
    latest = demo["latest"]
    for name in ("report.html", "matrix.md", "matrix.csv"):
        assert (latest / name).is_file()
    assert "PARAMETER num_ctx" in (latest / "matrix.md").read_text()
    path = write_context_limit_results(tmp_path, demo["payload"])
    assert json.loads(path.read_text()) == demo["payload"]["limits"]
    (limit,) = load_run(latest).limits
    assert "MAX_CONTEXT_TOKENS = " in format_recommendations(limit)


def test_cases_come_from_the_limits_sections_with_their_marks(pytester: pytest.Pytester) -> None:
    run = run_suite(pytester, "context_limits", "-m", "cpu", "--collect-only", "-q", engine=None)
    run.check()
    ids = [line.split("[", 1)[1].rstrip("]") for line in run.stdout.splitlines() if "::" in line]
    assert ids == [
        "orieg/gemma3-tools:27b-it-qat",
        "liquid-rag:latest",
        "cpu/qwen2.5:3b-instruct",  # smoke.yaml searches it too
        "gemma3:latest",
        "qwen3-coder:30b",
    ]
