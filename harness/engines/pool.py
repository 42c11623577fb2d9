"""The model servers of a session: one engine per URL, the simulator when asked, and which
cells run on which server.

One benchmark at a time per server (DESIGN.md): every item that talks to a server carries
`xdist_group("serverN")`, so under `--dist loadgroup` one worker drives each server, and a
model's whole context ladder goes to one server so the model is loaded there once.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from harness.engines import Engine, Timeouts, create_engine, find_engine_kind
from harness.engines.base import Simulated
from harness.engines.hosts import parse_ollama_host
from harness.engines.launched import LaunchedEngine
from harness.engines.launcher import Launcher, LaunchSpec
from harness.errors import EngineError, ServerUnreachable
from harness.matrix.cells import Cell
from harness.sim.engine import SimSettings

__all__ = ["ServerPool", "SimSettings", "assign_servers", "open_engine"]

GROUP_PREFIX = "server"


def group_name(index: int) -> str:
    return f"{GROUP_PREFIX}{index}"


def group_index(name: str) -> int | None:
    suffix = name.removeprefix(GROUP_PREFIX)
    return int(suffix) if name.startswith(GROUP_PREFIX) and suffix.isdigit() else None


def assign_servers(cells: Iterable[Cell], servers: int) -> dict[tuple[str, str], int]:
    """(matrix, model) -> server index, deterministically.

    Largest groups first, each to the least-loaded server (ties to the lowest index): the
    same cells and servers always give the same assignment, on every worker.
    """
    sizes = Counter((cell.matrix, cell.model) for cell in cells)
    load = [0] * max(1, servers)
    out: dict[tuple[str, str], int] = {}
    for key, count in sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0])):
        index = min(range(len(load)), key=lambda i: (load[i], i))
        out[key] = index
        load[index] += count
    return out


class ServerPool:
    """Engines for the session's servers, created and checked once, closed at the end."""

    def __init__(
        self,
        kind: str,
        urls: list[str],
        sim: SimSettings | None = None,
        launch: LaunchSpec | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        self.kind = kind
        self.urls = list(urls)
        self.timeouts = timeouts
        self.sim = sim
        self.launch = launch
        self._engines: list[Engine] = []

    def start(self) -> None:
        """Start the simulator (for a simulated kind given `sim`) and check every server
        answers.

        Raises ServerUnreachable naming the server that did not answer.
        """
        if self._engines:
            return
        simulator = find_engine_kind(self.kind).simulator
        if self.launch is not None:
            # One server that the harness starts per context: nothing to reach yet.
            launcher = Launcher(self.launch)
            self._engines = [LaunchedEngine(launcher, self.kind, timeouts=self.timeouts)]
            self.urls = [f"launch:{self.launch.template}"]
            return
        started = None
        if self.sim is not None and simulator is not None:
            started = simulator(self.sim, self.timeouts)
            self.urls = [started.base_url]
        for url in self.urls:
            engine = started or create_engine(self.kind, url, self.timeouts)
            self._engines.append(engine)
            try:
                engine.check()
            except EngineError as exc:
                self.close()
                raise ServerUnreachable(f"{url}: {exc}") from exc

    def engine(self, index: int = 0) -> Engine:
        self.start()
        return self._engines[index]

    @property
    def engines(self) -> list[Engine]:
        self.start()
        return list(self._engines)

    @property
    def clock_ns(self) -> Callable[[], int]:
        """The clock of the machine measured, in ns: the simulator's own clock, where
        modelled work counts at its simulated length and nothing else is multiplied by the
        speed; else the client's perf_counter_ns. Durations read from it need no time_scale."""
        self.start()
        first = self._engines[0]
        return first.clock_ns if isinstance(first, Simulated) else time.perf_counter_ns

    def close(self) -> None:
        for engine in self._engines:
            engine.close()
        self._engines = []  # a simulator's engine stopped its server as it closed


@contextmanager
def open_engine(kind: str, server: str | None, sim: SimSettings | None) -> Iterator[Engine]:
    """One server for a command-line tool: --server (else $OLLAMA_HOST), or a simulator
    started with `sim` when `kind` is a simulated one.

    A server that still does not answer after the retries is ServerUnreachable saying what
    to do, as in the plugin: a network fault, never bad input.
    """
    url = (server or parse_ollama_host(os.environ.get("OLLAMA_HOST"))).rstrip("/")
    pool = ServerPool(kind, [url], sim)
    try:
        pool.start()
    except ServerUnreachable as exc:
        raise ServerUnreachable(
            f"no {kind} server answers at {exc}; start `ollama serve`, point --server or "
            "OLLAMA_HOST at it, or dry-run with --engine sim"
        ) from exc
    try:
        yield pool.engine(0)
    finally:
        pool.close()
