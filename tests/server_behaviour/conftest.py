"""The suite's runs, made once per switch and shared by the tests that ask about them."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.server_behaviour.suite_runs import SuiteRun, run_suite


@pytest.fixture(scope="session")
def suite_run(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str | None], SuiteRun]:
    """The run of the suite with `switch` on (None: a healthy server), made once."""
    runs: dict[str | None, SuiteRun] = {}

    def get(switch: str | None) -> SuiteRun:
        if switch not in runs:
            runs[switch] = run_suite(tmp_path_factory.mktemp(switch or "healthy"), switch)
        return runs[switch]

    return get
