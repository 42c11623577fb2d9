"""An in-process simulator and an engine on it, for the sustained runner's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.engines.ollama import OllamaEngine
from harness.sim.server import SimServer


@pytest.fixture
def sim_engine() -> Iterator[OllamaEngine]:
    server = SimServer(profile="tiny", speed=20.0)
    url = server.start()
    engine = OllamaEngine(url)
    try:
        yield engine
    finally:
        engine.close()
        server.stop()
