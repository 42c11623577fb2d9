"""Fixtures of the context_limits suite: one case per (matrix, model) of the `limits:` sections.

Importing `harness.limits.section` registers the section; the plugin's sections module
imports it too, so a matrix with `limits:` parses whichever loads first.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from harness.hardware import is_local_url
from harness.limits.section import LimitModel, LimitsSection
from harness.plugin import SESSION_KEY
from harness.session import HarnessSession


@dataclass(frozen=True)
class LimitCase:
    """One model of one matrix's `limits:` section."""

    matrix: str
    section: LimitsSection
    model: LimitModel


def _cases(harness: HarnessSession) -> list[tuple[LimitCase, list[str]]]:
    out = []
    for matrix in harness.matrices:
        section = matrix.sections.get("limits")
        if isinstance(section, LimitsSection):
            for model in section.models:
                out.append((LimitCase(matrix.name, section, model), list(matrix.marks)))
    return out


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "limit_case" not in metafunc.fixturenames:
        return
    cases = _cases(metafunc.config.stash[SESSION_KEY])
    names = [case.model.name for case, _ in cases]
    params = [
        pytest.param(
            case,
            # The model alone, unless two matrices search the same one.
            id=case.model.name
            if names.count(case.model.name) == 1
            else f"{case.matrix}/{case.model.name}",
            marks=[getattr(pytest.mark, mark) for mark in marks],
        )
        for case, marks in cases
    ]
    metafunc.parametrize("limit_case", params)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the server (or the simulator of the selected matrix) before the first search."""
    if session.config.option.collectonly:
        return
    in_use = {
        item.callspec.params["limit_case"].matrix
        for item in session.items
        if hasattr(item, "callspec") and "limit_case" in item.callspec.params
    }
    if in_use:
        session.config.stash[SESSION_KEY].start(in_use)


@pytest.fixture(scope="session")
def hardware_name(harness_session: HarnessSession) -> str:
    """What the limits were measured on: the simulated profile, the GPUs, or the CPU."""
    if harness_session.simulated:
        return f"{harness_session.sim_profile_used} (SIMULATED)"
    url = harness_session.engine.base_url
    if not is_local_url(url):
        return f"the server at {url}"
    from harness.fingerprint import cpu_name, gpus

    names = [str(g.get("name")) for g in gpus()]
    return ", ".join(names) if names else cpu_name()
