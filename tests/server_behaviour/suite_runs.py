"""Runs of suites/server_behaviour against the simulator, one per broken-server switch.

Each run is `pytest suites/server_behaviour --engine sim ...` through the shared pytester
helper (tests/suiterun.py), with `--junitxml` giving every check's outcome by name.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.suiterun import run_suite as run_any_suite

# Slower than real time on purpose: the prefix-cache check compares TTFTs of ~5 ms and
# ~40 ms at speed 1; at 0.5 the gap doubles against the fixed jitter of a busy machine.
SIM_SPEED = "0.5"
SIM_PARALLEL = "2"  # with one slot, dividing the context among slots would change nothing


@dataclass(frozen=True)
class SuiteRun:
    """Outcome of every test of one run: test name -> (outcome, message)."""

    switch: str | None
    outcomes: dict[str, tuple[str, str]]
    output: str

    def named(self, outcome: str) -> set[str]:
        return {name for name, (got, _) in self.outcomes.items() if got == outcome}


def parse_junit(path: Path) -> dict[str, tuple[str, str]]:
    outcomes: dict[str, tuple[str, str]] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed"}.get(child.tag, child.tag)
                message = child.get("message") or child.text or ""
        outcomes[case.get("name", "")] = (outcome, message)
    return outcomes


def run_suite(pytester: pytest.Pytester, switch: str | None) -> SuiteRun:
    junit = pytester.path / f"junit-{switch or 'healthy'}.xml"
    command = [
        "--sim-profile",
        "tiny",
        "--matrix",
        "smoke",
        "--sim-speed",
        SIM_SPEED,
        "--sim-parallel",
        SIM_PARALLEL,
        "--junitxml",
        str(junit),
        "-q",
    ]
    if switch:
        command += ["--sim-behaviour", switch]
    done = run_any_suite(pytester, "server_behaviour", *command, timeout=240)
    output = done.output[-6000:]
    assert junit.is_file(), output
    return SuiteRun(switch, parse_junit(junit), output)
