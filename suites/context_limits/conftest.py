"""Fixtures of the context_limits suite: one case per (matrix, model) of the `limits:` sections."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from harness.hardware import is_local_url
from harness.limits.section import LimitModel, LimitsSection
from harness.plugin import SESSION_KEY, matrix_marks
from harness.session import HarnessSession


@dataclass(frozen=True)
class LimitCase:
    """One model of one matrix's `limits:` section."""

    matrix: str
    section: LimitsSection
    model: LimitModel


def _cases(harness: HarnessSession) -> list[tuple[LimitCase, list[str]]]:
    return [
        (LimitCase(matrix.name, section, model), list(matrix.marks))
        for matrix, section in harness.with_section("limits")
        for model in section.models
    ]


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
            marks=matrix_marks(marks),
        )
        for case, marks in cases
    ]
    metafunc.parametrize("limit_case", params)


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
