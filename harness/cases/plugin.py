"""The pytest plugin: hooks and thin fixtures; the work happens in the objects they build.

Flow: matrices are loaded at configure time (a broken one stops the session), their cells
parametrize every test that takes `cell`, the server starts when the first selected test
needs it, each measured case travels on its test report (`user_properties`, which
pytest-xdist carries from workers) to the controller, which appends it to results.jsonl at
once and renders the reports at the end.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import Any, cast

import pytest

from harness import interrupt  # first: Ctrl-C while the modules below load is one line too

# isort: split
from harness.api import HarnessRun
from harness.cases.estimate_plugin import report_before_run
from harness.cases.options import add_options, option
from harness.cases.serving import SERVERS_KEY, Servers
from harness.cases.session import PLAN_KEY, SETTINGS_KEY, TRACEBACK_LOG, CellPlan, RunSettings
from harness.engines.pool import group_index, group_name
from harness.errors import ConfigError, EngineError, HarnessError, MatrixError
from harness.hardware import HardwareSampler
from harness.hardware.case_memory import memory_block
from harness.matrix import hookspecs, registry
from harness.matrix.cells import Cell, Matrix, load_matrices, resolve_matrix_paths
from harness.matrix.registry import MatrixSection, Registry, SuiteCase
from harness.measure.gcpause import paused
from harness.measure.procedure import (
    CellOutcome,
    HardwareReport,
    MeasureSettings,
    measure_cell,
    verdict_for,
)
from harness.measure.prompts import TokenCalibration
from harness.report.terminal import write_summary
from harness.results.recording import GATE_KEY, RECORDER_KEY, RunRecorder, regression_gate

# The built-in suites (and installed third-party ones) are plugins of their own, each
# declaring itself through `pytest_harness_suites` (harness/matrix/registry.py).
pytest_plugins = registry.suite_modules()

REGISTRY_KEY = pytest.StashKey[Registry]()
CASE_KEY = pytest.StashKey[dict[str, Any]]()
SECTIONS_KEY = pytest.StashKey[list[tuple[str, Any]]]()
CALIBRATIONS_KEY = pytest.StashKey[dict[tuple[str, str], TokenCalibration]]()
CASE_PROPERTY = "harness_case"
SECTION_PROPERTY = "harness_section"
SERVER_PROPERTY = "harness_server"
TRACEBACK_PROPERTY = "harness_traceback"


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    add_options(parser, pluginmanager)  # the suites' own as their plugins register


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """From here to unconfigure, Ctrl-C is pytest's to report (one line, see interrupt.py)."""
    interrupt.enter()


def pytest_sessionfinish(session: pytest.Session) -> None:
    if session.exitstatus == pytest.ExitCode.INTERRUPTED and interrupt.fired():
        session.exitstatus = interrupt.EXIT_CODE  # what a shell expects of Ctrl-C


def pytest_configure(config: pytest.Config) -> None:
    try:
        suites = Registry(tuple(s for found in config.hook.pytest_harness_suites() for s in found))
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[REGISTRY_KEY] = suites
    registry.activate(suites)  # until unconfigure: results/writer.py and the reports ask it
    try:
        paths = resolve_matrix_paths(option(config, "matrix"), config.rootpath / "matrices")
        matrices = load_matrices(paths, suites.parsers())
    except MatrixError as exc:
        raise pytest.UsageError(str(exc)) from None
    _register_marks(config, matrices)
    settings = config.stash[SETTINGS_KEY] = RunSettings.from_config(config)
    plan = config.stash[PLAN_KEY] = CellPlan(matrices, len(settings.server_urls))
    servers = config.stash[SERVERS_KEY] = Servers(config, settings, plan)
    gate = config.stash[GATE_KEY] = regression_gate(config, matrices, settings.reports_dir)
    config.stash[RECORDER_KEY] = RunRecorder(
        config,
        settings,
        gate,
        matrices_in_use=lambda: servers.matrices_in_use or [m.name for m in matrices],
        server_fingerprints=servers.fingerprints,
    )
    config.stash[CALIBRATIONS_KEY] = {}
    _prefer_loadgroup(config)
    if settings.is_controller:
        config.pluginmanager.register(ResultsCollector(config), "harness-results")


