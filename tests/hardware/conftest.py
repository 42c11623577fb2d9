"""Fixtures for the hardware sampler's tests: a /sim/state server, fake engines and backends."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from harness.engines.base import LoadedModel
from harness.hardware.backends.base import Rate

GIB = 1024**3


def sim_state(*, gpu_used: int = 1 * GIB, host_used: int = 4 * GIB) -> dict[str, Any]:
    """A /sim/state document in the shape the simulator serves."""
    return {
        "simulated": True,
        "profile": "rtx4080-16gb",
        "speed": 50.0,
        "devices": [
            {"name": "RTX 4080", "kind": "gpu", "total_bytes": 16 * GIB, "used_bytes": gpu_used},
            {"name": "CPU", "kind": "cpu", "total_bytes": 64 * GIB, "used_bytes": 0},
        ],
        "host": {"total_bytes": 64 * GIB, "used_bytes": host_used},
        "loaded": [],
    }


@dataclass
class SimStateServer:
    """A stdlib HTTP server on 127.0.0.1:0 answering GET /sim/state with `state`."""

    url: str
    port: int
    state: dict[str, Any] = field(default_factory=sim_state)
    requests: int = 0


@pytest.fixture
def sim_server() -> Iterator[SimStateServer]:
    served = SimStateServer(url="", port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.requests += 1
            if self.path != "/sim/state":
                self.send_error(404)
                return
            body = json.dumps(served.state).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the default writes every request to stderr."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.02},
        name="test-sim-state",
        daemon=True,
    )
    thread.start()
    served.port = server.server_address[1]
    served.url = f"http://127.0.0.1:{served.port}"
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class FakeEngine:
    """Just enough of the Engine protocol for the server_ps backend."""

    def __init__(self, models: list[LoadedModel] | None = None) -> None:
        self.models = list(models or [])
        self.error: Exception | None = None
        self.calls = 0

    def ps(self) -> list[LoadedModel]:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return list(self.models)


@pytest.fixture
def fake_engine() -> FakeEngine:
    return FakeEngine()


class ScriptedBackend:
    """A backend whose next readings the test sets; counts calls, can fail on demand."""

    def __init__(self, name: str = "scripted", rate: Rate = "fast", **values: float) -> None:
        self.name = name
        self.rate: Rate = rate
        self.values: dict[str, float] = dict(values)
        self.error: Exception | None = None
        self.calls = 0
        self.closed = 0
        self.threads: set[str] = set()
        self.extra: dict[str, Any] = {}

    def sample(self) -> dict[str, float]:
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        if self.error is not None:
            raise self.error
        return dict(self.values)

    def details(self) -> dict[str, Any]:
        return dict(self.extra)

    def close(self) -> None:
        self.closed += 1


@pytest.fixture(autouse=True)
def _no_leaked_sampler_threads() -> Iterator[None]:
    """Every test must leave no sampler thread behind (stop() joins them)."""
    yield
    leaked = [t.name for t in threading.enumerate() if t.name.startswith("hw-sampler-")]
    assert not leaked, f"sampler threads still running: {leaked}"


@pytest.fixture
def make_backend() -> type[ScriptedBackend]:
    """The ScriptedBackend class, so tests build as many as they need."""
    return ScriptedBackend


@pytest.fixture
def make_sim_state() -> Any:
    """The sim_state() document builder."""
    return sim_state
