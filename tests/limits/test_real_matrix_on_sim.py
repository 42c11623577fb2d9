"""The real-Ollama group's limits scenario on the simulator: one matrix, the same answer.

tests/real_ollama/test_suites_on_real_ollama.py runs this against a real Ollama; here the
simulator's own `/api/ps` is the ground truth, so the two agree wherever the simulator
agrees with the server (tests/real_ollama/test_sim_agrees.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from harness.sim.server import SimServer

ROOT = Path(__file__).resolve().parents[2]
MATRIX = ROOT / "tests" / "real_ollama" / "gemma3-270m.yaml"
BUDGET_BYTES = 520_000_000
MODEL = "gemma3:270m"


def _ps_line() -> tuple[float, float]:
    sizes = {}
    with SimServer(profile="cpu2-ci", speed=50) as sim, httpx.Client(base_url=sim.url) as c:
        for ctx in (8192, 16384):
            c.post("/api/generate", json={"model": MODEL, "options": {"num_ctx": ctx}})
            sizes[ctx] = c.get("/api/ps").json()["models"][0]["size"]
            c.post("/api/generate", json={"model": MODEL, "keep_alive": 0})
    slope = (sizes[16384] - sizes[8192]) / 8192
    return sizes[8192] - slope * 8192, slope


def test_the_real_groups_limits_scenario_gives_the_same_answer_on_the_simulator(
    tmp_path: Path,
) -> None:
    command = [
        sys.executable, "-m", "pytest", str(ROOT / "suites" / "context_limits"),
        "--engine", "sim", "--sim-speed", "20", "--matrix", str(MATRIX),
        "--ram-budget", str(BUDGET_BYTES), "--reports-dir", str(tmp_path), "-q",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:]
    (limit,) = json.loads((tmp_path / "latest" / "results.json").read_text())["limits"]
    base, slope = _ps_line()
    assert limit["memory"]["name"] == "ps"
    assert abs(limit["bytes_per_token"] / slope - 1) <= 0.05
    where_ps_says = (BUDGET_BYTES - base) / slope
    assert abs(limit["max_context"] - where_ps_says) <= limit["search"]["resolution"]
