"""Cases of the sustained suite: one per workload of every selected matrix's `sustained:`.

Importing `harness.workloads.section` registers the section's parser; this conftest is
loaded before the plugin reads the matrices when the suite is named on the command line.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from harness.plugin import SESSION_KEY
from harness.workloads.section import SustainedSection, WorkloadSpec


@dataclass(frozen=True)
class SustainedCase:
    """One workload of one matrix, with the section's duration."""

    matrix: str
    spec: WorkloadSpec
    section: SustainedSection


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "sustained_case" not in metafunc.fixturenames:
        return
    params = []
    for matrix in metafunc.config.stash[SESSION_KEY].matrices:
        section = matrix.sections.get("sustained")
        if not isinstance(section, SustainedSection):
            continue
        marks = [getattr(pytest.mark, m) for m in matrix.marks]
        for spec in section.workloads:
            case = SustainedCase(matrix.name, spec, section)
            params.append(
                pytest.param(case, id=f"{matrix.name}-{spec.model}-{spec.kind}", marks=marks)
            )
    metafunc.parametrize("sustained_case", params)