def _register_marks(config: pytest.Config, matrices: list[Matrix]) -> None:
    # The marks the cells will carry, without building the cells (10,000 in a big matrix)
    # a second time: generate_tests builds them once.
    marks = sorted(
        {mark for m in matrices if any(model.contexts for model in m.models) for mark in m.marks}
        | {mark for m in matrices for model in m.models if model.contexts for mark in model.marks}
    )
    for mark in marks:
        config.addinivalue_line("markers", f"{mark}: cells of matrices that declare `{mark}`")


def _prefer_loadgroup(config: pytest.Config) -> None:
    """Under `-n`, distribute by xdist_group unless the user chose a mode.

    xdist turns `-n N` into `--dist load` when no mode is given, which would let two
    workers drive one server; our groups only hold with `loadgroup`.
    """
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        # Workers re-read the mode from the raw command line; the controller's choice
        # reaches them through workerinput (see XdistHooks).
        if workerinput.get("harness_loadgroup"):
            config.option.loadgroup = True
        return
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistHooks(), "harness-xdist")
    if getattr(config.option, "dist", "no") != "load":
        return
    given = [*config.invocation_params.args, *config.getini("addopts")]
    chosen = any(a == "-d" or a.startswith(("--dist", "--distload")) for a in given)
    if not chosen:
        config.option.dist = "loadgroup"


class XdistHooks:
    """pytest-xdist hooks; registered only when xdist is installed."""

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["harness_loadgroup"] = node.config.option.dist == "loadgroup"


def pytest_report_header(config: pytest.Config) -> list[str]:
    settings = config.stash.get(SETTINGS_KEY, None)
    workers = getattr(config.option, "numprocesses", None) or 0
    if settings is None or not workers:
        return []
    servers = len(settings.server_urls)
    lines = [f"harness: {servers} server(s), {workers} worker(s), --dist {config.option.dist}"]
    if workers > servers:
        lines.append(
            f"harness: only {servers} server(s): measurements run on at most {servers} "
            "worker(s) so that no two benchmarks share a server; the rest stay idle"
        )
    return lines


def pytest_unconfigure(config: pytest.Config) -> None:
    servers = config.stash.get(SERVERS_KEY, None)
    try:
        if servers is not None:
            servers.close()
    finally:
        registry.deactivate(config.stash.get(REGISTRY_KEY, Registry()))
        interrupt.leave()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize `cell` with the matrices' cells, and each suite's case fixture with the
    cases of its matrix section (the suite declares both: harness/matrix/registry.py)."""
    for section in metafunc.config.stash[REGISTRY_KEY].case_sections():
        if section.case_fixture in metafunc.fixturenames:
            _parametrize_section(metafunc, section)
    if "cell" in metafunc.fixturenames:
        _parametrize_cells(metafunc)


def _parametrize_section(metafunc: pytest.Metafunc, section: MatrixSection) -> None:
    fixture, cases = section.case_fixture, section.cases
    if fixture is None or cases is None:  # case_sections() gives only sections with both
        return
    found: list[tuple[str, SuiteCase, tuple[str, ...]]] = [
        (case_id, case, matrix.marks)
        for matrix, parsed in metafunc.config.stash[PLAN_KEY].with_section(section.key)
        for case_id, case in cases(matrix, parsed)
    ]
    ids = [case_id for case_id, _, _ in found]
    params = [
        pytest.param(
            case,
            # An id two matrices give is prefixed with the matrix, so ids stay unique.
            id=case_id if ids.count(case_id) == 1 else f"{case.matrix}/{case_id}",
            marks=matrix_marks(marks),
        )
        for case_id, case, marks in found
    ]
    metafunc.parametrize(fixture, params)


def _parametrize_cells(metafunc: pytest.Metafunc) -> None:
    plan = metafunc.config.stash[PLAN_KEY]
    cells = plan.cells
    # Cells share a few combinations of marks and server; building the mark objects once
    # per combination, not per cell, saves most of this hook's time at 10,000 cells.
    marks: dict[tuple[tuple[str, ...], int], tuple[pytest.MarkDecorator, ...]] = {}

    def marks_of(cell: Cell) -> tuple[pytest.MarkDecorator, ...]:
        key = (cell.marks, plan.server_index(cell))
        found = marks.get(key)
        if found is None:
            found = marks[key] = (
                *matrix_marks(cell.marks),
                pytest.mark.xdist_group(group_name(key[1])),
            )
        return found

    metafunc.parametrize(
        "cell", [pytest.param(c, id=plan.ids[id(c)], marks=marks_of(c)) for c in cells]
    )


@pytest.hookimpl(wrapper=True)
def pytest_collection(session: pytest.Session) -> Generator[None, object, object]:
    """Collect with the garbage collector held off.

    Collecting a 10,000-cell matrix allocates ~100 objects per item and frees few: the
    collector would rescan the growing heap again and again (a quarter of the time).
    """
    with paused():
        return (yield)


def matrix_marks(names: Iterable[str]) -> list[pytest.MarkDecorator]:
    """A matrix's marks (registered at configure time) as pytest marks for its cases."""
    return [getattr(pytest.mark, name) for name in names]


