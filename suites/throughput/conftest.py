"""Fixtures of the throughput suite; its cases (one per matrix and strategy of every
`throughput:` section) are declared in harness/batch/suite.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from harness.batchapi.suite import batch_api_option


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
