"""Host memory, swap and CPU via psutil, plus the server's process tree when it is local."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psutil

from harness.hardware.backends.base import Rate
from harness.hardware.backends.procfile import ProcFile
from harness.hardware.backends.procs import ServerProcessTracker

# Below this gap two CPU-time readings give a percentage made of rounding noise.
_MIN_CPU_GAP_S = 0.05


def _cpu_times(stat: ProcFile) -> tuple[float, float]:
    """(total, idle + iowait) CPU time of the whole machine, in any unit (only ratios count).

    From the first line of /proc/stat, summed over the same ten fields psutil.cpu_times()
    reports; psutil where the file cannot be read.
    """
    data = stat.read()
    if data is not None and data.startswith(b"cpu "):
        fields = [float(x) for x in data[: data.index(b"\n")].split()[1:11]]
        return sum(fields), fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    times = psutil.cpu_times()
    return float(sum(times)), _idle(times)


class _CpuMeter:
    """Whole-machine CPU percent from cpu_times() deltas.

    psutil.cpu_percent(None) keeps one module-wide "last call", which any other caller
    in the process would disturb; this keeps its own.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._stat = ProcFile(_STAT)
        self._last_t = clock()
        self._last = _cpu_times(self._stat)

    def percent(self) -> float | None:
        now = self._clock()
        if now - self._last_t < _MIN_CPU_GAP_S:
            return None
        times = _cpu_times(self._stat)
        total = times[0] - self._last[0]
        idle = times[1] - self._last[1]
        self._last, self._last_t = times, now
        if total <= 0:
            return None
        return max(0.0, min(100.0, 100.0 * (total - idle) / total))

    def close(self) -> None:
        self._stat.close()


def _idle(times: Any) -> float:
    return float(times.idle + getattr(times, "iowait", 0.0))


_STAT = "/proc/stat"
_MEMINFO = "/proc/meminfo"
_MEMINFO_KEYS = {b"MemTotal:", b"MemAvailable:", b"SwapTotal:", b"SwapFree:"}


def _read_meminfo(source: ProcFile | None = None) -> dict[bytes, int] | None:
    """The four /proc/meminfo fields the host readings need, in bytes; None off Linux.

    One file read instead of psutil's three (virtual_memory and swap_memory also parse
    /proc/vmstat): at 10 Hz the kernel's cost of generating those files is most of the
    sampler's own CPU time.
    """
    if source is None:
        source = ProcFile(_MEMINFO)
        data = source.read()
        source.close()
    else:
        data = source.read()
    if data is None:
        return None
    found: dict[bytes, int] = {}
    for line in data.splitlines():
        parts = line.split()
        if parts and parts[0] in _MEMINFO_KEYS:
            found[parts[0]] = int(parts[1]) * 1024  # the file says kB and means KiB
    return found if len(found) == len(_MEMINFO_KEYS) else None


def memory_now(source: ProcFile | None = None) -> tuple[int, int, int, int]:
    """(ram_total, ram_available, swap_total, swap_used) in bytes; `source` keeps the file open."""
    info = _read_meminfo(source)
    if info is not None:
        swap_total = info[b"SwapTotal:"]
        return (
            info[b"MemTotal:"],
            info[b"MemAvailable:"],
            swap_total,
            swap_total - info[b"SwapFree:"],
        )
    vm = psutil.virtual_memory()
    swap = psutil.swap_memory()
    return vm.total, vm.available, swap.total, swap.used


class HostBackend:
    """RAM, swap and CPU of this machine; with a tracker, the server tree's RSS/USS/CPU.

    `prefix` names the metrics: "host" for the machine that runs the server, and
    "harness_host" in a simulated run, where this machine only runs the harness and its
    numbers must not be mistaken for the model's memory.
    """

    rate: Rate = "fast"

    def __init__(
        self, *, tracker: ServerProcessTracker | None = None, prefix: str = "host"
    ) -> None:
        self.name = prefix
        self.prefix = prefix
        self.tracker = tracker
        self._cpu = _CpuMeter()
        self._meminfo = ProcFile(_MEMINFO)

    def sample(self) -> dict[str, float]:
        total, available, swap_total, swap_used = memory_now(self._meminfo)
        p = self.prefix
        # "used" is total - available, the quantity psutil's percent is built on: memory
        # the kernel cannot hand out without swapping. psutil's own `used` leaves out
        # buffers and reclaimable cache in a platform-specific way.
        values: dict[str, float] = {
            f"{p}.ram_total_bytes": total,
            f"{p}.ram_used_bytes": total - available,
            f"{p}.ram_available_bytes": available,
            f"{p}.ram_percent": 100.0 * (total - available) / total if total else 0.0,
            f"{p}.swap_total_bytes": swap_total,
            f"{p}.swap_used_bytes": swap_used,
        }
        cpu = self._cpu.percent()
        if cpu is not None:
            values[f"{p}.cpu_percent"] = cpu
        if self.tracker is not None:
            values.update(self.tracker.sample())
        return values

    def details(self) -> dict[str, Any]:
        found: dict[str, Any] = {"cpu_count": psutil.cpu_count()}
        if self.tracker is not None:
            found["server"] = self.tracker.details()
            if "unavailable" in found["server"]:
                found["unavailable"] = found["server"].pop("unavailable")
        return found

    def close(self) -> None:
        """Close the /proc files kept open between readings."""
        self._meminfo.close()
        self._cpu.close()
        if self.tracker is not None:
            self.tracker.close()
