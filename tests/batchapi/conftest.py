"""Fixtures for the batch API's tests: a fast simulator, an in-process server, a client."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.batch.executor import BatchSettings, RetryPolicy
from harness.batchapi.client import API_KEY_ENV, BatchApiClient, Poll, request_line
from harness.batchapi.server import BatchApiServer
from harness.batchapi.worker import BatchWorker
from harness.engines import Engine, create_engine
from harness.sim.server import SimServer
from tests.suiterun import SuiteRun, run_suite

MODEL = "qwen2.5:3b-instruct"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sim_engine() -> Iterator[Engine]:
    """An engine over a simulator 1000x faster than the tiny profile's machine."""
    with SimServer(profile="tiny", speed=1000.0, num_parallel=4) as sim:
        engine = create_engine("sim", sim.url)
        try:
            yield engine
        finally:
            engine.close()


@pytest.fixture
def start_server(sim_engine: Engine, tmp_path: Path) -> Iterator[Callable[..., BatchApiServer]]:
    """`start_server(worker_class=..., data_dir=...)`: a started server, stopped at the end."""
    started: list[BatchApiServer] = []

    def start(worker_class: type[BatchWorker] = BatchWorker, data_dir: Path | None = None,
              concurrency: int = 4, api_key: str | None = None) -> BatchApiServer:  # fmt: skip
        settings = BatchSettings(concurrency=concurrency, retry=RetryPolicy(base_delay_s=0.1))
        server = BatchApiServer(sim_engine, data_dir or tmp_path / "data", settings,
                                api_key=api_key, worker_class=worker_class)  # fmt: skip
        server.start()
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


@pytest.fixture(autouse=True)
def _no_api_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's $HARNESS_BATCH_API_KEY must not change what these tests send."""
    monkeypatch.delenv(API_KEY_ENV, raising=False)


@pytest.fixture
def client(start_server: Callable[..., BatchApiServer]) -> Iterator[BatchApiClient]:
    with BatchApiClient(start_server().url, poll=Poll(timeout_s=120.0)) as c:
        yield c


def lines(prefix: str, n: int, words: int = 3) -> list[str]:
    return [
        request_line(f"{prefix}-{i:05d}", {
            "model": MODEL, "max_tokens": 2,
            "messages": [{"role": "user", "content": f"q {i} " + "word " * words}],
        })
        for i in range(n)
    ]  # fmt: skip


def jsonl(texts: list[str]) -> bytes:
    return "".join(t + "\n" for t in texts).encode()


def raw_http(port: int, request: bytes, timeout_s: float = 5.0) -> tuple[int, dict[str, Any]]:
    """Send `request` as raw bytes; (status, JSON body) of the answer.

    The short timeout is the test that nothing hangs: a server that waits for a body it
    will never get fails with TimeoutError instead of answering.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            data += _recv(sock)
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])
        }
        length = int(headers["content-length"])
        while len(body) < length:
            body += _recv(sock)
    return int(lines[0].split()[1]), json.loads(body[:length])


def _recv(sock: socket.socket) -> bytes:
    chunk = sock.recv(65536)
    if not chunk:
        raise ConnectionError("the server closed the connection without a full answer")
    return chunk


def run_batch_suite(pytester: pytest.Pytester, url: str, *args: str, requests: int = 300,
                    env: dict[str, str] | None = None) -> SuiteRun:  # fmt: skip
    """The batch_api suite against `url`, with `env` added to the environment."""
    return run_suite(
        pytester, "batch_api", "-q", "-p", "no:randomly", "--batch-api", url,
        "--batch-api-requests", str(requests), "--batch-api-model", MODEL, *args,
        engine=None, env=env, timeout=180,
    )  # fmt: skip
