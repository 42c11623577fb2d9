"""Cases of the sustained suite: one per workload of every selected matrix's `sustained:`."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from harness.plugin import SESSION_KEY, matrix_marks
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
    for matrix, section in metafunc.config.stash[SESSION_KEY].with_section("sustained"):
        marks = matrix_marks(matrix.marks)
        for spec in section.workloads:
            case = SustainedCase(matrix.name, spec, section)
            params.append(
                pytest.param(case, id=f"{matrix.name}-{spec.model}-{spec.kind}", marks=marks)
            )
    metafunc.parametrize("sustained_case", params)
