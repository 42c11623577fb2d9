"""Sources of hardware readings; each optional, each saying why when it is missing."""

from __future__ import annotations

from harness.hardware.backends.base import Backend, BackendSet
from harness.hardware.backends.host import HostBackend
from harness.hardware.backends.nvml import NvmlBackend, decode_throttle_reasons
from harness.hardware.backends.procs import ServerProcessTracker, find_server_process
from harness.hardware.backends.server_ps import ServerPsBackend
from harness.hardware.backends.sim import SimBackend

__all__ = [
    "Backend",
    "BackendSet",
    "HostBackend",
    "NvmlBackend",
    "ServerProcessTracker",
    "ServerPsBackend",
    "SimBackend",
    "decode_throttle_reasons",
    "find_server_process",
]
