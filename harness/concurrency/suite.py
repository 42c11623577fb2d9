"""The concurrency suite declares itself: the `concurrency:` matrix section, cases, results.

Loaded as a pytest plugin through the `llm_harness.suites` entry point (docs/extending.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from harness.concurrency.section import ConcurrencySection, parse_concurrency
from harness.matrix.cells import Matrix
from harness.matrix.registry import MatrixSection, ResultSection, Suite, SuiteCase


@dataclass(frozen=True)
class ConcurrencyCase(SuiteCase):
    """One context of one model of a matrix's `concurrency` section."""

    model: str
    context: int
    section: ConcurrencySection


def concurrency_cases(
    matrix: Matrix, section: ConcurrencySection
) -> Iterator[tuple[str, ConcurrencyCase]]:
    for model in section.models:
        for ctx in section.contexts:
            yield f"{matrix.name}-{model}-{ctx}", ConcurrencyCase(matrix.name, model, ctx, section)


SUITE = Suite(
    name="concurrency",
    matrix_sections=(
        MatrixSection("concurrency", parse_concurrency, "concurrency_case", concurrency_cases),
    ),
    # One entry per sweep; `capacity` is recorded whole again after each cell.
    results=(ResultSection("concurrency", "list"), ResultSection("capacity", "object")),
)


@pytest.hookimpl(optionalhook=True)
def pytest_harness_suites() -> list[Suite]:
    return [SUITE]
