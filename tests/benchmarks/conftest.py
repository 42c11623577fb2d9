"""Shared by the harness's own benchmarks: one table of figures, and a simulator to time against.

Every benchmark's stats (mean, median) and `extra_info` are gathered after it runs; at the end
of a timed run (`make bench`) they are printed as one table, compared with the previous
`reports/bench/latest.json` (read before it is overwritten) and saved there. With
`--benchmark-disable` (the normal `make test`) nothing is written.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from harness.concurrency.workers import STREAMS_PER_PROCESS, ChatRequest, LoadPool
from harness.devtools import benchfigures
from harness.devtools.benchfigures import TimingErrors, TracedOllama

ENTRIES = pytest.StashKey[dict[str, benchfigures.Entry]]()
EXISTING = pytest.StashKey[frozenset[str] | None]()
SESSION_LOAD = pytest.StashKey[list[float]]()
LATEST = Path("reports") / "bench" / "latest.json"
MODEL = "gemma3:4b"


def pytest_configure(config: pytest.Config) -> None:
    config.stash[ENTRIES] = {}
    config.stash[SESSION_LOAD] = benchfigures.load_average()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # First, before -k/-m deselect any: which benchmarks exist, so that latest.json drops
    # the entries of those that were removed or renamed (and keeps those merely skipped).
    found = [(item.path, item.name) for item in items]
    config.stash[EXISTING] = benchfigures.existing_benchmarks(found, Path(__file__).parent)


@pytest.fixture(autouse=True)
def _collect_figures(request: pytest.FixtureRequest, benchmark: BenchmarkFixture) -> Iterator[None]:
    # Depending on `benchmark` makes this teardown run before the fixture's own, while its
    # stats and extra_info are still there. The load is read on both sides of the benchmark:
    # a figure is only as good as the quiet around it.
    before = benchfigures.load_average()
    others = benchfigures.OtherWork()
    yield
    if benchmark.disabled:
        return
    stats = benchmark.stats.stats.as_dict() if benchmark.stats else None
    request.config.stash[ENTRIES][request.node.name] = benchfigures.Entry(
        figures=benchfigures.benchmark_figures(stats, benchmark.extra_info),
        machine=benchfigures.machine(),
        load_before=before,
        load_after=benchfigures.load_average(),
        other_cpu_share=others.share(),
    )


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    entries = config.stash.get(ENTRIES, {})
    if not entries or hasattr(config, "workerinput"):
        return
    path = config.rootpath / LATEST
    previous = benchfigures.load_entries(path)  # before it is overwritten below
    info = benchfigures.machine()
    info["load_before"] = config.stash.get(SESSION_LOAD, [])
    info["load_after"] = benchfigures.load_average()
    tr = terminalreporter
    tr.write_sep("=", "harness benchmark figures")
    tr.write_line(
        f"machine: {info['nproc']} x {info['cpu']}, Python {info['python']}; load average "
        f"(1/5/15 min) before {benchfigures.fmt_load(info['load_before'])}, after "
        f"{benchfigures.fmt_load(info['load_after'])}"
    )
    busy = sorted(k for k, e in entries.items() if e.busy)
    if busy:
        tr.write_line(
            f"{len(busy)} of {len(entries)} benchmarks started with the 1-minute load average "
            f"above {benchfigures.BUSY_LOAD_PER_CORE:g} per core or ran beside other processes "
            f"taking over {benchfigures.BUSY_OTHER_CPU_SHARE:.0%} of the cores: their figures "
            "are flagged busy and not comparable with a quiet machine's"
        )
    for line in benchfigures.render(entries, previous):
        tr.write_line(line)
    changes, skipped = benchfigures.compare(previous, entries)
    if previous:
        tr.write_sep("-", f"changes over {benchfigures.THRESHOLD:.0%} since the last run")
        for c in changes:
            old, new = benchfigures.fmt_value(c.previous), benchfigures.fmt_value(c.current)
            tr.write_line(f"{c.figure}: {old} -> {new} ({c.ratio:+.0%})")
        if not changes:
            tr.write_line("none among the benchmarks comparable with the last run")
        if skipped:
            tr.write_line(
                "not compared (busy or different machine, this run or the last): "
                + ", ".join(skipped)
            )
    dropped = benchfigures.save(path, entries, info, previous, config.stash.get(EXISTING, None))
    if dropped:
        tr.write_line(f"dropped from {path}, no such benchmark any more: {', '.join(dropped)}")
    tr.write_line(f"saved {path}; `make bench-table` puts it in README.md")


# -- a simulator in a child process, and the load generator's streams against it ------------


def _receive(conn: Any, process: Any, timeout_s: float = 120.0) -> Any:
    """The child's next answer; fails (never hangs) if the child died or went silent."""
    deadline = time.monotonic() + timeout_s
    while not conn.poll(0.1):
        if not process.is_alive():
            raise RuntimeError(f"the simulator child exited with code {process.exitcode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the simulator child did not answer within {timeout_s} s")
    return conn.recv()


