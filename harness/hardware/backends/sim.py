"""The simulator's view of memory: `GET {server_url}/sim/state`.

In a simulated run nothing real holds the model, so its device and host memory come
from here, and the budget guard watches these numbers.
"""

from __future__ import annotations

from typing import Any

import httpx

from harness.hardware.backends.base import Rate

STATE_PATH = "/sim/state"


def _int(state: dict[str, Any], key: str, where: str) -> int:
    value = state.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{STATE_PATH}: {where}.{key} is {value!r}, expected an integer")
    return value


def parse_state(state: Any) -> dict[str, float]:
    """sim.* metrics from the simulator's state document; ValueError when it is malformed."""
    if not isinstance(state, dict):
        raise ValueError(f"{STATE_PATH} returned {type(state).__name__}, expected an object")
    values: dict[str, float] = {}
    counts = {"gpu": 0, "cpu": 0}
    sums = {"gpu_used_bytes": 0, "gpu_total_bytes": 0}
    for n, device in enumerate(state.get("devices") or []):
        kind = device.get("kind") if isinstance(device, dict) else None
        if kind not in counts:
            raise ValueError(f"{STATE_PATH}: devices[{n}].kind is {kind!r}, expected gpu or cpu")
        label = f"sim.{kind}{counts[kind]}"
        counts[kind] += 1
        used = _int(device, "used_bytes", f"devices[{n}]")
        total = _int(device, "total_bytes", f"devices[{n}]")
        values[f"{label}.mem_used_bytes"] = used
        values[f"{label}.mem_total_bytes"] = total
        if kind == "gpu":
            sums["gpu_used_bytes"] += used
            sums["gpu_total_bytes"] += total
    if counts["gpu"]:
        values.update({f"sim.{key}": value for key, value in sums.items()})
    host = state.get("host")
    if isinstance(host, dict):
        values["sim.host_used_bytes"] = _int(host, "used_bytes", "host")
        values["sim.host_total_bytes"] = _int(host, "total_bytes", "host")
    loaded = [m for m in state.get("loaded") or [] if isinstance(m, dict)]
    values["sim.loaded_size_bytes"] = sum(int(m.get("size") or 0) for m in loaded)
    values["sim.loaded_size_vram_bytes"] = sum(int(m.get("size_vram") or 0) for m in loaded)
    contexts = [int(m["num_ctx"]) for m in loaded if m.get("num_ctx")]
    if contexts:
        values["sim.num_ctx"] = max(contexts)
    return values


class SimBackend:
    """Polls the simulator's state; probes it once when built so a missing or non-sim
    server is reported as `unavailable` rather than as a stream of errors."""

    name = "sim"
    rate: Rate = "slow"

    def __init__(
        self,
        server_url: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout_s: float = 2.0,
    ) -> None:
        self.url = server_url.rstrip("/") + STATE_PATH
        self._client = httpx.Client(timeout=httpx.Timeout(timeout_s), transport=transport)
        self.unavailable: str | None = None
        self._info: dict[str, Any] = {}
        try:
            state = self._fetch()
            parse_state(state)
        except (httpx.HTTPError, ValueError) as exc:
            self.unavailable = f"GET {self.url} failed: {type(exc).__name__}: {exc}"
            return
        if state.get("simulated") is not True:
            self.unavailable = f"GET {self.url} did not say simulated: true"

    def _fetch(self) -> Any:
        response = self._client.get(self.url)
        response.raise_for_status()
        state = response.json()
        if isinstance(state, dict):
            self._info = {
                "profile": state.get("profile"),
                "speed": state.get("speed"),
                "devices": [
                    {
                        "name": d.get("name"),
                        "kind": d.get("kind"),
                        "total_bytes": d.get("total_bytes"),
                    }
                    for d in state.get("devices") or []
                    if isinstance(d, dict)
                ],
            }
        return state

    def sample(self) -> dict[str, float]:
        return parse_state(self._fetch())

    def details(self) -> dict[str, Any]:
        return dict(self._info)

    def close(self) -> None:
        self._client.close()
