"""Which model runners a server has right now: the witness that tells a reload from reuse.

A reload is a new runner, not a long `load_duration`: on a busy CPU a warm request can
spend most of a cold load's time in `load_duration` (0.89 s against a 1.61 s cold load was
seen on a real Ollama that did not reload). So the checks compare runner identities:

    the simulator   `/sim/state` lists each loaded runner's `runner_id` (its stand-in pid)
    a local server  the process ids of the children of the process listening on its port
                    (`ollama serve` starts one `ollama runner` per loaded model)

A remote server offers neither; callers then fall back on `/api/ps` and say so.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import psutil

from harness.hardware.backends.procs import find_server_process
from harness.hardware.locality import is_local_url

_GONE = (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied)


def runner_ids(base_url: str, timeout_s: float = 5.0) -> frozenset[str] | None:
    """Identities of the server's runners, or None when nothing can witness them."""
    simulated = _sim_runners(base_url, timeout_s)
    if simulated is not None:
        return simulated
    if not is_local_url(base_url):
        return None
    return _child_pids(urlsplit(base_url).port)


def _sim_runners(base_url: str, timeout_s: float) -> frozenset[str] | None:
    try:
        response = httpx.get(f"{base_url.rstrip('/')}/sim/state", timeout=timeout_s)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None  # a real server: 404
    try:
        loaded = response.json().get("loaded")
    except ValueError:
        return None
    if not isinstance(loaded, list):
        return None
    return frozenset(f"sim:{entry.get('runner_id')}" for entry in loaded)


def _child_pids(port: int | None) -> frozenset[str] | None:
    root, _how = find_server_process(port)
    if root is None:
        return None
    try:
        return frozenset(f"pid:{child.pid}" for child in root.children(recursive=True))
    except _GONE:
        return None
