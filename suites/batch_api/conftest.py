"""Fixtures of the batch_api suite: the server under test and the batches it is sent.

`--batch-api URL` points the suite at any OpenAI-compatible batch server. Without it, the
suite starts the harness's own (`harness serve-batch`, in-process) over the session's model
server (`--engine sim`: the simulator), behind an OutageProxy so one test can make the
model server go away and come back. A server that requires a key gets $HARNESS_BATCH_API_KEY
as `Authorization: Bearer`, from every request the suite sends.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from harness.batchapi.client import API_KEY_ENV, BatchApiClient, Poll, request_line
from harness.batchapi.outage import OutageProxy
from harness.batchapi.suite import DEFAULT_REQUESTS, batch_api_option


@dataclass(frozen=True)
class Target:
    """The batch server under test; `proxy` is set when the suite owns its model server."""

    url: str
    model: str
    requests: int
    proxy: OutageProxy | None = None
    api_key: str | None = None

    def headers(self) -> dict[str, str]:
        """The key as a header, for requests sent without BatchApiClient."""
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}


@pytest.fixture(scope="session")
def batch_target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    """The server under test: --batch-api, else serve-batch in-process (stopped at the end)."""
    config = request.config
    requests = int(batch_api_option(config, "batch_api_requests") or DEFAULT_REQUESTS)
    url = batch_api_option(config, "batch_api")
    harness = request.getfixturevalue("harness_run")
    model = batch_api_option(config, "batch_api_model") or harness.matrices[0].models[0].name
    if url:
        yield Target(url.rstrip("/"), model, requests, api_key=os.environ.get(API_KEY_ENV) or None)
        return
    from harness.batch.executor import BatchSettings, RetryPolicy
    from harness.batchapi.server import BatchApiServer
    from harness.engines import create_engine

    proxy = OutageProxy(harness.engine.base_url)
    proxy.up()
    engine = create_engine(harness.engine_kind, proxy.url)
    settings = BatchSettings(concurrency=4, retry=RetryPolicy(max_attempts=8))
    server = BatchApiServer(engine, tmp_path_factory.mktemp("serve-batch"), settings)
    try:
        server.start()
        yield Target(server.url, model, requests, proxy)
    finally:
        server.stop()
        engine.close()
        proxy.down()


@pytest.fixture
def batch_client(batch_target: Target) -> Iterator[BatchApiClient]:
    """A client of the server under test; a batch that takes over 10 minutes fails."""
    with BatchApiClient(batch_target.url, api_key=batch_target.api_key,
                        poll=Poll(timeout_s=600.0)) as client:  # fmt: skip
        yield client


@pytest.fixture
def make_lines(batch_target: Target) -> Callable[..., list[str]]:
    """`make_lines(prefix, n, words=4)`: n requests with custom_ids prefix-000000 ..."""

    def make(prefix: str, n: int, words: int = 4, max_tokens: int = 2) -> list[str]:
        return [
            request_line(f"{prefix}-{i:06d}", {
                "model": batch_target.model, "max_tokens": max_tokens, "temperature": 0,
                "messages": [{"role": "user", "content": f"item {i} " + "word " * words}],
            })
            for i in range(n)
        ]  # fmt: skip

    return make
