"""The host's scheduling noise, measured while a wall-clock check runs.

A check that compares a measured duration with what the simulator modelled must allow for
the time this host takes to wake the threads on the path (client, server handler, runner).
On a quiet machine that is tens of microseconds; with two busy processes per core it is
milliseconds. A fixed allowance is either too loose to catch anything on a quiet machine
or fails on a busy one, so the allowance is derived from the lateness seen *during* the
check: a thread sleeps a short period again and again and records how late it woke.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from harness.lifecycle import Runs

PERIOD_S = 0.001


class WakeNoise(Runs):
    """Records how late a sleeping thread wakes for as long as the `with` block runs."""

    def __init__(self, period_s: float = PERIOD_S) -> None:
        self.period_s = period_s
        self.lateness_s: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wake-noise", daemon=True)

    def _run(self) -> None:
        while True:
            asked = time.perf_counter()
            if self._stop.wait(self.period_s):
                return
            self.lateness_s.append(max(0.0, time.perf_counter() - asked - self.period_s))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def worst_s(self) -> float:
        """The latest wake-up seen (0 when the block was too short to sample)."""
        return max(self.lateness_s, default=0.0)

    def quantile_s(self, q: float) -> float:
        """The `q` quantile of the lateness seen: the typical wake-up, not the worst."""
        if not self.lateness_s:
            return 0.0
        ordered = sorted(self.lateness_s)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def allowance_s(self, handoffs: int) -> float:
        """What `handoffs` thread wake-ups on a timed path may add, at the worst seen."""
        return handoffs * self.worst_s


def round_trip_s(call: Callable[[], object], tries: int = 5) -> float:
    """The median time of `call` (a trivial request): this host's floor for one exchange."""
    times = []
    for _ in range(tries):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@contextmanager
def busy_host(processes: int) -> Iterator[None]:
    """`processes` CPU-bound Python processes running beside the block; ended after it."""
    # Each spins only while this process lives: a test run killed by SIGTERM (which skips
    # `finally`) must not leave them burning a shared machine's CPUs.
    spin = "import os\nparent = os.getppid()\nwhile os.getppid() == parent: pass"
    busy = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(processes)]
    try:
        time.sleep(0.2)  # let them reach the CPUs before anything is measured
        yield
    finally:
        for proc in busy:
            proc.kill()
        for proc in busy:
            proc.wait()
