"""Memory readings for trimming decisions and peak-memory figures, sampled sparingly.

A probe is any `Callable[[], MemoryReading | None]`; the monitor calls it at most every
`every_s` seconds (reading the simulator's state or NVML is an HTTP call or a driver call,
far too slow to repeat for every request of a fast batch) and remembers the peak.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MemoryReading:
    """Device memory in use and its total (GPU, or host RAM for a CPU-only server)."""

    used_bytes: int
    total_bytes: int

    @property
    def fraction(self) -> float | None:
        return self.used_bytes / self.total_bytes if self.total_bytes > 0 else None


MemoryProbe = Callable[[], MemoryReading | None]


class MemoryMonitor:
    """Caches the probe's answer for `every_s` seconds and keeps the peak; thread-safe."""

    def __init__(
        self,
        probe: MemoryProbe | None,
        every_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._probe = probe
        self._every_s = every_s
        self._clock = clock
        self._last: MemoryReading | None = None
        self._at = -float("inf")
        self._lock = threading.Lock()
        self.peak_bytes: int | None = None

    def reading(self) -> MemoryReading | None:
        if self._probe is None:
            return None
        with self._lock:
            now = self._clock()
            if now - self._at >= self._every_s:
                self._at = now
                try:
                    self._last = self._probe()
                except Exception:  # a failed reading must never fail a request
                    self._last = None
                if self._last is not None:
                    self.peak_bytes = max(self.peak_bytes or 0, self._last.used_bytes)
            return self._last

    def fraction(self) -> float | None:
        reading = self.reading()
        return reading.fraction if reading else None


class SimProbe:
    """The simulator's GPU memory (or host memory when it simulates a CPU-only machine).

    Holds an HTTP client: `close()` it (or use it as a context manager)."""

    def __init__(self, server_url: str) -> None:
        from harness.hardware.backends.sim import SimBackend

        self._backend = SimBackend(server_url)
        self.unavailable = self._backend.unavailable

    def __call__(self) -> MemoryReading | None:
        if self.unavailable:
            return None
        values = self._backend.sample()
        return _pick(values, "sim.gpu_used_bytes", "sim.gpu_total_bytes") or _pick(
            values, "sim.host_used_bytes", "sim.host_total_bytes"
        )

    def close(self) -> None:
        self._backend.close()


def close_probe(probe: MemoryProbe | None) -> None:
    """Release what a probe holds (the simulator probe's HTTP client)."""
    close = getattr(probe, "close", None)
    if callable(close):
        close()


def nvml_probe() -> MemoryProbe | None:
    """The local GPUs' memory through NVML; None when there is no NVML (no NVIDIA driver)."""
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
        handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
    except Exception:  # pynvml raises its own NVMLError family for a missing driver
        return None
    if not handles:
        return None

    def probe() -> MemoryReading | None:
        infos: list[Any] = [pynvml.nvmlDeviceGetMemoryInfo(h) for h in handles]
        return MemoryReading(sum(int(i.used) for i in infos), sum(int(i.total) for i in infos))

    return probe


def host_probe() -> MemoryProbe:
    """This machine's RAM in use (total - available): the device of a CPU-only server that
    runs here, such as seed 001's box, where there is no GPU for NVML to read."""
    import psutil

    def probe() -> MemoryReading | None:
        vm = psutil.virtual_memory()
        return MemoryReading(int(vm.total - vm.available), int(vm.total))

    return probe


def _pick(values: dict[str, float], used: str, total: str) -> MemoryReading | None:
    if used in values and total in values and values[total] > 0:
        return MemoryReading(int(values[used]), int(values[total]))
    return None
