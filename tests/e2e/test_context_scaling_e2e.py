"""The context_scaling suite end to end on the smoke matrix, against the simulator.

The simulator's physics is the ground truth: a measured TTFT can never be shorter than the
prefill the simulator was configured to take, and may exceed it only by the request's
handling (a few milliseconds). A harness that timed the wrong chunk, included the model
load, or let a prefix cache help would land far outside that window.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.sim.truth import truth

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "suites" / "context_scaling"
MAX_HANDLING_S = 0.010  # request parsing, tokenizing and the HTTP round trip


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    reports = tmp_path_factory.mktemp("reports")
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(SUITE),
        "--engine",
        "sim",
        "--matrix",
        "smoke",
        "--reports-dir",
        str(reports),
        "-q",
    ]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    latest = reports / "latest"
    return {
        "stdout": done.stdout,
        "latest": latest,
        "payload": json.loads((latest / "results.json").read_text()),
    }


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
        excess = []
        for sample in case["samples"]:
            tokens = sample["prompt_eval_count"]
            rate = truth(profile, case["model"], contexts=[tokens])["prefill_tok_s"][tokens]
            expected = tokens / rate
            assert sample["ttft_s"] >= expected * 0.999, (case["id"], sample["ttft_s"], expected)
            excess.append(sample["ttft_s"] - expected)
        assert statistics.median(excess) <= MAX_HANDLING_S, (case["id"], excess)


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
