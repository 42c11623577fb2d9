"""Which memory one context-limit search measures, chosen once and said in the results.

A search compares probes with each other, so every probe must be measured the same way.
The first loaded probe decides, by what the server and the machine can tell:

    sim_gpu / sim_host  the simulator's own accounting of its simulated devices
    nvml_server / nvml  the GPU's memory (NVML), where the budget that binds is the card's
    ps                  the server's own accounting of the loaded model (`/api/ps` size):
                        exact and linear in num_ctx on Ollama, where the process tree's
                        RSS grows as pages are first touched (12-20 MB off a line); for a
                        server the harness launched, `ps` is that fresh server's process
                        tree RSS once the load answered (such a server has no /api/ps)
    server_rss          the growth of the server process tree's RSS, for a server that
                        reports no memory of its own

The process tree's RSS is kept beside whichever source was chosen (`rss_bytes`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PS = "ps"
_SIM = (
    ("sim_gpu", "sim.gpu_used_bytes", "the simulator's own accounting of its GPU"),
    ("sim_host", "sim.host_used_bytes", "the simulator's own accounting of its host memory"),
)
_GPU = (
    (
        "nvml_server",
        "gpu.server_mem_bytes",
        "GPU memory of the server's processes (NVML): the card's budget binds",
    ),
    ("nvml", "gpu.mem_used_bytes", "GPU memory in use (NVML): the card's budget binds"),
)
SERVER_PS_REASON = (
    "the server's own accounting (/api/ps size): what it allocated for the model, linear in "
    "num_ctx; the process tree's RSS, which grows as pages are touched, is kept beside it"
)
LAUNCHED_REASON = (
    "the launched server's process-tree RSS once it answered at each context (a fresh start "
    "per context; such a server reports no memory of its own)"
)
RSS_REASON = "growth of the server process tree's RSS (the server reports no memory of its own)"


@dataclass(frozen=True)
class SourceChoice:
    """The memory source of a search and why it was chosen."""

    name: str
    metric: str | None  # the sampler metric, or None where the probe's /api/ps entry is read
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "metric": self.metric, "reason": self.reason}


def _has(overall: Mapping[str, Mapping[str, Any]], metric: str) -> bool:
    return bool((overall.get(metric) or {}).get("peak"))


ALLOWANCE_REASON = (
    "the model's own allowance (--ram-budget as a size) is judged on the server's own "
    "accounting of the model (/api/ps size), not on the machine's memory in use"
)


def choose_source(
    summary: Mapping[str, Any],
    server_reports_size: bool,
    launched: bool,
    model_allowance: bool = False,
) -> SourceChoice | None:
    """The source for a search, from the first loaded probe's readings; None if none has data.

    `model_allowance`: the RAM budget is a size for the model alone, so on a machine without
    a GPU the model's own size is what it applies to (the simulator's host memory would
    also count the memory its profile reserves for the OS).
    """
    overall: Mapping[str, Mapping[str, Any]] = summary.get("overall") or {}
    devices = (_SIM[0], *_GPU) if model_allowance and server_reports_size else (*_SIM, *_GPU)
    for name, metric, reason in devices:
        if _has(overall, metric):
            return SourceChoice(name, metric, reason)
    if model_allowance and server_reports_size and not launched:
        return SourceChoice(PS, None, ALLOWANCE_REASON)
    if server_reports_size:
        return SourceChoice(PS, None, LAUNCHED_REASON if launched else SERVER_PS_REASON)
    if _has(overall, "server.rss_bytes"):
        return SourceChoice("server_rss", "server.rss_bytes", RSS_REASON)
    return None


def rss_bytes(summary: Mapping[str, Any]) -> int | None:
    """Peak RSS of the server's process tree during the probe, kept beside any source."""
    overall: Mapping[str, Mapping[str, Any]] = summary.get("overall") or {}
    peak = (overall.get("server.rss_bytes") or {}).get("peak")
    return int(peak) if peak else None
