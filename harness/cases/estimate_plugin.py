"""The estimate's plugin side: print it before the first cell, and progress lines within one.

`report_before_run` (from the plugin's `pytest_collection_finish`) prints what
`harness.cases.estimate` computes for the selected cells; the stored runs it compares with are read
only then, and only as far as the cells need (`StoredRates`). `CellProgress` then writes a
line every `--progress-every` seconds (default 30) while a cell runs longer than that, with
its estimate, through pytest's terminal reporter.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from harness.cases.estimate import CellEstimate, Estimate, RunKind, StoredRates, estimate_cells
from harness.matrix.cells import Cell
from harness.report.fmt import seconds as fmt_seconds

if TYPE_CHECKING:
    from harness.cases.serving import Servers

DEFAULT_PROGRESS_EVERY_S = 30.0


def report_before_run(session: pytest.Session, servers: Servers) -> None:
    """Print the estimate of the selected cells and start the in-cell progress lines.

    Called once from the plugin's `pytest_collection_finish`, after the server started. Not
    under pytest-xdist's workers: they have no terminal of their own.
    """
    config = session.config
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or hasattr(config, "workerinput"):
        return
    settings, plan = servers.settings, servers.plan
    selected = [
        (item.nodeid, plan.ids.get(id(cell), cell.id), cell)
        for item, cell in ((item, _cell_of(item)) for item in session.items)
        if cell is not None
    ]
    if not selected:
        return
    engine = servers.engine
    kind = RunKind(
        simulated=settings.simulated,
        sim_profile=servers.sim_profile_used,
        server_url=engine.base_url,
    )
    estimate = estimate_cells(
        selected,
        matrices=plan.matrices,
        engine=engine,
        stored=StoredRates(settings.reports_dir, kind),
        repeats=settings.repeats,
        time_scale=settings.time_scale,
        simulated=settings.simulated,
    )
    for line in estimate.lines(verbose=config.get_verbosity() > 0):
        reporter.write_line(line)
    every = _progress_every(config)
    if every > 0:
        config.pluginmanager.register(
            CellProgress(
                reporter, estimate, every, config.pluginmanager.get_plugin("capturemanager")
            ),
            "harness-cell-progress",
        )


def _cell_of(item: pytest.Item) -> Cell | None:
    """The cell a test measures (through the `measure` fixture); None for any other test."""
    if "measure" not in getattr(item, "fixturenames", ()):
        return None
    callspec = getattr(item, "callspec", None)
    cell = callspec.params.get("cell") if callspec is not None else None
    return cell if isinstance(cell, Cell) else None


def _progress_every(config: pytest.Config) -> float:
    from harness.cases.options import option

    value = option(config, "progress_every")
    return DEFAULT_PROGRESS_EVERY_S if value is None else float(value)


class CellProgress:
    """A line every `every_s` seconds while a cell runs longer than that: elapsed, estimate."""

    def __init__(
        self, reporter: Any, estimate: Estimate, every_s: float, capture: Any = None
    ) -> None:
        self.reporter = reporter
        self.capture = capture
        self.every_s = every_s
        self.time_scale = estimate.time_scale
        self.simulated = estimate.simulated
        self.cells = {c.nodeid: c for c in estimate.cells}

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Any:
        cell = self.cells.get(item.nodeid)
        if cell is None:
            return (yield)
        stop = threading.Event()
        ticker = threading.Thread(
            target=self._tick, args=(cell, stop), name="harness-progress", daemon=True
        )
        ticker.start()
        try:
            return (yield)
        finally:
            stop.set()
            ticker.join()

    def _tick(self, cell: CellEstimate, stop: threading.Event) -> None:
        started = time.monotonic()
        while not stop.wait(self.every_s):
            text = self.line(cell, time.monotonic() - started)
            if self.capture is None:
                self.reporter.write_line(text)
                continue
            # The test's output is being captured: step out of it for the line, as pytest's
            # live logging does (from any thread too).
            with self.capture.global_and_fixture_disabled():
                self.reporter.write_line(text)

    def line(self, cell: CellEstimate, wall_s: float) -> str:
        elapsed = wall_s * self.time_scale
        shown = fmt_seconds(elapsed)
        if self.simulated:
            shown += f" simulated ({fmt_seconds(wall_s)} wall)"
        if cell.seconds is None:
            return f"  {cell.cell_id}: running for {shown} (no estimate)"
        if elapsed <= cell.seconds:
            part = f"{elapsed / cell.seconds:.0%} of ~{fmt_seconds(cell.seconds)}"
        else:
            part = f"over its ~{fmt_seconds(cell.seconds)}"
        return f"  {cell.cell_id}: running for {shown}, {part} ({cell.source})"
