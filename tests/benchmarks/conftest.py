"""Shared by the harness's own benchmarks: one table of figures, and a simulator to time against.

Every benchmark's stats (mean, median) and `extra_info` are gathered after it runs; at the end
of a timed run (`make bench`) they are printed as one table, compared with the previous
`reports/bench/latest.json` (read before it is overwritten) and saved there. With
`--benchmark-disable` (the normal `make test`) nothing is written.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from harness import benchfigures
from harness.benchfigures import TimingErrors
from harness.engines.ollama import OllamaEngine

FIGURES = pytest.StashKey[dict[str, float]]()
LATEST = Path("reports") / "bench" / "latest.json"
MODEL = "gemma3:4b"


def pytest_configure(config: pytest.Config) -> None:
    config.stash[FIGURES] = {}


@pytest.fixture(autouse=True)
def _collect_figures(request: pytest.FixtureRequest, benchmark: BenchmarkFixture) -> Iterator[None]:
    # Depending on `benchmark` makes this teardown run before the fixture's own, while its
    # stats and extra_info are still there.
    yield
    if benchmark.disabled:
        return
    stats = benchmark.stats.stats.as_dict() if benchmark.stats else None
    figures = benchfigures.benchmark_figures(request.node.name, stats, benchmark.extra_info)
    figures[f"{request.node.name} loadavg_1m"] = round(os.getloadavg()[0], 2)
    request.config.stash[FIGURES].update(figures)


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    figures = config.stash.get(FIGURES, {})
    if not figures or hasattr(config, "workerinput"):
        return
    path = config.rootpath / LATEST
    previous = benchfigures.load_previous(path)  # before it is overwritten below
    info = benchfigures.machine()
    tr = terminalreporter
    tr.write_sep("=", "harness benchmark figures")
    tr.write_line(
        f"machine: {info['nproc']} x {info['cpu']}, Python {info['python']}, "
        f"load average (1 min) at the end: {info['loadavg_1m']} "
        "(other work on the box inflates every figure)"
    )
    for line in benchfigures.render(figures, previous):
        tr.write_line(line)
    changes = benchfigures.compare(previous, figures)
    if previous:
        tr.write_sep("-", f"changes over {benchfigures.THRESHOLD:.0%} since the last run")
        for c in changes:
            old, new = benchfigures.fmt_value(c.previous), benchfigures.fmt_value(c.current)
            tr.write_line(f"{c.figure}: {old} -> {new} ({c.ratio:+.0%})")
        if not changes:
            tr.write_line("none")
    benchfigures.save(path, figures, info, previous)
    tr.write_line(f"saved {path}")


# -- a simulator in a child process, and streams driven against it ---------------------------


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


class _RequestIds(httpx.BaseTransport):
    """Keeps the simulator's X-Sim-Request-Id of every response; adds no work per chunk."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.ids: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        self.ids.append(response.headers.get("x-sim-request-id", ""))
        return response

    def close(self) -> None:
        self.inner.close()


Pair = tuple[int, int | None, tuple[int, ...], Mapping[str, Any]]


def drive(
    sim: RemoteSim, concurrency: int, requests: int, num_predict: int, engines: list[OllamaEngine]
) -> TimingErrors:
    """`concurrency` threads, each with its own OllamaEngine, each streaming `requests` chats.

    The engines are left open in `engines`: the caller closes them after the simulator has
    stopped, since a client hanging up first makes the server's idle threads log a reset.
    """
    results: list[tuple[str, Any]] = []
    failures: list[BaseException] = []
    start = threading.Barrier(concurrency)
    options = {"num_predict": num_predict, "num_ctx": 2048}

    def worker(n: int) -> None:
        ids = _RequestIds()
        engine = OllamaEngine(sim.url, transport=ids)
        engines.append(engine)
        try:
            engine.chat(MODEL, [{"role": "user", "content": "warm"}], options=options)
            start.wait()  # every stream starts together, so `concurrency` is really reached
            for i in range(requests):
                prompt = [{"role": "user", "content": f"worker {n} request {i}"}]
                measured = engine.chat(MODEL, prompt, options=options)
                results.append((ids.ids[-1], measured))
        except BaseException as exc:  # re-raised in the main thread
            failures.append(exc)
            start.abort()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise failures[0]
    timeline = sim.timeline()
    pairs: list[Pair] = [
        (m.sent_ns, m.first_content_ns, m.chunk_ns, timeline[rid]) for rid, m in results
    ]
    return benchfigures.timing_errors(pairs)


@pytest.fixture
def sim_streams() -> Callable[..., TimingErrors]:
    """Run `drive` against a fresh child-process simulator (tiny profile, real-time speed)."""

    def run(concurrency: int, requests: int, num_predict: int = 20, speed: float = 1.0) -> Any:
        engines: list[OllamaEngine] = []
        try:
            with remote_sim(profile="tiny", speed=speed, num_parallel=concurrency) as sim:
                return drive(sim, concurrency, requests, num_predict, engines)
        finally:
            for engine in engines:
                engine.close()

    return run
