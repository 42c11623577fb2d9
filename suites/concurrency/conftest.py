"""Fixtures of the concurrency suite; its cases (one per matrix, model and context of every
`concurrency:` section) are declared in harness/concurrency/suite.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from harness.concurrency import CellState


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
