"""The throughput suite declares itself: the `throughput:` matrix section, its cases, results.

Loaded as a pytest plugin through the `llm_harness.suites` entry point (docs/extending.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from harness.batch.matrix_section import ThroughputSection, parse_throughput
from harness.matrix.cells import Matrix
from harness.matrix.registry import MatrixSection, ResultSection, Suite, SuiteCase


@dataclass(frozen=True)
class ThroughputCase(SuiteCase):
    """One matrix x strategy of the suite."""

    model: str
    strategy: str
    section: ThroughputSection


def throughput_cases(
    matrix: Matrix, section: ThroughputSection
) -> Iterator[tuple[str, ThroughputCase]]:
    model = section.model or matrix.models[0].name
    for strategy in section.strategies:
        case = ThroughputCase(matrix.name, model, strategy, section)
        yield f"{matrix.name}-{model}-{strategy}", case


SUITE = Suite(
    name="throughput",
    matrix_sections=(
        MatrixSection("throughput", parse_throughput, "throughput_case", throughput_cases),
    ),
    # One entry per size run; `extrapolation` is the fastest strategy's projection so far.
    results=(ResultSection("throughput", "list"), ResultSection("extrapolation", "object")),
)


@pytest.hookimpl(optionalhook=True)
def pytest_harness_suites() -> list[Suite]:
    return [SUITE]
