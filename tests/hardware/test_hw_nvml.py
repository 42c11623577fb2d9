from __future__ import annotations

from typing import Any

import pytest

from harness.hardware import FakeGpu, FakeNvml
from harness.hardware.backends.nvml import NvmlBackend, decode_throttle_reasons, import_pynvml

GIB = 1024**3


def two_gpus() -> FakeNvml:
    return FakeNvml(
        [
            FakeGpu(
                name="A",
                total_bytes=16 * GIB,
                used_bytes=5 * GIB,
                util_gpu=87,
                util_mem=40,
                power_mw=250_500,
                temp_c=71,
                sm_clock_mhz=2505,
                mem_clock_mhz=11201,
            ),
            FakeGpu(name="B", total_bytes=8 * GIB, used_bytes=2 * GIB, power_mw=20_000),
        ]
    )


def test_each_device_is_read_and_summed() -> None:
    nvml = two_gpus()
    values = NvmlBackend(nvml).sample()
    assert values["gpu0.mem_used_bytes"] == 5 * GIB
    assert values["gpu0.mem_total_bytes"] == 16 * GIB
    assert values["gpu0.util_percent"] == 87
    assert values["gpu0.mem_util_percent"] == 40
    assert values["gpu0.power_w"] == pytest.approx(250.5)
    assert values["gpu0.temp_c"] == 71
    assert values["gpu0.sm_clock_mhz"] == 2505
    assert values["gpu0.mem_clock_mhz"] == 11201
    assert values["gpu1.mem_used_bytes"] == 2 * GIB
    assert values["gpu.mem_used_bytes"] == 7 * GIB
    assert values["gpu.mem_total_bytes"] == 24 * GIB
    assert values["gpu.power_w"] == pytest.approx(270.5)


def test_vram_is_attributed_to_the_server_tree_by_pid() -> None:
    nvml = two_gpus()
    nvml.gpus[0].processes = {100: 3 * GIB, 101: 1 * GIB, 999: 2 * GIB}  # 999: a desktop
    nvml.gpus[1].processes = {101: 4 * GIB, 555: None}  # None: driver cannot tell
    backend = NvmlBackend(nvml, pids=lambda: frozenset({100, 101}))
    values = backend.sample()
    assert values["gpu0.server_mem_bytes"] == 4 * GIB
    assert values["gpu0.procs_mem_bytes"] == 6 * GIB
    assert values["gpu1.server_mem_bytes"] == 4 * GIB
    assert values["gpu1.procs_mem_bytes"] == 4 * GIB
    assert values["gpu.server_mem_bytes"] == 8 * GIB
    nvml.gpus[0].processes[100] = 1 * GIB  # shrinks: the peak stays in details
    backend.sample()
    by_pid = {(p["gpu"], p["pid"]): p for p in backend.details()["processes"]}
    assert by_pid[(0, 100)] == {"gpu": 0, "pid": 100, "mem_peak_bytes": 3 * GIB, "server": True}
    assert by_pid[(0, 999)]["server"] is False
    assert by_pid[(1, 555)]["mem_peak_bytes"] == 0


def test_without_a_known_server_there_is_no_server_share() -> None:
    nvml = two_gpus()
    nvml.gpus[0].processes = {100: GIB}
    values = NvmlBackend(nvml).sample()
    assert "gpu0.server_mem_bytes" not in values
    assert values["gpu0.procs_mem_bytes"] == GIB


@pytest.mark.parametrize(
    ("mask", "names"),
    [
        (0x0, []),
        (0x1, ["gpu_idle"]),
        (0x24, ["sw_power_cap", "sw_thermal_slowdown"]),
        (0x48, ["hw_slowdown", "hw_thermal_slowdown"]),
        (0x1004, ["sw_power_cap", "unknown_0x1000"]),
    ],
)
def test_throttle_reasons_decode_to_names(mask: int, names: list[str]) -> None:
    assert decode_throttle_reasons(mask) == names


def test_throttling_is_flagged_and_counted_but_idle_is_not() -> None:
    nvml = two_gpus()
    backend = NvmlBackend(nvml)
    assert backend.sample()["gpu0.throttled"] == 0  # gpu_idle only
    nvml.gpus[0].throttle_mask = 0x4 | 0x20
    values = backend.sample()
    assert values["gpu0.throttled"] == 1
    assert values["gpu0.throttle_mask"] == 0x24
    counts = backend.details()["throttle_samples"]["gpu0"]
    assert counts == {"gpu_idle": 1, "sw_power_cap": 1, "sw_thermal_slowdown": 1}


def test_old_nvml_without_clocks_event_reasons_uses_throttle_reasons() -> None:
    class OldNvml(FakeNvml):
        nvmlDeviceGetCurrentClocksEventReasons = None  # type: ignore[assignment]

        def nvmlDeviceGetCurrentClocksThrottleReasons(self, handle: int) -> int:
            return 0x8

    values = NvmlBackend(OldNvml([FakeGpu()])).sample()
    assert values["gpu0.throttled"] == 1


def test_an_unsupported_call_drops_that_reading_only_and_says_why() -> None:
    nvml = FakeNvml([FakeGpu()], unsupported={"nvmlDeviceGetPowerUsage"})
    backend = NvmlBackend(nvml)
    values = backend.sample()
    assert "gpu0.power_w" not in values
    assert "gpu.power_w" not in values
    assert values["gpu0.mem_used_bytes"] == GIB
    assert backend.details()["unavailable"] == {"gpu0.power": "FakeNvmlError: Not Supported"}


def test_a_failed_init_is_a_reason_not_a_crash() -> None:
    backend = NvmlBackend(FakeNvml(init_error="Driver Not Loaded"))
    assert backend.unavailable == "nvmlInit failed: FakeNvmlError: Driver Not Loaded"
    backend.close()


def test_no_gpu_is_unavailable() -> None:
    nvml = FakeNvml([])
    backend = NvmlBackend(nvml)
    assert backend.unavailable == "NVML found no GPU"
    backend.close()
    assert nvml.initialized == 0


def test_the_real_pynvml_on_a_machine_without_gpu_reports_why() -> None:
    backend = NvmlBackend()
    try:
        if backend.unavailable is None:
            pytest.skip("this machine has a working NVIDIA driver")
        assert backend.unavailable.startswith("nvmlInit failed: NVMLError")
    finally:
        backend.close()


def test_importing_pynvml_raises_no_deprecation_warning() -> None:
    module: Any = import_pynvml()  # filterwarnings=error turns any warning into a failure
    assert hasattr(module, "nvmlInit")


def test_close_shuts_nvml_down_once() -> None:
    nvml = two_gpus()
    backend = NvmlBackend(nvml)
    assert nvml.initialized == 1
    backend.close()
    backend.close()
    assert nvml.initialized == 0