def pytest_itemcollected(item: pytest.Item) -> None:
    """Any other test that talks to a server runs on the first server's worker."""
    uses_server = "engine" in getattr(item, "fixturenames", ())
    if uses_server and item.get_closest_marker("xdist_group") is None:
        item.add_marker(pytest.mark.xdist_group(group_name(0)))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Reach the server before the first test, so a missing one stops the run at once."""
    if session.config.option.collectonly:
        return
    servers = session.config.stash[SERVERS_KEY]
    servers.selected_matrices = sorted(_matrices_of(session.items))
    if any("engine" in getattr(item, "fixturenames", ()) for item in session.items):
        servers.start()
        report_before_run(session, servers)  # how long the cells should take (estimate_plugin.py)


def _matrices_of(items: list[pytest.Item]) -> set[str]:
    """The matrices the selected tests come from: every suite's case (a Cell, a limits or
    throughput case, ...) is a SuiteCase, which names its matrix."""
    names: set[str] = set()
    for item in items:
        params = item.callspec.params if hasattr(item, "callspec") else {}
        names.update(value.matrix for value in params.values() if isinstance(value, SuiteCase))
    return names


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        for section in item.stash.get(SECTIONS_KEY, []):
            report.user_properties.append((SECTION_PROPERTY, _wire(section)))
    if report.failed and _in_suite(item):
        _shorten_harness_error(report, call)
    case = item.stash.get(CASE_KEY, None)
    cell = item.callspec.params.get("cell") if hasattr(item, "callspec") else None
    record_now = report.when == "call" or report.skipped
    if case is None and isinstance(cell, Cell):
        if report.skipped:
            case = _skipped_case(cell, report)
        elif report.failed and report.when in ("setup", "call"):
            # Whatever stopped the cell before it recorded itself (a server that broke while
            # listing its models, a fixture that failed), the cell stays in the results.
            case, record_now = _errored_case(cell, call), True
    if case is not None and record_now:
        fingerprints = item.config.stash[SERVERS_KEY].fingerprints
        case.update({"nodeid": item.nodeid, "outcome": report.outcome, "suite": _suite(item)})
        if report.skipped:
            case["verdict"] = "skipped"
        _agree_with_outcome(case, report)
        report.user_properties.append((CASE_PROPERTY, _wire(case)))
        fp = fingerprints.get(case.get("server", ""))
        if fp:
            report.user_properties.append((SERVER_PROPERTY, _wire(fp)))
    return report


def _shorten_harness_error(report: pytest.TestReport, call: pytest.CallInfo[None]) -> None:
    """A server fault shows as one line; its traceback goes to the run's tracebacks.log.

    Faults of the server or the network are findings, not bugs of the harness: hundreds of
    lines of httpx internals would bury the table of results. Other exceptions are bugs and
    keep their traceback.
    """
    if call.excinfo is None or not isinstance(call.excinfo.value, HarnessError):
        return
    report.user_properties.append((TRACEBACK_PROPERTY, str(report.longrepr)))
    report.longrepr = f"{_one_line(call.excinfo.value)} (traceback in {TRACEBACK_LOG} of the run)"


def _one_line(exc: BaseException) -> str:
    """`outcome: first line of the message` for a harness error, else `Type: first line`."""
    lines = str(exc).strip().splitlines()
    kind = exc.outcome if isinstance(exc, HarnessError) else type(exc).__name__
    return f"{kind}: {lines[0] if lines else '(no message)'}"


class ResultsCollector:
    """Controller-side hooks: receive finished cases (from workers too) and write them."""

    def __init__(self, config: pytest.Config) -> None:
        self.recorder = config.stash[RECORDER_KEY]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # Written now, not at the end: a killed run keeps every finished case.
        props: dict[str, Any] = dict(report.user_properties)
        if CASE_PROPERTY in props:
            server = props.get(SERVER_PROPERTY)
            self.recorder.record(_unwire(props[CASE_PROPERTY]), server and _unwire(server))
        if TRACEBACK_PROPERTY in props:
            self.recorder.record_traceback(report.nodeid, str(props[TRACEBACK_PROPERTY]))
        for prop, value in report.user_properties:
            if prop == SECTION_PROPERTY:
                name, content = _unwire(cast(str, value))
                self.recorder.record_section(name, content)

    def pytest_sessionfinish(self) -> None:
        self.recorder.finish()

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.recorder.writer is not None or self.recorder.notes:
            write_summary(terminalreporter, self.recorder)
            for line in self.recorder.terminal_lines():
                terminalreporter.write_line(line)


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def harness_run(request: pytest.FixtureRequest) -> HarnessRun:
    """The session's settings and services, as suites may use them (harness.api)."""
    return HarnessRun(request.config)


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> Any:
    """The engine (HTTP client) of the server this test runs on; the simulator with --engine sim.

    With several --server values each cell has its server (its `xdist_group` mark says
    which), so one worker at a time drives each server.
    """
    mark = request.node.get_closest_marker("xdist_group")
    name = mark.args[0] if mark and mark.args else (mark.kwargs.get("name") if mark else None)
    index = group_index(str(name)) if name is not None else None
    return request.config.stash[SERVERS_KEY].engine_for(index or 0)


