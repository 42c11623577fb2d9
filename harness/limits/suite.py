"""The context_limits suite declares itself: the `limits:` matrix section, its cases, its results.

Loaded as a pytest plugin through the `llm_harness.suites` entry point (docs/extending.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.cases.options import OptionSpec
from harness.limits.section import LimitModel, LimitsSection, parse_limits
from harness.matrix.cells import Matrix
from harness.matrix.registry import MatrixSection, ResultSection, Suite, SuiteCase


@dataclass(frozen=True)
class LimitCase(SuiteCase):
    """One model of one matrix's `limits:` section."""

    section: LimitsSection
    model: LimitModel


def limit_cases(matrix: Matrix, section: LimitsSection) -> Iterator[tuple[str, LimitCase]]:
    # The model alone as the id; the plugin prefixes the matrix when two search the same one.
    for model in section.models:
        yield model.name, LimitCase(matrix.name, section, model)


def _write_files(run_dir: Path, payload: Mapping[str, Any]) -> None:
    if payload.get("limits"):
        # The file the seed's own script wrote, for people who used it.
        from harness.limits.report import write_context_limit_results

        write_context_limit_results(run_dir, payload)


SUITE = Suite(
    name="context_limits",
    matrix_sections=(MatrixSection("limits", parse_limits, "limit_case", limit_cases),),
    results=(ResultSection("limits", "list", write_files=_write_files),),
    options=(
        OptionSpec(
            "--verify-fill",
            "verify_fill",
            "after a context-limit search, send one prompt filled to the recommended maximum "
            "and check it is not truncated",
            flag=True,
            default=False,
        ),
    ),
)


@pytest.hookimpl(optionalhook=True)
def pytest_harness_suites() -> list[Suite]:
    return [SUITE]
