"""The real-Ollama group's limits scenario on the simulator: one matrix, the same answer.

tests/real_ollama/test_suites_on_real_ollama.py runs this against a real Ollama; here the
simulator's own `/api/ps` is the ground truth, so the two agree wherever the simulator
agrees with the server (tests/real_ollama/test_sim_agrees.py).
"""

from __future__ import annotations

import httpx
import pytest

from harness.sim.server import SimServer
from tests.suiterun import ROOT, run_suite

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
    pytester: pytest.Pytester,
) -> None:
    run = run_suite(
        pytester, "context_limits", "--sim-speed", "20", "--matrix", str(MATRIX),
        "--ram-budget", str(BUDGET_BYTES), "-q", timeout=600,
    )  # fmt: skip
    (limit,) = run.check().payload["limits"]
    base, slope = _ps_line()
    assert limit["memory"]["name"] == "ps"
    assert abs(limit["bytes_per_token"] / slope - 1) <= 0.05
    where_ps_says = (BUDGET_BYTES - base) / slope
    assert abs(limit["max_context"] - where_ps_says) <= limit["search"]["resolution"]
