"""Simulated throughput does not depend on --sim-speed (issue 18, item 5).

The throughput suite reads durations from the simulator's own clock, which counts modelled
work at its simulated length and the client's own work at its real length; multiplying the
client's wall time by the speed made 170,000 requests take 3.5 h at speed 2 and 27 h at 50.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPEEDS = (2, 20, 50)


def _req_s_by_strategy(tmp_path: Path, speed: int) -> dict[str, float]:
    reports = tmp_path / f"speed{speed}"
    cmd = [
        sys.executable, "-m", "pytest", str(ROOT / "suites" / "throughput"), "--engine", "sim",
        "--matrix", "smoke", "--sim-speed", str(speed), "--reports-dir", str(reports), "-q",
        "-p", "no:randomly",
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    entries = json.loads((reports / "latest" / "results.json").read_text())["throughput"]
    totals: dict[str, tuple[int, float]] = {}
    for e in entries:
        n, t = totals.get(e["strategy"], (0, 0.0))
        totals[e["strategy"]] = (n + e["size"], t + e["total_s"])
    return {strategy: n / t for strategy, (n, t) in totals.items()}


@pytest.fixture(scope="module")
def rates(tmp_path_factory: pytest.TempPathFactory) -> dict[int, dict[str, float]]:
    tmp = tmp_path_factory.mktemp("sim_speed")
    return {speed: _req_s_by_strategy(tmp, speed) for speed in SPEEDS}


def test_req_s_agrees_within_5_percent_across_speeds(rates: dict[int, dict[str, float]]) -> None:
    for strategy in ("independent", "conversation"):
        by_speed = {speed: rates[speed][strategy] for speed in SPEEDS}
        low, high = min(by_speed.values()), max(by_speed.values())
        assert (high - low) / high <= 0.05, f"{strategy}: req/s by --sim-speed {by_speed}"
