"""The sustained suite declares itself: the `sustained:` matrix section and its cases.

Loaded as a pytest plugin through the `llm_harness.suites` entry point (docs/extending.md).
Its results are cases only, so it declares no results section.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from harness.matrix.cells import Matrix
from harness.matrix.registry import MatrixSection, Suite, SuiteCase
from harness.workloads.section import SustainedSection, WorkloadSpec, parse_sustained


@dataclass(frozen=True)
class SustainedCase(SuiteCase):
    """One workload of one matrix, with the section's duration."""

    spec: WorkloadSpec
    section: SustainedSection


def sustained_cases(
    matrix: Matrix, section: SustainedSection
) -> Iterator[tuple[str, SustainedCase]]:
    for spec in section.workloads:
        case = SustainedCase(matrix.name, spec, section)
        yield f"{matrix.name}-{spec.model}-{spec.kind}", case


SUITE = Suite(
    name="sustained",
    matrix_sections=(
        MatrixSection("sustained", parse_sustained, "sustained_case", sustained_cases),
    ),
)


@pytest.hookimpl(optionalhook=True)
def pytest_harness_suites() -> list[Suite]:
    return [SUITE]
