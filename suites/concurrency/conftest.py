"""Cases of the concurrency suite: one per (matrix, model, context) of every `concurrency:`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from harness.concurrency import CellState, ConcurrencySection
from harness.plugin import SESSION_KEY, matrix_marks


@dataclass(frozen=True)
class ConcurrencyCase:
    """One context of one model of a matrix's `concurrency` section."""

    matrix: str
    model: str
    context: int
    section: ConcurrencySection


@dataclass
class CapacityStore:
    """The run's capacity entries so far; `capacity` is an object section, so the whole
    object is recorded again after each cell (the last record wins). One process only:
    under xdist each worker would record its own share."""

    entries: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    states: dict[tuple[str, str], CellState] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


_STORE = pytest.StashKey[CapacityStore]()


@pytest.fixture(scope="session")
def capacity_store(request: pytest.FixtureRequest) -> CapacityStore:
    """Capacity entries and per-model memory lines shared by the suite's cases."""
    return request.config.stash.setdefault(_STORE, CapacityStore())


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "concurrency_case" not in metafunc.fixturenames:
        return
    params = []
    for matrix, section in metafunc.config.stash[SESSION_KEY].with_section("concurrency"):
        marks = matrix_marks(matrix.marks)
        for model in section.models:
            for ctx in section.contexts:
                case = ConcurrencyCase(matrix.name, model, ctx, section)
                params.append(pytest.param(case, id=f"{matrix.name}-{model}-{ctx}", marks=marks))
    metafunc.parametrize("concurrency_case", params)
