"""Fixtures of the context_limits suite; its cases (one per matrix and model of every `limits:`
section) are declared in harness/limits/suite.py."""

from __future__ import annotations

import pytest

from harness.api import HarnessRun
from harness.hardware import is_local_url


@pytest.fixture(scope="session")
def hardware_name(harness_run: HarnessRun) -> str:
    """What the limits were measured on: the simulated profile, the GPUs, or the CPU."""
    if harness_run.simulated:
        return f"{harness_run.sim_profile} (SIMULATED)"
    url = harness_run.engine.base_url
    if not is_local_url(url):
        return f"the server at {url}"
    from harness.results.fingerprint import cpu_name, gpus

    names = [str(g.get("name")) for g in gpus()]
    return ", ".join(names) if names else cpu_name()
