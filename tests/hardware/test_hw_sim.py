from __future__ import annotations

from typing import Any

import httpx
import pytest

from harness.hardware.backends.sim import SimBackend, parse_state

GIB = 1024**3


def transport(status: int, body: Any) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(status, json=body))


def test_simulated_devices_and_host_become_sim_metrics(make_sim_state: Any) -> None:
    state = make_sim_state(gpu_used=12 * GIB, host_used=20 * GIB)
    state["devices"].append(
        {"name": "2nd", "kind": "gpu", "total_bytes": 8 * GIB, "used_bytes": GIB}
    )
    state["loaded"] = [
        {"name": "gemma3:12b", "num_ctx": 32768, "size": 11 * GIB, "size_vram": 10 * GIB},
        {"name": "qwen2.5:3b", "num_ctx": 4096, "size": 2 * GIB, "size_vram": 2 * GIB},
    ]
    backend = SimBackend("http://sim", transport=transport(200, state))
    assert backend.unavailable is None
    values = backend.sample()
    backend.close()
    assert values["sim.gpu0.mem_used_bytes"] == 12 * GIB
    assert values["sim.gpu1.mem_total_bytes"] == 8 * GIB
    assert values["sim.cpu0.mem_total_bytes"] == 64 * GIB
    assert values["sim.gpu_used_bytes"] == 13 * GIB
    assert values["sim.gpu_total_bytes"] == 24 * GIB
    assert values["sim.host_used_bytes"] == 20 * GIB
    assert values["sim.host_total_bytes"] == 64 * GIB
    assert values["sim.loaded_size_bytes"] == 13 * GIB
    assert values["sim.loaded_size_vram_bytes"] == 12 * GIB
    assert values["sim.num_ctx"] == 32768
    assert backend.details()["profile"] == "rtx4080-16gb"


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (404, {"error": "not found"}, "404"),
        (200, {"simulated": False}, "did not say simulated: true"),
        (200, [1, 2], "expected an object"),
    ],
)
def test_a_server_that_is_not_the_simulator_is_unavailable(
    status: int, body: Any, reason: str
) -> None:
    backend = SimBackend("http://sim", transport=transport(status, body))
    backend.close()
    assert backend.unavailable is not None
    assert reason in backend.unavailable
    assert backend.unavailable.startswith("GET http://sim/sim/state")


def test_nothing_listening_is_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    backend = SimBackend("http://127.0.0.1:9", transport=httpx.MockTransport(refuse))
    backend.close()
    assert backend.unavailable is not None
    assert "ConnectError" in backend.unavailable


@pytest.mark.parametrize(
    "device",
    [
        {"kind": "tpu", "total_bytes": 1, "used_bytes": 0},
        {"kind": "gpu", "total_bytes": "16G", "used_bytes": 0},
        {"kind": "gpu", "total_bytes": 1},
    ],
)
def test_malformed_state_is_a_value_error(make_sim_state: Any, device: dict[str, Any]) -> None:
    state = make_sim_state()
    state["devices"] = [device]
    with pytest.raises(ValueError, match="devices"):
        parse_state(state)


def test_reads_a_real_http_server(sim_server: Any, make_sim_state: Any) -> None:
    backend = SimBackend(sim_server.url)
    try:
        assert backend.sample()["sim.gpu0.mem_used_bytes"] == GIB
        sim_server.state = make_sim_state(gpu_used=9 * GIB)
        assert backend.sample()["sim.gpu0.mem_used_bytes"] == 9 * GIB
    finally:
        backend.close()
