"""Fixtures of the limits tests: a fake server, its engine and a Prober over them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.hardware import Budget
from harness.limits.probe import Prober
from tests.limits.fakes import MODEL, FakeEngine, FakeSampler, FakeServer


@pytest.fixture
def server() -> FakeServer:
    """A fake server; tests switch its failures on."""
    return FakeServer()


@pytest.fixture
def fake_engine(server: FakeServer) -> FakeEngine:
    """The engine talking to `server`."""
    return FakeEngine(server)


@pytest.fixture
def prober(server: FakeServer, fake_engine: FakeEngine) -> Iterator[Prober]:
    """A Prober over the fake server with the harness's default budget (GPU 95%)."""

    def new_sampler() -> FakeSampler:
        fake_engine.unload(MODEL)
        return FakeSampler(server)

    yield Prober(fake_engine, MODEL, server.size, new_sampler, Budget())
    assert server.loaded is None, "a probe left the model loaded"
