"""A stand-in for pynvml with the same call names, for tests and GPU-less machines.

Give it `FakeGpu`s and change their fields while a sampler runs; pass it to
`build_backends(fake_nvml=...)` or `NvmlBackend(nvml=...)`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

GIB = 1024**3


class FakeNvmlError(Exception):
    """What every failing fake call raises (pynvml's NVMLError in the real module)."""


@dataclass
class FakeGpu:
    """One simulated card; `processes` maps pid -> VRAM bytes (None: not reported)."""

    name: str = "NVIDIA GeForce RTX 4080"
    total_bytes: int = 16 * GIB
    used_bytes: int = 1 * GIB
    util_gpu: int = 0
    util_mem: int = 0
    power_mw: int = 30_000
    temp_c: int = 40
    sm_clock_mhz: int = 210
    mem_clock_mhz: int = 405
    throttle_mask: int = 0x1
    processes: dict[int, int | None] = field(default_factory=dict)


@dataclass(frozen=True)
class FakeMemory:
    total: int
    used: int
    free: int


@dataclass(frozen=True)
class FakeUtilization:
    gpu: int
    memory: int


@dataclass(frozen=True)
class FakeProcess:
    pid: int
    usedGpuMemory: int | None  # pynvml's field name, kept for duck typing


class FakeNvml:
    """pynvml's call names over a list of FakeGpu; handles are device indexes.

    `init_error` makes nvmlInit fail with that text (a machine without a driver);
    a call named in `unsupported` fails the way NVML says "Not Supported".
    """

    NVMLError = FakeNvmlError

    def __init__(
        self,
        gpus: Sequence[FakeGpu] = (),
        *,
        init_error: str | None = None,
        unsupported: Iterable[str] = (),
    ) -> None:
        self.gpus = list(gpus)
        self.init_error = init_error
        self.unsupported = set(unsupported)
        self.initialized = 0

    def _gpu(self, handle: int, call: str) -> FakeGpu:
        if call in self.unsupported:
            raise FakeNvmlError("Not Supported")
        if self.initialized <= 0:
            raise FakeNvmlError("Uninitialized")
        return self.gpus[handle]

    def nvmlInit(self) -> None:
        if self.init_error is not None:
            raise FakeNvmlError(self.init_error)
        self.initialized += 1

    def nvmlShutdown(self) -> None:
        if self.initialized <= 0:
            raise FakeNvmlError("Uninitialized")
        self.initialized -= 1

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        if not 0 <= index < len(self.gpus):
            raise FakeNvmlError("Invalid Argument")
        return index

    def nvmlDeviceGetName(self, handle: int) -> str:
        return self._gpu(handle, "nvmlDeviceGetName").name

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> FakeMemory:
        gpu = self._gpu(handle, "nvmlDeviceGetMemoryInfo")
        return FakeMemory(gpu.total_bytes, gpu.used_bytes, gpu.total_bytes - gpu.used_bytes)

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> FakeUtilization:
        gpu = self._gpu(handle, "nvmlDeviceGetUtilizationRates")
        return FakeUtilization(gpu.util_gpu, gpu.util_mem)

    def nvmlDeviceGetPowerUsage(self, handle: int) -> int:
        return self._gpu(handle, "nvmlDeviceGetPowerUsage").power_mw

    def nvmlDeviceGetTemperature(self, handle: int, sensor: int) -> int:
        return self._gpu(handle, "nvmlDeviceGetTemperature").temp_c

    def nvmlDeviceGetClockInfo(self, handle: int, clock_type: int) -> int:
        gpu = self._gpu(handle, "nvmlDeviceGetClockInfo")
        return gpu.sm_clock_mhz if clock_type == 1 else gpu.mem_clock_mhz

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: int) -> int:
        return self._gpu(handle, "nvmlDeviceGetCurrentClocksEventReasons").throttle_mask

    def nvmlDeviceGetComputeRunningProcesses(self, handle: int) -> list[FakeProcess]:
        gpu = self._gpu(handle, "nvmlDeviceGetComputeRunningProcesses")
        # list() first: a test may change the dict while the sampler thread reads it.
        return [FakeProcess(pid, used) for pid, used in list(gpu.processes.items())]