class RemoteSim:
    """A SimServer in a spawned child; `timeline()` fetches its per-request stamps."""

    def __init__(self, conn: Any, process: Any, url: str) -> None:
        self._conn, self._process, self.url = conn, process, url

    def timeline(self) -> dict[str, dict[str, Any]]:
        self._conn.send("timeline")
        return {r["request_id"]: r for r in _receive(self._conn, self._process)}


@contextmanager
def remote_sim(**kwargs: Any) -> Iterator[RemoteSim]:
    # spawn, not fork: forking a process that runs threads is unsafe (and warns on 3.12).
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=benchfigures.serve_sim, args=(child, kwargs), daemon=True)
    process.start()
    try:
        yield RemoteSim(parent, process, _receive(parent, process))
    finally:
        try:
            parent.send("stop")
            _receive(parent, process, timeout_s=15.0)
        except (OSError, EOFError, RuntimeError, TimeoutError):
            pass  # already gone; the join below reaps it
        process.join(10)
        if process.is_alive():
            process.kill()  # our own child, by its handle
            process.join(5)
        parent.close()
        child.close()


Pair = tuple[int, int | None, tuple[int, ...], Mapping[str, Any]]


def drive(sim: RemoteSim, pool: LoadPool, concurrency: int, requests: int) -> TimingErrors:
    """`requests` rounds of `concurrency` streams from the load generator's worker processes.

    A first round opens every stream's connection and warms each worker's code paths; the
    rounds after it are matched against the simulator's timeline by its request id.
    """
    pool.closed_loop(concurrency, concurrency)
    samples = pool.closed_loop(concurrency, concurrency * requests)
    errors = [s.error for s in samples if not s.ok]
    if errors:
        raise RuntimeError(f"{len(errors)} of {len(samples)} requests failed: {errors[0]}")
    timeline = sim.timeline()
    pairs: list[Pair] = [
        (s.sent_ns, s.first_ns, s.chunk_ns, timeline[str(s.server_id)]) for s in samples
    ]
    return benchfigures.timing_errors(pairs)


@pytest.fixture
def sim_streams() -> Callable[..., TimingErrors]:
    """Run `drive` against a fresh child-process simulator (tiny profile, real-time speed)."""

    def run(
        concurrency: int,
        requests: int,
        num_predict: int = 20,
        speed: float = 1.0,
        per_process: int = STREAMS_PER_PROCESS,
    ) -> TimingErrors:
        # The pool opens inside the simulator's block but closes after it, from the outer
        # stack: the workers hang up after the simulator stopped, or its idle threads would
        # log every reset connection.
        with ExitStack() as after_sim:
            with remote_sim(profile="tiny", speed=speed, num_parallel=concurrency) as sim:
                options = {"num_predict": num_predict, "num_ctx": 2048}
                request = ChatRequest("ollama", sim.url, MODEL, options, factory=TracedOllama)
                pool = after_sim.enter_context(LoadPool(request, per_process))
                return drive(sim, pool, concurrency, requests)

    return run