@pytest.fixture
def record_case(request: pytest.FixtureRequest) -> Callable[[dict[str, Any]], None]:
    """Attach a case (results.json element) to this test; it is written when the test ends."""

    def record(case: dict[str, Any]) -> None:
        request.node.stash[CASE_KEY] = case

    return record


@pytest.fixture
def record_section(request: pytest.FixtureRequest) -> Callable[[str, Any], None]:
    """Add to a run-level section of results.json (`limits`, `throughput`, ...).

    A list section (limits, throughput, concurrency) gets the value appended; an object
    section (extrapolation, capacity) is replaced by it; a section no suite declared is an
    error here, before anything is written. Written when the test ends.
    """
    suites = request.config.stash[REGISTRY_KEY]

    def record(name: str, value: Any) -> None:
        try:
            suites.result_kind(name)
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from None
        request.node.stash.setdefault(SECTIONS_KEY, []).append((name, value))

    return record


@pytest.fixture
def batch_engine(engine: Any) -> Callable[..., Any]:
    """A factory of BatchEngines over the session's engine (settings as make_batch_engine)."""
    from harness.batch.fixture import make_batch_engine

    def make(**settings: Any) -> Any:
        return make_batch_engine(engine, **settings)

    return make


@pytest.fixture
def hardware(harness_run: HarnessRun, engine: Any) -> Iterator[HardwareSampler]:
    """A background hardware sampler running for this test (GPU, host, server, /api/ps)."""
    sampler = harness_run.new_sampler(engine)
    sampler.start()
    try:
        yield sampler
    finally:
        sampler.stop()


