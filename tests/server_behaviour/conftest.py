"""The suite's runs, made once per switch and shared by the tests that ask about them.

pytester is per test, so the runs are kept here for the session (their files stay in the
pytester folder of the test that made them until the session ends).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.server_behaviour.suite_runs import SuiteRun, run_suite

_RUNS: dict[str | None, SuiteRun] = {}


@pytest.fixture
def suite_run(pytester: pytest.Pytester) -> Callable[[str | None], SuiteRun]:
    """The run of the suite with `switch` on (None: a healthy server), made once."""

    def get(switch: str | None) -> SuiteRun:
        if switch not in _RUNS:
            _RUNS[switch] = run_suite(pytester, switch)
        return _RUNS[switch]

    return get
