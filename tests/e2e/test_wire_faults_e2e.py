"""Faults on the wire between harness and simulator: every cell stays in every output.

For each kind of damage (FaultProxy: cut, reset, garbage, stall, split) at rate 0.3, seeded,
the context_scaling suite runs on the smoke matrix through the proxy. Whatever breaks, the
run finishes; results.json, report.html and matrix.md hold every cell with a verdict, and
a cell that did not pass says why on one line; no damaged response is counted as a sample;
the exit code is 1 only because cells failed; no traceback reaches the terminal.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.sim.proxy import FAULT_KINDS, FaultProxy
from harness.sim.server import SimServer

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "suites" / "context_scaling"
SMOKE_IDS = [
    "qwen2.5:3b-instruct-2k",
    "qwen2.5:3b-instruct-4k",
    "gemma3:4b-2k",
    "gemma3:4b-4k",
]
NUM_PREDICT = 16  # the smoke matrix's
# The sample outcomes each kind of damage may cause; a split response is not damaged.
SAMPLE_ERRORS = {
    "cut": {"incomplete"},
    "reset": {"incomplete", "unreachable"},
    "garbage": {"malformed", "incomplete"},
    "stall": {"timeout"},
    "split": set(),
}


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    with SimServer(profile="tiny", speed=50.0) as server:
        yield server


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_every_cell_is_reported_whatever_the_wire_does(
    pytester: pytest.Pytester, sim: SimServer, kind: str
) -> None:
    reports = pytester.path / "reports"
    # A stall of 3 s must end as a timeout, never as a slow sample; with other kinds a busy
    # machine's slow answer must not, so the read timeout stays long there.
    read_timeout = "1" if kind == "stall" else "60"
    with FaultProxy(sim.url, kind, rate=0.3, seed=7, stall_s=3.0) as proxy:
        result = pytester.runpytest_subprocess(
            str(SUITE),
            "--engine", "ollama",
            "--server", proxy.url,
            "--matrix", "smoke",
            "--read-timeout", read_timeout,
            "--reports-dir", str(reports),
            "-q",
            timeout=300,
        )  # fmt: skip
    assert proxy.damaged > 0
    latest = reports / "latest"
    cases = json.loads((latest / "results.json").read_text())["cases"]
    assert [c["id"] for c in cases] == SMOKE_IDS, result.stdout.str()
    for case in cases:
        assert case["verdict"] in {"pass", "fail", "error", "timeout", "crash"}, case
        if case["verdict"] != "pass":
            assert case["reason"], case
            assert "\n" not in case["reason"], case
        for sample in case["samples"]:
            if sample["outcome"] == "ok":  # only a whole, well-formed stream is a sample
                assert sample["eval_count"] == NUM_PREDICT, sample
                assert sample["ttft_s"] > 0
            else:
                assert sample["outcome"] in SAMPLE_ERRORS[kind], sample
    failed = [c for c in cases if c["verdict"] != "pass"]
    assert result.ret == (1 if failed else 0)
    if kind == "split":  # pieces of 1-7 bytes are still the whole answer: every sample counts
        # (a verdict may still be "fail" on a busy machine's stability, which is not damage)
        assert all(s["outcome"] == "ok" for c in cases for s in c["samples"]), cases
        assert all(len(c["samples"]) == 3 for c in cases)  # the smoke matrix's repeats
    else:
        noticed = [s for c in cases for s in c["samples"] if s["outcome"] != "ok"]
        assert failed or noticed  # the damage was seen, not measured as a success
    html = (latest / "report.html").read_text()
    markdown = (latest / "matrix.md").read_text()
    for case in cases:
        assert case["id"] in html
        assert f"| {case['model']} | {case['num_ctx'] // 1024}K |" in markdown
    for case in failed:
        assert f"| {case['id']} | {case['verdict']} |" in markdown
    out = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in out
    assert "site-packages" not in out
