"""The one way a test runs a suite of this repository (on the simulator by default): pytester.

The suite runs from the repository's root (`pytest suites/<name> ...`, as a user types it),
its reports in the test's pytester folder.

    run = run_suite(pytester, "sustained", "--matrix", "smoke", env={DURATION_ENV: "2"})
    run.check()                      # exit 0, else fails with the end of the output
    run.payload["cases"]             # reports/latest/results.json of the run

`run_suite_once` shares one run between the tests of a module (pytester is per test, so a
module-scoped fixture cannot take it): the first test runs the suite, the others get the
same `SuiteRun`, whose files stay in that test's pytester folder until the session ends.

The suite runs in a subprocess (`runpytest_subprocess`), not in-process: it starts the
simulator and the servers' threads, installs the Ctrl-C handler of harness/interrupt.py and
holds the garbage collector off while collecting, all of which would otherwise act on the
test session that runs it; and its rootdir (this repository, for its matrices/ and
pyproject.toml) is not the pytester folder.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class SuiteRun:
    """A finished run of a suite: pytest's result and the run's reports folder."""

    result: pytest.RunResult
    reports: Path

    @property
    def ret(self) -> int:
        return int(self.result.ret)

    @property
    def stdout(self) -> str:
        return "\n".join(self.result.outlines)

    @property
    def output(self) -> str:
        return "\n".join([*self.result.outlines, *self.result.errlines])

    @property
    def latest(self) -> Path:
        return self.reports / "latest"

    @cached_property
    def payload(self) -> dict[str, Any]:
        """The run's results.json (reports/latest/)."""
        loaded: dict[str, Any] = json.loads((self.latest / "results.json").read_text())
        return loaded

    def check(self, *codes: int) -> SuiteRun:
        """Fail, with the end of the output, unless pytest exited with one of `codes` (0)."""
        assert self.ret in (codes or (0,)), self.output[-5000:]
        return self


def run_suite(
    pytester: pytest.Pytester,
    suite: str,
    *args: str,
    engine: str | None = "sim",
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
    reports: Path | None = None,
) -> SuiteRun:
    """Run `suites/<suite>` of this repository with `args`, `--engine sim` unless `engine`
    says otherwise (None: no --engine), its reports in `reports` (default: a fresh folder
    of the pytester path)."""
    if reports is None:
        reports = Path(pytester.mkdir(f"reports-{len(list(pytester.path.glob('reports-*')))}"))
    command = [f"suites/{suite}"]
    if engine is not None:
        command += ["--engine", engine]
    command += ["--reports-dir", str(reports), *args]
    with pytest.MonkeyPatch.context() as patch:
        # From the repository's root, as a user types it: paths in the output (FAILED
        # suites/...) are relative to where pytest runs.
        patch.chdir(ROOT)
        for name, value in (env or {}).items():
            patch.setenv(name, value)
        result = pytester.runpytest_subprocess(*command, timeout=timeout)
    return SuiteRun(result, reports)


_SHARED: dict[tuple[object, ...], SuiteRun] = {}


def run_suite_once(
    pytester: pytest.Pytester,
    suite: str,
    *args: str,
    engine: str | None = "sim",
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> SuiteRun:
    """`run_suite`, run once per session for the same arguments and shared by the tests."""
    key = (suite, args, engine, tuple(sorted((env or {}).items())))
    if key not in _SHARED:
        _SHARED[key] = run_suite(pytester, suite, *args, engine=engine, env=env, timeout=timeout)
    return _SHARED[key]


def demo_project(pytester: pytest.Pytester, matrix: str, suite: str) -> pytest.Pytester:
    """A pytester folder holding one matrix (`matrices/box.yaml`) and one suite
    (`suites/demo/test_demo.py`), for tests of the plugin on a suite of their own."""
    pytester.mkdir("matrices")
    (pytester.path / "matrices" / "box.yaml").write_text(matrix)
    pytester.mkdir("suites")
    pytester.mkdir("suites/demo")
    (pytester.path / "suites" / "demo" / "test_demo.py").write_text(suite)
    return pytester
