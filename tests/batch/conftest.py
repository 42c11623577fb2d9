"""Fixtures for the batch engine's tests: a fake engine, batch files, a simulator."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.batch.fakes import FakeEngine, request_line


@pytest.fixture
def fake_engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def write_batch(tmp_path: Path) -> Callable[[int], Path]:
    def write(n: int, name: str = "in.jsonl") -> Path:
        path = tmp_path / name
        path.write_text("".join(request_line(i) + "\n" for i in range(n)))
        return path

    return write


@pytest.fixture
def sim_url() -> Iterator[str]:
    from harness.sim.server import SimServer

    srv = SimServer(profile="tiny", speed=50.0)
    srv.start()
    try:
        yield srv.url
    finally:
        srv.stop()
