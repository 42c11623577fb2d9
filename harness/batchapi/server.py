"""BatchApiServer: uvicorn (in a thread), the SQLite store and the batch worker, started together.

    with BatchApiServer(engine, data_dir, settings) as server:
        client = BatchApiClient(server.url)

Starting resumes every batch the data directory's store still has in progress; stopping
halts the batches where they are (each answered request is already on disk), so the next
start on the same directory carries on.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path

import uvicorn

from harness.batch.executor import BatchSettings
from harness.batchapi.app import BatchBackend, create_app
from harness.batchapi.openai_errors import H11Protocol
from harness.batchapi.store import Store
from harness.batchapi.worker import BatchWorker
from harness.engines.base import Engine
from harness.errors import ConfigError
from harness.lifecycle import Runs

log = logging.getLogger("harness.batchapi")
START_TIMEOUT_S = 30.0


class BatchApiServer(Runs):
    """An OpenAI-compatible batch server over `engine` (see app.py for the routes).

    `api_key` makes every /v1 route require `Authorization: Bearer <api_key>`.
    `worker_class` lets a test swap in a worker that misbehaves on purpose.
    """

    def __init__(
        self,
        engine: Engine,
        data_dir: Path,
        settings: BatchSettings | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_active: int = 4,
        api_key: str | None = None,
        worker_class: type[BatchWorker] = BatchWorker,
    ) -> None:
        self.engine, self.data_dir = engine, data_dir
        self.settings = settings or BatchSettings(concurrency=4)
        self.host, self._port = host, port
        self.max_active = max_active
        self.api_key = api_key
        self.worker_class = worker_class
        self._uvicorn: uvicorn.Server | None = None
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.store: Store
        self.worker: BatchWorker

    def start(self) -> str:
        """Open the store, resume unfinished batches, serve in a thread; returns the URL."""
        if self._uvicorn is not None:
            return self.url
        # Bound here, not by uvicorn, so that port 0 is known before start() returns and a
        # port in use is a ConfigError instead of uvicorn's sys.exit in another thread.
        self._socket = _bind(self.host, self._port)
        self.store = Store(self.data_dir)
        self.worker = self.worker_class(
            self.store, self.data_dir, self.engine, self.settings, self.max_active
        )
        app = create_app(BatchBackend(self.store, self.worker, self.api_key))
        config = uvicorn.Config(
            app,
            http=H11Protocol,
            lifespan="off",
            log_config=None,  # the harness's logging, not uvicorn's own setup
            access_log=False,
            timeout_keep_alive=30,
            timeout_graceful_shutdown=5,  # a client mid-download must not hold up stop()
        )
        server = self._uvicorn = uvicorn.Server(config)
        self.worker.resume()
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [self._socket]}, name="batchapi-http"
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ConfigError(f"the batch API did not start on {self.host}:{self._port}")
            time.sleep(0.01)
        log.info("batch API at %s (data in %s)", self.url, self.data_dir)
        return self.url

    def stop(self) -> None:
        """Stop serving and stop the batches (they resume at the next start); joins threads."""
        server, self._uvicorn = self._uvicorn, None
        if server is None:
            return
        server.should_exit = True
        if self._thread is not None:
            self._thread.join(START_TIMEOUT_S)
        if self._socket is not None:
            self._socket.close()
        self.worker.close()
        self.store.close()

    @property
    def port(self) -> int:
        if self._socket is None or self._uvicorn is None:
            return self._port
        return int(self._socket.getsockname()[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=128)
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror}; choose another "
            "--port (0 picks a free one) or --host"
        ) from exc
