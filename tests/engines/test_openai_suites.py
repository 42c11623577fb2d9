"""Suites on a server without load control or memory figures: skipped with the reason.

The simulator also speaks the OpenAI-compatible API, so `--engine openai --server URL`
against it is exactly an OpenAI-compatible server the harness did not start: no load, no
unload, no /api/ps. The context-limit search and the checks that need them must say so
instead of measuring something faked.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.sim.server import SimServer
from tests.server_behaviour.suite_runs import parse_junit

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def openai_server() -> Iterator[str]:
    server = SimServer(profile="tiny", speed=50)
    try:
        yield server.start()
    finally:
        server.stop()


def test_suites_skip_what_needs_capabilities_the_server_lacks(
    openai_server: str, tmp_path: Path
) -> None:
    junit = tmp_path / "junit.xml"
    suites = [str(ROOT / "suites" / s) for s in ("context_limits", "server_behaviour")]
    command = [sys.executable, "-m", "pytest", *suites, "-q", "--junitxml", str(junit),
               "--engine", "openai", "--server", openai_server, "--matrix", "smoke",
               "-k", "context_limits or keep_alive_zero_unloads",
               "--reports-dir", str(tmp_path / "reports")]  # fmt: skip
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=240, check=False
    )
    assert junit.is_file(), done.stdout[-3000:] + done.stderr[-2000:]
    outcomes = parse_junit(junit)
    limits = {n: o for n, o in outcomes.items() if n.startswith("test_context_limits")}
    assert len(limits) == 2, outcomes  # one per model of the smoke matrix's limits section
    for outcome, message in limits.values():
        assert outcome == "skipped"
        assert "cannot load a model at a chosen context (no LoadControl)" in message
        assert "--launch" in message
    outcome, message = outcomes["test_keep_alive_zero_unloads"]
    assert outcome == "skipped"
    assert "openai server has no LoadControl, ServerMemory:" in message
