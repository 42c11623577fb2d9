"""The context_limits suite end to end, as `make demo` runs it, in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.limits import format_recommendations, write_context_limit_results
from harness.sim.truth import truth

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "suites" / "context_limits"


def pytest_run(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pytest", str(SUITE), *args]
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    reports = tmp_path_factory.mktemp("reports")
    done = pytest_run(
        "-m", "gpu", "--engine", "sim", "--sim-speed", "200", "--reports-dir", str(reports), "-q"
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    latest = reports / "latest"
    return {
        "stdout": done.stdout,
        "latest": latest,
        "payload": json.loads((latest / "results.json").read_text()),
    }


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
    assert "MAX_CONTEXT_TOKENS = " in format_recommendations(demo["payload"]["limits"][0])


def test_cases_come_from_the_limits_sections_with_their_marks() -> None:
    done = pytest_run("-m", "cpu", "--collect-only", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    ids = [line.split("[", 1)[1].rstrip("]") for line in done.stdout.splitlines() if "::" in line]
    assert ids == [
        "orieg/gemma3-tools:27b-it-qat",
        "liquid-rag:latest",
        "cpu/qwen2.5:3b-instruct",  # smoke.yaml searches it too
        "gemma3:latest",
        "qwen3-coder:30b",
    ]
