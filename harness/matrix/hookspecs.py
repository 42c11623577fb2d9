"""The harness's own pytest hook: how a suite declares itself (see harness/matrix/registry.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from harness.matrix.registry import Suite


@pytest.hookspec
def pytest_harness_suites() -> list[Suite]:
    """Return the suites this plugin (or conftest) declares.

    Called once per session at configure time, before the matrices are read, so a plugin
    must be loaded by then: an entry point of the `llm_harness.suites` group, a `-p`
    plugin, or a rootdir conftest.py. It is also called as the plugin registers, before
    the command line is parsed, to add the suites' options (harness/cases/options.py
    `SuiteOptions`): return the same suites every time, with no side effects. Implement it with
    `@pytest.hookimpl(optionalhook=True)` so that the module also loads without the
    harness. See docs/extending.md.
    """
    raise NotImplementedError  # a hookspec's body is never run
