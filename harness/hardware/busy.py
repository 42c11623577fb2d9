"""How busy the host was during a case, so a baseline can tell a busy host from a slow server.

The figures, each for a reason:

    load_avg_1m        the kernel's 1-minute load average at the end of the case: the
                       familiar number, but smoothed over a minute, so it lags a change.
    runnable_per_cpu   the mean number of runnable tasks per CPU while the requests ran
                       (sampled from /proc/loadavg, Linux only): the load average without
                       the lag, and unbounded, so it still tells 2 busy processes per core
                       from 4 when the CPUs are saturated either way.
    other_cpu_share    the CPU time of every process but the harness and the server's own
                       process tree during the case, as a share of all CPUs (0..1).
    wake_delay_ms      how late the meter's own thread woke on average while the requests
                       ran: what the load costs the harness's timing directly.

The two sampled figures cover the requests' own windows when the caller says which moments
those are (`stop(measured=...)`, the sampler's prefill and decode phases): a burst of load
during a 150 ms request matters, the same burst during the model load does not. `window`
says which span they cover.

`harness.baseline.hostload` compares these between a case and its baseline.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import psutil

LOADAVG = "/proc/loadavg"
PERIOD_S = 0.02  # 50 Hz: a few samples inside even a short request


def runnable_now() -> int | None:
    """Runnable tasks right now (the "R" of /proc/loadavg's "R/T"); None off Linux."""
    try:
        with open(LOADAVG, "rb") as handle:
            fields = handle.read().split()
        return int(fields[3].split(b"/")[0])
    except (OSError, IndexError, ValueError):
        return None


def _busy_s(times: Any) -> float:
    idle = float(times.idle + getattr(times, "iowait", 0.0))
    return float(sum(times)) - idle


def _cpu_s(pid: int) -> float | None:
    try:
        t = psutil.Process(pid).cpu_times()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    return float(t.user + t.system)


class HostLoadMeter:
    """Measures the host's load between `start()` and `stop()`; `as_dict()` afterwards.

    `exclude` returns the pids whose CPU time is not "other" (the server's process tree);
    the harness's own process is always excluded.
    """

    def __init__(self, exclude: Callable[[], Iterable[int]] = tuple) -> None:
        self._exclude = exclude
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hw-sampler-host-load", daemon=True)
        self._samples: list[tuple[int, float, int | None]] = []  # (t_ns, delay_s, runnable)
        self._start: tuple[float, float, dict[int, float]] | None = None
        self._result: dict[str, Any] | None = None

    def _pids(self) -> set[int]:
        try:
            return {os.getpid(), *self._exclude()}
        except Exception:  # a tracker that fails must not cost the case its load figures
            return {os.getpid()}

    def _own_cpu(self) -> dict[int, float]:
        found = {pid: _cpu_s(pid) for pid in self._pids()}
        return {pid: cpu for pid, cpu in found.items() if cpu is not None}

    def _run(self) -> None:
        while True:
            asked = time.perf_counter()
            if self._stop.wait(PERIOD_S):
                return
            delay = max(0.0, time.perf_counter() - asked - PERIOD_S)
            self._samples.append((time.perf_counter_ns(), delay, runnable_now()))

    def start(self) -> None:
        self._start = (time.perf_counter(), _busy_s(psutil.cpu_times()), self._own_cpu())
        self._thread.start()

    def stop(self, measured: Callable[[int], bool] | None = None) -> None:
        """Stop sampling and compute the figures; idempotent, harmless before start().

        `measured(t_ns)` tells whether a perf_counter_ns moment lies inside a request.
        """
        if self._start is None or self._result is not None:
            return
        self._stop.set()
        self._thread.join()
        wall0, busy0, own0 = self._start
        wall = time.perf_counter() - wall0
        busy = _busy_s(psutil.cpu_times()) - busy0
        # A pid first seen at the end counts its whole CPU time: excluding too much only
        # makes the host look quieter, never busier.
        own = sum(cpu - own0.get(pid, 0.0) for pid, cpu in self._own_cpu().items())
        cpus = psutil.cpu_count() or 1
        other = max(0.0, busy - own)
        inside = [x for x in self._samples if measured is not None and measured(x[0])]
        samples = inside or self._samples
        delays = [delay for _, delay, _ in samples]
        runnable = [r for _, _, r in samples if r is not None]
        self._result = {
            "cpu_count": cpus,
            "wall_s": round(wall, 4),
            "load_avg_1m": round(psutil.getloadavg()[0], 3),
            "window": "requests" if inside else "case",
            "runnable_per_cpu": round(statistics.mean(runnable) / cpus, 3) if runnable else None,
            "other_cpu_s": round(other, 4),
            "other_cpu_share": round(min(1.0, other / (wall * cpus)), 4) if wall > 0 else None,
            "wake_delay_ms": round(statistics.mean(delays) * 1000, 3) if delays else None,
        }

    def as_dict(self) -> dict[str, Any] | None:
        """The figures of the module docstring (None before stop())."""
        return None if self._result is None else dict(self._result)
