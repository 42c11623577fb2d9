"""NVIDIA GPUs through NVML: memory, utilisation, power, clocks, throttling, VRAM per pid.

pynvml is imported only when this backend is built, so loading the plugin stays cheap.
Any object with pynvml's call names (and an `NVMLError` class) can stand in for it;
`harness.hardware.fake_nvml.FakeNvml` is the one the tests use.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from harness.hardware.backends.base import Rate

# NVML's stable C enum values; written out so decoding works without pynvml.
NVML_TEMPERATURE_GPU = 0
NVML_CLOCK_SM = 1
NVML_CLOCK_MEM = 2

# nvmlClocksEventReason* / nvmlClocksThrottleReason* bits (nvml.h).
THROTTLE_REASONS: dict[int, str] = {
    0x001: "gpu_idle",
    0x002: "applications_clocks_setting",
    0x004: "sw_power_cap",
    0x008: "hw_slowdown",
    0x010: "sync_boost",
    0x020: "sw_thermal_slowdown",
    0x040: "hw_thermal_slowdown",
    0x080: "hw_power_brake_slowdown",
    0x100: "display_clock_setting",
}
# Idle and a user's clock setting slow nothing down that the measurement cares about.
BENIGN_REASONS = frozenset({"gpu_idle", "applications_clocks_setting"})


def decode_throttle_reasons(mask: int) -> list[str]:
    """Names of the bits set in an NVML clocks-event mask; unknown bits as hex."""
    names = [name for bit, name in THROTTLE_REASONS.items() if mask & bit]
    unknown = mask & ~sum(THROTTLE_REASONS)
    bit = 1
    while unknown >= bit:
        if unknown & bit:
            names.append(f"unknown_{bit:#x}")
        bit <<= 1
    return names


def import_pynvml() -> Any:
    """The real pynvml module.

    The `pynvml` distribution (a shim over nvidia-ml-py) warns on import that it is
    deprecated; the module it gives is the same, and the warning would fail runs with
    filterwarnings=error, so it is silenced here and only here.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        import pynvml

    return pynvml


