"""The plugin when servers or the network fail: cells stay in the results, start-up retries."""

from __future__ import annotations

import json
import random

import pytest

from harness.sim.proxy import FaultProxy
from harness.sim.server import SimServer
from tests.suiterun import demo_project

MATRIX = """\
version: 1
name: box
models:
  - name: gemma3:4b
    contexts: [2k, 4k]
"""

# A cell test that breaks the way require_model() did when /api/tags was cut mid-response,
# and one whose fixture fails before the test runs.
SUITE = """\
import pytest
from harness.errors import StreamIncomplete

@pytest.fixture
def broken_fixture(cell):
    if cell.num_ctx == 4096:
        raise StreamIncomplete("connection to http://x/api/ps broke mid-response: cut")

def test_cell(cell, broken_fixture):
    raise StreamIncomplete("connection to http://x/api/tags broke mid-response: cut\\nmore")
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    return demo_project(pytester, MATRIX, SUITE)


def test_a_cell_that_fails_before_recording_itself_is_still_reported(
    project: pytest.Pytester,
) -> None:
    reports = project.path / "reports"
    result = project.runpytest("suites", "--reports-dir", str(reports))
    result.assert_outcomes(failed=1, errors=1)
    cases = json.loads((reports / "latest" / "results.json").read_text())["cases"]
    assert [(c["id"], c["verdict"]) for c in cases] == [
        ("gemma3:4b-2k", "error"),
        ("gemma3:4b-4k", "error"),
    ]
    assert cases[0]["reason"] == (
        "incomplete: connection to http://x/api/tags broke mid-response: cut"
    )
    assert cases[1]["reason"].startswith("incomplete: connection to http://x/api/ps")
    # One line each on the terminal; the tracebacks are in the run's log.
    out = result.stdout.str()
    assert "Traceback" not in out
    assert "raise StreamIncomplete" not in out
    result.stdout.fnmatch_lines(["*incomplete: connection to http://x/api/tags*tracebacks.log*"])
    log = (reports / "latest").resolve().joinpath("tracebacks.log").read_text()
    assert "raise StreamIncomplete" in log
    assert "test_cell[gemma3:4b-2k]" in log
    assert "test_cell[gemma3:4b-4k]" in log


def _seed_resetting_only_the_first_request() -> int:
    """The first seed whose draws reset request 0 and spare requests 1-9 (at rate 0.5)."""
    for seed in range(1000):
        draws = [random.Random(f"{seed}:{i}").random() < 0.5 for i in range(10)]
        if draws[0] and not any(draws[1:]):
            return seed
    raise AssertionError("no such seed below 1000")


def test_one_dropped_connection_at_start_up_is_retried(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_version="def test_version(engine):\n    assert engine.version()\n")
    seed = _seed_resetting_only_the_first_request()
    with (
        SimServer(profile="tiny", speed=100.0) as sim,
        FaultProxy(sim.url, "reset", rate=0.5, seed=seed) as proxy,
    ):
        result = pytester.runpytest(
            "--engine", "ollama", "--server", proxy.url, "-p", "no:cacheprovider"
        )
    result.assert_outcomes(passed=1)
    assert proxy.damaged == 1
    assert proxy.requests >= 2
