"""Fixtures of the throughput suite: its cases from the matrices' `throughput` sections."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from harness.batch.matrix_section import ThroughputSection
from harness.batchapi.options import batch_api_option
from harness.plugin import SESSION_KEY, matrix_marks


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With --batch-api only the batch-API test runs, else only the in-process one: the
    in-process test takes `engine`, which makes the session reach the model server."""
    drop = (
        "test_throughput" if batch_api_option(config, "batch_api") else "test_throughput_batch_api"
    )
    ours = [i for i in items if i.path.parent.name == "throughput"]
    gone = [i for i in ours if getattr(i, "originalname", i.name) == drop]
    if gone:
        config.hook.pytest_deselected(items=gone)
        items[:] = [i for i in items if i not in gone]


@dataclass(frozen=True)
class ThroughputCase:
    """One matrix x strategy of the suite."""

    matrix: str
    model: str
    strategy: str
    section: ThroughputSection


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "throughput_case" not in metafunc.fixturenames:
        return
    params = []
    for matrix, section in metafunc.config.stash[SESSION_KEY].with_section("throughput"):
        model = section.model or matrix.models[0].name
        marks = matrix_marks(matrix.marks)
        for strategy in section.strategies:
            case = ThroughputCase(matrix.name, model, strategy, section)
            params.append(pytest.param(case, id=f"{matrix.name}-{model}-{strategy}", marks=marks))
    metafunc.parametrize("throughput_case", params)


@pytest.fixture(scope="session")
def projections() -> dict[str, dict[str, Any]]:
    """The extrapolations of the strategies run so far in this process."""
    return {}


@pytest.fixture
def run_sections(
    record_section: Callable[[str, Any], None], projections: dict[str, dict[str, Any]]
) -> Callable[[str, Any], None]:
    """Add a run-level results section (`throughput` entries, `extrapolation`).

    results.json holds one `extrapolation` object: the fastest strategy's projection, with
    every strategy's under `by_strategy`, so each write carries all seen so far.
    """

    def record(name: str, value: Any) -> None:
        if name == "extrapolation":
            projections[value["strategy"]] = value
            best = min(projections.values(), key=lambda p: p["time_s"])
            value = {**best, "by_strategy": dict(projections)}
        record_section(name, value)

    return record