class NvmlBackend:
    """Per-device GPU readings and VRAM attributed to the server's processes.

    `pids` returns the server tree's pids (from the host backend's tracker); VRAM that
    NVML reports for those pids becomes `gpuN.server_mem_bytes`. Calls a device does not
    support are dropped after their first failure and listed under `unavailable`.
    """

    name = "nvml"
    rate: Rate = "fast"

    def __init__(
        self, nvml: Any | None = None, *, pids: Callable[[], frozenset[int]] | None = None
    ) -> None:
        self._pids = pids or frozenset
        self.unavailable: str | None = None
        self._handles: list[Any] = []
        self._devices: list[dict[str, Any]] = []
        self._broken: dict[str, str] = {}
        self._throttle: list[dict[str, int]] = []
        self._per_pid: dict[tuple[int, int], int] = {}
        self._nvml: Any = None
        self._error: type[BaseException] = Exception
        try:
            module = nvml if nvml is not None else import_pynvml()
        except ImportError as exc:
            self.unavailable = f"pynvml cannot be imported: {exc}"
            return
        self._error = getattr(module, "NVMLError", Exception)
        try:
            module.nvmlInit()
        except self._error as exc:
            self.unavailable = f"nvmlInit failed: {type(exc).__name__}: {exc}"
            return
        self._nvml = module
        try:
            self._discover()
        except self._error as exc:
            self.unavailable = f"listing GPUs failed: {type(exc).__name__}: {exc}"
            self.close()

    def _discover(self) -> None:
        nvml = self._nvml
        for index in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            name = nvml.nvmlDeviceGetName(handle)
            total = int(nvml.nvmlDeviceGetMemoryInfo(handle).total)
            self._handles.append(handle)
            self._devices.append(
                {
                    "index": index,
                    "name": name.decode() if isinstance(name, bytes) else str(name),
                    "memory_total_bytes": total,
                }
            )
            self._throttle.append({})
        if not self._handles:
            self.unavailable = "NVML found no GPU"

    def _call(self, index: int, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        key = f"gpu{index}.{what}"
        if key in self._broken:
            return None
        try:
            return fn(self._handles[index], *args)
        except self._error as exc:
            self._broken[key] = f"{type(exc).__name__}: {exc}"
            return None

    def sample(self) -> dict[str, float]:
        values: dict[str, float] = {}
        server_pids = self._pids()
        for index in range(len(self._handles)):
            values.update(self._sample_device(index, server_pids))
        for key in ("mem_used_bytes", "mem_total_bytes", "server_mem_bytes", "power_w"):
            parts = [
                values[f"gpu{i}.{key}"]
                for i in range(len(self._handles))
                if f"gpu{i}.{key}" in values
            ]
            if parts:
                values[f"gpu.{key}"] = sum(parts)
        return values

    def _sample_device(self, i: int, server_pids: frozenset[int]) -> dict[str, float]:
        nvml = self._nvml
        out: dict[str, float] = {}
        mem = self._call(i, "memory", nvml.nvmlDeviceGetMemoryInfo)
        if mem is not None:
            out[f"gpu{i}.mem_used_bytes"] = int(mem.used)
            out[f"gpu{i}.mem_total_bytes"] = int(mem.total)
        util = self._call(i, "utilization", nvml.nvmlDeviceGetUtilizationRates)
        if util is not None:
            out[f"gpu{i}.util_percent"] = float(util.gpu)
            out[f"gpu{i}.mem_util_percent"] = float(util.memory)
        power_mw = self._call(i, "power", nvml.nvmlDeviceGetPowerUsage)
        if power_mw is not None:
            out[f"gpu{i}.power_w"] = power_mw / 1000.0
        temp = self._call(i, "temperature", nvml.nvmlDeviceGetTemperature, NVML_TEMPERATURE_GPU)
        if temp is not None:
            out[f"gpu{i}.temp_c"] = float(temp)
        for what, clock in (("sm_clock_mhz", NVML_CLOCK_SM), ("mem_clock_mhz", NVML_CLOCK_MEM)):
            mhz = self._call(i, what, nvml.nvmlDeviceGetClockInfo, clock)
            if mhz is not None:
                out[f"gpu{i}.{what}"] = float(mhz)
        out.update(self._sample_throttle(i))
        out.update(self._sample_processes(i, server_pids))
        return out

    def _sample_throttle(self, i: int) -> dict[str, float]:
        # The "ClocksEvent" name replaced "ClocksThrottle" in recent NVML; old drivers
        # and old pynvml only have the latter.
        fn = getattr(self._nvml, "nvmlDeviceGetCurrentClocksEventReasons", None)
        if fn is None:
            fn = self._nvml.nvmlDeviceGetCurrentClocksThrottleReasons
        mask = self._call(i, "throttle", fn)
        if mask is None:
            return {}
        reasons = decode_throttle_reasons(int(mask))
        for reason in reasons:
            self._throttle[i][reason] = self._throttle[i].get(reason, 0) + 1
        slowed = any(reason not in BENIGN_REASONS for reason in reasons)
        return {f"gpu{i}.throttle_mask": float(mask), f"gpu{i}.throttled": float(slowed)}

    def _sample_processes(self, i: int, server_pids: frozenset[int]) -> dict[str, float]:
        procs = self._call(i, "processes", self._nvml.nvmlDeviceGetComputeRunningProcesses)
        if procs is None:
            return {}
        everyone = server = 0
        for proc in procs:
            # usedGpuMemory is None where the driver cannot tell (Windows WDDM).
            used = int(proc.usedGpuMemory or 0)
            everyone += used
            if proc.pid in server_pids:
                server += used
            key = (i, int(proc.pid))
            self._per_pid[key] = max(self._per_pid.get(key, 0), used)
        out = {f"gpu{i}.procs_mem_bytes": float(everyone)}
        if server_pids:
            out[f"gpu{i}.server_mem_bytes"] = float(server)
        return out

    def details(self) -> dict[str, Any]:
        server_pids = self._pids()
        return {
            "devices": self._devices,
            "throttle_samples": {f"gpu{i}": dict(c) for i, c in enumerate(self._throttle) if c},
            "processes": [
                {"gpu": i, "pid": pid, "mem_peak_bytes": peak, "server": pid in server_pids}
                for (i, pid), peak in sorted(self._per_pid.items())
            ],
            "unavailable": dict(self._broken),
        }

    def close(self) -> None:
        if self._nvml is not None:
            nvml, self._nvml = self._nvml, None
            try:
                nvml.nvmlShutdown()
            except self._error:
                pass  # shutting down a library that is already gone changes nothing
