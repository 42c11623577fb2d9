"""Choosing the backends for one server: local, remote or simulated."""

from __future__ import annotations

from typing import Any

import httpx

from harness.hardware.backends.base import Backend, BackendSet
from harness.hardware.backends.host import HostBackend
from harness.hardware.backends.nvml import NvmlBackend
from harness.hardware.backends.procs import ServerProcessTracker
from harness.hardware.backends.server_ps import HasPs, ServerPsBackend
from harness.hardware.backends.sim import SimBackend
from harness.hardware.locality import is_local_url, url_host, url_port

SIM_NOTE = (
    "SIMULATED: sim.* is the simulator's device and host memory (the budget watches it); "
    "harness_host.* is the machine running the harness, not the model's memory."
)


def _remote_note(server_url: str) -> str:
    return (
        f"server {url_host(server_url)!r} is not this machine: GPU, host and server-process "
        "memory were not sampled; the model's memory comes from /api/ps (ps.*) only."
    )


def build_backends(
    *,
    engine: HasPs | None,
    server_url: str,
    local: bool | None = None,
    simulated: bool = False,
    fake_nvml: Any | None = None,
    sim_transport: httpx.BaseTransport | None = None,
) -> BackendSet:
    """The backends that can describe the server at `server_url`.

    `local=None` decides with `is_local_url`. Remote: only /api/ps. Local: NVML (or
    `fake_nvml`), the host with the server's process tree, and /api/ps. Simulated: the
    simulator's state, /api/ps, and this machine's host readings under `harness_host.*`
    (plus NVML only when a `fake_nvml` is given, for tests). Never raises for a missing
    backend: each one missing is listed in `unavailable` with the reason.
    """
    if local is None:
        local = is_local_url(server_url)
    found: list[Backend] = []
    missing: dict[str, str] = {}
    notes: list[str] = []
    if engine is not None:
        found.append(ServerPsBackend(engine))
    else:
        missing["server_ps"] = "no engine given to poll /api/ps"
    if simulated:
        _add_simulated(found, missing, server_url, sim_transport)
        notes.append(SIM_NOTE)
        if fake_nvml is not None:
            _add_nvml(found, missing, fake_nvml, None)
        else:
            missing["nvml"] = "simulated run: device memory comes from the simulator (sim.*)"
        return BackendSet(found, scope="simulated", unavailable=missing, notes=notes)
    if not local:
        reason = "server is remote; this machine's readings would not describe it"
        missing.update({"nvml": reason, "host": reason})
        notes.append(_remote_note(server_url))
        return BackendSet(found, scope="remote", unavailable=missing, notes=notes)
    tracker = ServerProcessTracker(url_port(server_url))
    tracker.locate()
    found.append(HostBackend(tracker=tracker))
    _add_nvml(found, missing, fake_nvml, tracker)
    return BackendSet(found, scope="local", unavailable=missing, notes=notes)


def _add_nvml(
    found: list[Backend],
    missing: dict[str, str],
    nvml: Any | None,
    tracker: ServerProcessTracker | None,
) -> None:
    backend = NvmlBackend(nvml, pids=tracker.pids if tracker is not None else None)
    if backend.unavailable is None:
        found.append(backend)
    else:
        missing["nvml"] = backend.unavailable


def _add_simulated(
    found: list[Backend],
    missing: dict[str, str],
    server_url: str,
    transport: httpx.BaseTransport | None,
) -> None:
    sim = SimBackend(server_url, transport=transport)
    if sim.unavailable is None:
        found.append(sim)
    else:
        missing["sim"] = sim.unavailable
        sim.close()
    found.append(HostBackend(prefix="harness_host"))
