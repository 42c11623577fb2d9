from __future__ import annotations

import os
import time
from typing import Any

from harness.engines.base import LoadedModel
from harness.hardware import (
    Budget,
    FakeGpu,
    FakeNvml,
    HardwareSampler,
    SamplerConfig,
    build_backends,
)

GIB = 1024**3
FAST = SamplerConfig(hz=100.0, ps_hz=50.0)


def test_a_remote_server_is_only_seen_through_api_ps(fake_engine: Any) -> None:
    backends = build_backends(engine=fake_engine, server_url="http://192.0.2.10:11434")
    with HardwareSampler(backends, config=FAST) as sampler:
        pass
    summary = sampler.summary()
    assert summary["scope"] == "remote"
    assert summary["backends"] == ["server_ps"]
    assert set(summary["unavailable"]) == {"nvml", "host"}
    assert "'192.0.2.10'" in summary["notes"][0]
    assert "/api/ps" in summary["notes"][0]
    assert "ps.size_bytes" in summary["overall"]


def test_a_local_server_gets_gpu_host_and_process_tree(sim_server: Any, fake_engine: Any) -> None:
    # The in-process /sim/state server stands in for `ollama serve`: it listens on the port.
    nvml = FakeNvml([FakeGpu(processes={os.getpid(): 3 * GIB, 4242: GIB})])
    backends = build_backends(
        engine=fake_engine, server_url=sim_server.url, local=True, fake_nvml=nvml
    )
    assert backends.scope == "local"
    assert backends.names == ["server_ps", "host", "nvml"]
    with HardwareSampler(backends, config=FAST) as sampler:
        sampler.mark("load")
        fake_engine.models = [
            LoadedModel("m", size=5 * GIB, size_vram=5 * GIB, context_length=8192)
        ]
        nvml.gpus[0].processes[os.getpid()] = 6 * GIB
        time.sleep(0.1)
    summary = sampler.summary()
    overall = summary["overall"]
    assert overall["gpu.server_mem_bytes"]["baseline"] == 3 * GIB
    assert overall["gpu.server_mem_bytes"]["peak"] == 6 * GIB
    assert overall["gpu0.procs_mem_bytes"]["peak"] == 7 * GIB
    assert overall["ps.size_bytes"]["delta"] == 5 * GIB
    assert overall["server.rss_bytes"]["peak"] > 0
    assert summary["details"]["host"]["server"]["pid"] == os.getpid()
    assert nvml.initialized == 0  # the sampler owned and closed the backends


def test_a_local_machine_without_gpu_records_why(sim_server: Any) -> None:
    backends = build_backends(engine=None, server_url=sim_server.url, local=True)
    backends.close()
    assert backends.names == ["host"]
    if "nvml" in backends.unavailable:  # absent only where a real GPU works
        assert backends.unavailable["nvml"].startswith("nvmlInit failed")
    assert backends.unavailable["server_ps"] == "no engine given to poll /api/ps"


def test_a_simulated_run_reads_the_simulator_and_labels_this_machine(
    sim_server: Any, fake_engine: Any
) -> None:
    backends = build_backends(engine=fake_engine, server_url=sim_server.url, simulated=True)
    assert backends.scope == "simulated"
    assert backends.names == ["server_ps", "sim", "harness_host"]
    assert "simulator" in backends.unavailable["nvml"]
    assert "SIMULATED" in backends.notes[0]
    assert "not the model's memory" in backends.notes[0]
    backends.close()


def test_an_unreachable_simulator_is_recorded(sim_server: Any) -> None:
    backends = build_backends(engine=None, server_url=sim_server.url + "/nope", simulated=True)
    backends.close()
    assert backends.names == ["harness_host"]
    assert "404" in backends.unavailable["sim"]


def test_in_a_simulated_run_the_budget_watches_simulated_memory_only(
    sim_server: Any, make_sim_state: Any
) -> None:
    backends = build_backends(engine=None, server_url=sim_server.url, simulated=True)
    # A RAM fraction this small would trip at once on the real machine's numbers.
    budget = Budget(ram_max_fraction=0.01)
    sim_server.state = make_sim_state(host_used=0)
    unloads: list[str] = []
    sampler = HardwareSampler(backends, config=FAST, budget=budget)
    sampler.on_over_budget(lambda violation: unloads.append(violation.metric))
    with sampler:
        sampler.mark("load")
        time.sleep(0.05)
        assert not sampler.over_budget
        sim_server.state = make_sim_state(host_used=GIB)
        deadline = time.monotonic() + 30  # a liveness deadline: a busy host is slow, not wrong
        while not sampler.over_budget and time.monotonic() < deadline:
            time.sleep(0.01)
    assert unloads == ["sim.host_used_bytes"]
    summary = sampler.summary()
    assert "sim.host_used_bytes" in summary["over_budget"]
    assert summary["overall"]["sim.gpu0.mem_used_bytes"]["peak"] == GIB
    assert "harness_host.ram_used_bytes" in summary["overall"]
