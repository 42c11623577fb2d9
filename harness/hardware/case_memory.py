"""The one memory figure per case that reports, baselines and the stability score use.

The sampler records many metrics; which of them is "the model's memory" depends on where
the server runs: the GPU when there is one, else the server process tree's RSS, and
`/api/ps` when the server is remote. The simulator's own accounting stands in for NVML and
psutil under `--engine sim`. The first source with data wins, in this order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.hardware import Budget


@dataclass(frozen=True)
class MemorySource:
    name: str
    used: str  # metric whose growth is the model's memory
    total: str | None  # metric holding the capacity the budget applies to
    kind: str  # "gpu" or "ram": which budget fraction applies


SOURCES: tuple[MemorySource, ...] = (
    MemorySource("sim_gpu", "sim.gpu_used_bytes", "sim.gpu_total_bytes", "gpu"),
    MemorySource("sim_host", "sim.host_used_bytes", "sim.host_total_bytes", "ram"),
    MemorySource("nvml_server", "gpu.server_mem_bytes", "gpu.mem_total_bytes", "gpu"),
    MemorySource("nvml", "gpu.mem_used_bytes", "gpu.mem_total_bytes", "gpu"),
    MemorySource("server_rss", "server.rss_bytes", "host.ram_total_bytes", "ram"),
    MemorySource("ps", "ps.size_bytes", None, "ram"),
)


def memory_block(hardware: Mapping[str, Any], budget: Budget) -> dict[str, Any] | None:
    """baseline/peak/delta bytes of the first source with readings, and the budget used.

    `fraction_of_budget` is peak / (capacity x budget fraction): 1.0 means at the limit.
    """
    overall: Mapping[str, Mapping[str, Any]] = hardware.get("overall") or {}
    for source in SOURCES:
        stats = overall.get(source.used)
        # A simulated GPU of zero bytes (a CPU-only profile) has nothing to say.
        if not stats or not stats.get("peak"):
            continue
        capacity = (overall.get(source.total) or {}).get("peak") if source.total else None
        fraction = budget.gpu_max_fraction if source.kind == "gpu" else budget.ram_max_fraction
        limit = capacity * fraction if capacity else None
        peak = int(stats["peak"])
        return {
            "source": source.name,
            "metric": source.used,
            "baseline_bytes": int(stats.get("baseline") or 0),
            "peak_bytes": peak,
            "delta_bytes": int(stats.get("delta") or 0),
            "capacity_bytes": None if capacity is None else int(capacity),
            "budget_bytes": None if limit is None else int(limit),
            "fraction_of_budget": None if not limit else round(peak / limit, 4),
        }
    return None
