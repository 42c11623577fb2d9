"""Hardware sampling around every case: GPU, host and server-process memory.

    backends = build_backends(engine=engine, server_url=url)
    with HardwareSampler(backends, config=SamplerConfig(), budget=Budget()) as sampler:
        sampler.mark("load"); ...; sampler.mark("prefill"); ...; sampler.mark("decode")
    case["hardware"] = sampler.summary()

Phases: idle (before load), load, prefill, decode, after. A reading belongs to the phase
of the last mark at or before it; `mark(phase, at_ns=...)` places a mark afterwards.

Metric names (stable; the same across cases of a run, so peaks compare). Units are in
the name: *_bytes bytes, *_percent percent (server/process CPU: of one core, so it can
exceed 100), *_w watts, *_c degrees Celsius, *_mhz MHz.

nvml (local GPU; N = device index)
    gpuN.mem_used_bytes  gpuN.mem_total_bytes  gpuN.util_percent  gpuN.mem_util_percent
    gpuN.power_w  gpuN.temp_c  gpuN.sm_clock_mhz  gpuN.mem_clock_mhz
    gpuN.throttle_mask (raw NVML bits)  gpuN.throttled (1 when a reason other than
    gpu_idle / applications_clocks_setting is active)
    gpuN.procs_mem_bytes (all compute processes)  gpuN.server_mem_bytes (the server's tree)
    gpu.mem_used_bytes  gpu.mem_total_bytes  gpu.server_mem_bytes  gpu.power_w  (sums)
host (the server's machine; a simulated run records the harness's machine under the
prefix harness_host.* instead, never budgeted)
    host.ram_total_bytes  host.ram_used_bytes (total - available)  host.ram_available_bytes
    host.ram_percent  host.swap_total_bytes  host.swap_used_bytes  host.cpu_percent
    server.rss_bytes  server.uss_bytes  server.pss_bytes (Linux)  server.cpu_percent
    server.processes  -- sums over the server process and all its children;
    per-process numbers are in details.host.server.processes
server_ps (/api/ps through engine.ps())
    ps.models_loaded  ps.size_bytes  ps.size_vram_bytes  ps.size_host_bytes
    ps.context_length (largest of the loaded models)
sim (the simulator's /sim/state; N counts devices of each kind)
    sim.gpuN.mem_used_bytes  sim.gpuN.mem_total_bytes  sim.cpuN.mem_used_bytes
    sim.cpuN.mem_total_bytes  sim.gpu_used_bytes  sim.gpu_total_bytes
    sim.host_used_bytes  sim.host_total_bytes  sim.loaded_size_bytes
    sim.loaded_size_vram_bytes  sim.num_ctx

Budgets watch gpuN.mem_used_bytes, sim.gpuN.mem_used_bytes (gpu_max_fraction),
host.ram_used_bytes, sim.host_used_bytes (ram_max_fraction) and host.swap_used_bytes
(growth over its first reading).

The summary's `host_load` (harness/hardware/busy.py) says how busy the host was during the
case: load average, runnable tasks per CPU, other processes' CPU time, the sampler's own
wake-up delay. Baselines use it to tell a busy host from a slower server.

Of all the memory metrics, `case_memory.py` picks the one figure per case that reports,
baselines and the stability score use.
"""

from __future__ import annotations

from harness.hardware.backends.base import Backend, BackendSet
from harness.hardware.budget import Budget, Violation
from harness.hardware.build import build_backends
from harness.hardware.config import PHASES, SamplerConfig
from harness.hardware.fake_nvml import FakeGpu, FakeNvml
from harness.hardware.locality import is_local_url, url_port
from harness.hardware.sampler import HardwareSampler

__all__ = [
    "PHASES",
    "Backend",
    "BackendSet",
    "Budget",
    "FakeGpu",
    "FakeNvml",
    "HardwareSampler",
    "SamplerConfig",
    "Violation",
    "build_backends",
    "is_local_url",
    "url_port",
]
