"""The context_scaling suite end to end on the smoke matrix, against the simulator.

The simulator's physics is the ground truth: a measured TTFT can never be shorter than the
prefill the simulator was configured to take, and may exceed it only by the request's
handling: the server's own (its `load_duration` of a warm model), one HTTP exchange and the
thread wake-ups on the way, at the lateness this host showed while the suite ran
(tests/noise.py). A harness that timed the wrong chunk, included the model load, or let a
prefix cache help would land outside that window.
"""

from __future__ import annotations

import statistics
from typing import Any

import httpx
import pytest

from harness.sim.physics import load_seconds
from harness.sim.profiles import hardware_profile, model_profile
from harness.sim.server import SimServer
from harness.sim.truth import truth
from tests.noise import WakeNoise, round_trip_s
from tests.suiterun import run_suite

# Wake-ups between the harness's send and its reading of the first chunk: the server's
# handler, the runner, the handler again for the write, the harness's read.
TTFT_HANDOFFS = 4


_SMOKE: dict[str, Any] = {}  # one run, shared by the tests of this module


@pytest.fixture
def smoke_run(pytester: pytest.Pytester) -> dict[str, Any]:
    if _SMOKE:
        return _SMOKE
    with (
        WakeNoise() as noise,
        SimServer(profile="tiny") as probe,
        httpx.Client(base_url=probe.url) as client,
    ):
        floor_s = round_trip_s(lambda: client.get("/api/version"))
        run = run_suite(pytester, "context_scaling", "--matrix", "smoke", "-q").check()
    _SMOKE.update(
        stdout=run.stdout,
        latest=run.latest,
        payload=run.payload,
        handling_s=floor_s + noise.allowance_s(TTFT_HANDOFFS),
    )
    return _SMOKE


def test_every_cell_passes_and_is_written(smoke_run: dict[str, Any]) -> None:
    payload = smoke_run["payload"]
    assert payload["schema"] == "harness.results/1"
    assert payload["simulated"] is True
    ids = [c["id"] for c in payload["cases"]]
    assert ids == [
        "qwen2.5:3b-instruct-2k",
        "qwen2.5:3b-instruct-4k",
        "gemma3:4b-2k",
        "gemma3:4b-4k",
    ]
    assert all(c["verdict"] == "pass" for c in payload["cases"])
    lines = (smoke_run["latest"] / "results.jsonl").read_text().splitlines()
    assert len(lines) == 1 + len(ids)  # header + one line per finished case
    for name in ("report.html", "matrix.md", "matrix.csv"):
        assert (smoke_run["latest"] / name).is_file()
    assert "harness results (SIMULATED)" in smoke_run["stdout"]


def test_prompts_hit_their_target_within_one_percent(smoke_run: dict[str, Any]) -> None:
    for case in smoke_run["payload"]["cases"]:
        for sample in case["samples"]:
            assert abs(sample["prompt_length_error"]) <= 0.01, (case["id"], sample)


def test_ttft_matches_the_simulated_prefill(smoke_run: dict[str, Any]) -> None:
    profile = smoke_run["payload"]["fingerprint"]["sim"]["profile"]
    for case in smoke_run["payload"]["cases"]:
        # The model loaded in the warm-up, where the harness reports it, not in a repeat.
        load_s = load_seconds(model_profile(case["model"]), hardware_profile(profile))
        assert case["load"]["wall_s"] >= load_s * 0.999, (case["id"], case["load"])
        excess = []
        for sample in case["samples"]:
            tokens = sample["prompt_eval_count"]
            rate = truth(profile, case["model"], contexts=[tokens])["prefill_tok_s"][tokens]
            expected = tokens / rate
            assert sample["ttft_s"] >= expected * 0.999, (case["id"], sample["ttft_s"], expected)
            # The server's handling before the slot is its own measurement (warm model).
            excess.append(sample["ttft_s"] - expected - sample["load_duration_s"])
        allowed = smoke_run["handling_s"]
        assert statistics.median(excess) <= allowed, (case["id"], excess, allowed)


def test_memory_and_stability_come_from_measurements(smoke_run: dict[str, Any]) -> None:
    for case in smoke_run["payload"]["cases"]:
        memory = case["memory"]
        assert memory["source"] == "sim_gpu"
        assert memory["delta_bytes"] > 0  # the model was loaded during the case
        assert 0 < memory["fraction_of_budget"] < 1
        components = case["stability"]["components"]
        assert components["success_rate"] == 1.0
        assert components["headroom"] is not None
        # Idle (before load) and load always have readings; a decode of 16 tokens on the
        # tiny profile is shorter than one sampling period, so it may have none.
        assert {"idle", "load"} <= set(case["hardware"]["phases"])
