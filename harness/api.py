"""The public API of the harness for suites: everything a suite may use, and nothing else.

Declare the suite (its matrix sections, the fixture they parametrize, its results sections
and renderers, its options) with `Suite`, `MatrixSection`, `ResultSection`, `OptionSpec` and
a `SuiteCase` subclass, returned by a `pytest_harness_suites` hook (docs/extending.md). In
tests, take the fixtures:

- `<case_fixture>`: one `SuiteCase` of a matrix section (parametrized by the plugin);
- `engine`: the engine (HTTP client) of the server the test runs on;
- `record_case(case)`: the test's element of results.json `cases`;
- `record_section(name, value)`: a value of a declared results section;
- `harness_run`: a `HarnessRun`, the session's settings and services below.

Suites never import harness.cases (plugin, session, serving) or harness.results.recording:
those may change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from harness.cases.options import OptionSpec, option
from harness.cases.serving import SERVERS_KEY
from harness.cases.session import PLAN_KEY, SETTINGS_KEY
from harness.engines import Engine
from harness.hardware import Budget, HardwareSampler
from harness.matrix.cells import Matrix
from harness.matrix.registry import MatrixSection, ResultSection, SectionTable, Suite, SuiteCase
from harness.results.recording import RECORDER_KEY

__all__ = [
    "HarnessRun",
    "MatrixSection",
    "OptionSpec",
    "ResultSection",
    "SectionTable",
    "Suite",
    "SuiteCase",
]


class HarnessRun:
    """The session as a suite sees it: settings to read and a few services."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self._settings = config.stash[SETTINGS_KEY]
        self._servers = config.stash[SERVERS_KEY]

    # -- settings --------------------------------------------------------------------------
    @property
    def simulated(self) -> bool:
        """True under --engine sim: results are labelled SIMULATED."""
        return self._settings.simulated

    @property
    def time_scale(self) -> float:
        """Multiply client wall times by this to get simulated time (1.0 on a real server)."""
        return self._settings.time_scale

    @property
    def engine_kind(self) -> str:
        return self._settings.engine_kind

    @property
    def sim_speed(self) -> float:
        return self._settings.sim_speed

    @property
    def sim_profile(self) -> str | None:
        """The simulated machine, once the simulator runs (None on a real server)."""
        return self._servers.sim_profile_used

    @property
    def matrices(self) -> list[Matrix]:
        return list(self.config.stash[PLAN_KEY].matrices)

    def option(self, dest: str) -> Any:
        """A harness option's value (command line, else ini, else default)."""
        return option(self.config, dest)

    # -- services --------------------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        """The first server's engine (tests take the `engine` fixture for their own)."""
        return self._servers.engine

    @property
    def clock_ns(self) -> Callable[[], int]:
        """The measured machine's clock (the simulator's own under --engine sim)."""
        return self._servers.start().clock_ns

    @property
    def budget(self) -> Budget:
        """The memory budget of --ram-budget / --gpu-budget."""
        return self._servers.budget

    def new_sampler(self, engine: Engine) -> HardwareSampler:
        """A hardware sampler for one case on `engine`'s server (not started)."""
        return self._servers.new_sampler(engine)

    def require_model(self, model: str, engine: Engine | None = None) -> None:
        """Skip the test, with the pull command, when the server lacks `model`."""
        self._servers.require_model(model, engine)

    def set_notes(self, prefix: str, lines: Sequence[str]) -> None:
        """Replace the terminal summary's lines starting with `prefix` by `lines`.

        Only in the process that writes the results (without xdist, or on the controller).
        """
        recorder = self.config.stash.get(RECORDER_KEY, None)
        if recorder is not None:
            recorder.notes[:] = [n for n in recorder.notes if not n.startswith(prefix)]
            recorder.notes.extend(lines)