@pytest.fixture
def measure(
    request: pytest.FixtureRequest,
    harness_run: HarnessRun,
    engine: Any,
    hardware: HardwareSampler,
    record_case: Callable[[dict[str, Any]], None],
) -> Callable[[Cell], CellOutcome]:
    """Measure a cell (load, warm-up, repeats), compare it with the baseline, record it."""

    def finish_hardware() -> HardwareReport:
        hardware.stop()
        summary = hardware.summary()
        return summary, memory_block(summary, harness_run.budget)

    config = request.config
    settings, gate = config.stash[SETTINGS_KEY], config.stash[GATE_KEY]

    def run(cell: Cell) -> CellOutcome:
        harness_run.require_model(cell.model, engine)
        outcome = measure_cell(
            engine,
            cell,
            repeats=settings.repeats,
            settings=MeasureSettings(
                time_scale=settings.time_scale, finish_hardware=finish_hardware
            ),
            marker=hardware,
            calibration_cache=config.stash[CALIBRATIONS_KEY],
        )
        outcome.case.update({"suite": _suite(request.node), "nodeid": request.node.nodeid})
        regressions = gate.check(outcome.case, config.stash[RECORDER_KEY].run_fingerprint)
        if regressions:
            outcome.failures += regressions
            _fail_case(outcome.case, regressions)
        record_case(outcome.case)
        return outcome

    return run


def _fail_case(case: dict[str, Any], reasons: list[str]) -> None:
    """Mark `case` failed for `reasons`, keeping a more specific failed verdict (oom, ...)."""
    if case.get("verdict") in (None, "pass"):
        case["verdict"] = "fail"
    case["reason"] = "; ".join(r for r in (case.get("reason"), *reasons) if r)


def _agree_with_outcome(case: dict[str, Any], report: pytest.TestReport) -> None:
    """A test pytest failed is a failed case in results.json, CSV, Markdown and the report,
    whatever failed it (a baseline regression, an assertion after the case was recorded)."""
    if report.when == "call" and report.failed and case.get("verdict") in (None, "pass"):
        crash = getattr(report.longrepr, "reprcrash", None)
        message = (crash.message if crash is not None else report.longreprtext).strip()
        _fail_case(case, [] if case.get("reason") else [message.splitlines()[0] or "failed"])


# -- helpers -------------------------------------------------------------------------------


def _wire(value: Any) -> str:
    """JSON text for a report property: xdist's transport (execnet) cannot carry integers
    beyond 32 bits, and byte counts are larger than that."""
    return json.dumps(value, default=str)


def _unwire(text: str) -> Any:
    return json.loads(text)


def _in_suite(item: pytest.Item) -> bool:
    return _suite_dir(item) is not None


def _suite(item: pytest.Item) -> str:
    return _suite_dir(item) or item.path.parent.name


def _suite_dir(item: pytest.Item) -> str | None:
    """`name` for a test under `<rootdir>/suites/<name>/` (a checkout's own folder may be
    called `suites` too, so the path counts from the rootdir)."""
    try:
        parts = item.path.relative_to(item.config.rootpath).parts
    except ValueError:
        parts = item.path.parts
    return parts[parts.index("suites") + 1] if "suites" in parts[:-2] else None


def _bare_case(cell: Cell, reason: str, **extra: Any) -> dict[str, Any]:
    """A case for a cell that ended before it was measured (skipped, or broken at setup)."""
    return {
        "id": cell.id,
        "matrix": cell.matrix,
        "model": cell.model,
        "num_ctx": cell.num_ctx,
        "options": cell.options,
        "samples": [],
        "metrics": {},
        "checks": [],
        **extra,
        "reason": reason,
        "use_case": cell.use_case,
    }


def _skipped_case(cell: Cell, report: pytest.TestReport) -> dict[str, Any]:
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    return _bare_case(cell, reason.removeprefix("Skipped: "))


def _errored_case(cell: Cell, call: pytest.CallInfo[None]) -> dict[str, Any]:
    exc = call.excinfo.value if call.excinfo is not None else None
    verdict = verdict_for(exc) if isinstance(exc, EngineError) else "error"
    reason = _one_line(exc) if exc is not None else "failed before it was measured"
    return _bare_case(cell, reason, verdict=verdict)
