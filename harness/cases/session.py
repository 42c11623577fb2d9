"""What one pytest session runs: its options resolved once, and the matrices' cells.

Two of the session's per-concern objects, each on `config.stash` under its own key (the
others: `serving.Servers`, `recording.RunRecorder`, the baseline gate in
`recording.GATE_KEY`). plugin.py builds them at configure time; suites reach them through
`harness.api`, never directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest

from harness.cases.options import option, reports_dir, server_urls
from harness.engines import find_engine_kind
from harness.engines.pool import assign_servers
from harness.matrix.cells import Cell, Matrix

# Beside results.json: the tracebacks of server faults, which the terminal shows as one line.
TRACEBACK_LOG = "tracebacks.log"


@dataclass(frozen=True)
class RunSettings:
    """The options every concern reads, resolved once (command line, else ini, else default)."""

    engine_kind: str
    server_urls: tuple[str, ...]
    reports_dir: Path
    repeats: int | None
    sim_speed: float
    sim_faults: str | None
    sim_profile: str | None
    is_controller: bool

    @classmethod
    def from_config(cls, config: pytest.Config) -> RunSettings:
        kind: str = option(config, "engine")
        return cls(
            engine_kind=kind,
            # The simulator is one server of its own; --server values are for real servers.
            server_urls=tuple(
                server_urls(config)[: 1 if find_engine_kind(kind).simulated else None]
            ),
            reports_dir=reports_dir(config),
            repeats=option(config, "repeats"),
            sim_speed=option(config, "sim_speed"),
            sim_faults=option(config, "sim_faults") or None,
            sim_profile=option(config, "sim_profile") or None,
            is_controller=not hasattr(config, "workerinput"),
        )

    @property
    def simulated(self) -> bool:
        return find_engine_kind(self.engine_kind).simulated

    @property
    def time_scale(self) -> float:
        return self.sim_speed if self.simulated else 1.0


SETTINGS_KEY = pytest.StashKey[RunSettings]()


class CellPlan:
    """The loaded matrices, their cells, the cells' test ids and which server runs each."""

    def __init__(self, matrices: Iterable[Matrix], servers: int) -> None:
        self.matrices = list(matrices)
        self._servers = servers

    @cached_property
    def cells(self) -> list[Cell]:
        return [cell for m in self.matrices for cell in m.cells()]

    @cached_property
    def ids(self) -> dict[int, str]:
        """Test id by `id(cell)`: the same model and context in two matrices get the
        matrix as a prefix, so ids stay unique."""
        counts: dict[str, int] = {}
        for cell in self.cells:
            counts[cell.id] = counts.get(cell.id, 0) + 1
        return {
            id(cell): cell.id if counts[cell.id] == 1 else f"{cell.matrix}/{cell.id}"
            for cell in self.cells
        }

    @cached_property
    def assignment(self) -> dict[tuple[str, str], int]:
        return assign_servers(self.cells, self._servers)

    def server_index(self, cell: Cell) -> int:
        return self.assignment.get((cell.matrix, cell.model), 0)

    def with_section(self, name: str) -> list[tuple[Matrix, Any]]:
        """Every loaded matrix that has the optional section `name`, with that section."""
        return [(m, m.sections[name]) for m in self.matrices if name in m.sections]

    @property
    def models(self) -> set[str]:
        return {c.model for c in self.cells}


PLAN_KEY = pytest.StashKey[CellPlan]()
