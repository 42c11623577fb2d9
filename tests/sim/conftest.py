"""Fixtures for the simulator's tests: a fast `tiny` server and clients that get closed."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import ollama
import pytest

from harness.sim.server import SimServer

FAST = 100.0  # tiny at speed 100: a load takes ~2 ms, a token ~12 us


@pytest.fixture
def server() -> Iterator[SimServer]:
    srv = SimServer(profile="tiny", speed=FAST)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def client(server: SimServer) -> Iterator[ollama.Client]:
    c = ollama.Client(host=server.url)
    try:
        yield c
    finally:
        c._client.close()


@pytest.fixture
def http(server: SimServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=httpx.Timeout(10.0)) as c:
        yield c
