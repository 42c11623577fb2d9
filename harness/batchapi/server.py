"""BatchApiServer: the HTTP threads, the SQLite store and the batch worker, started together.

    with BatchApiServer(engine, data_dir, settings) as server:
        client = BatchApiClient(server.url)

Starting resumes every batch the data directory's store still has in progress; stopping
halts the batches where they are (each answered request is already on disk), so the next
start on the same directory carries on.
"""

from __future__ import annotations

import logging
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

from harness.batch.engine import BatchSettings
from harness.batchapi.handler import Handler
from harness.batchapi.store import Store
from harness.batchapi.worker import BatchWorker
from harness.engines.base import Engine

log = logging.getLogger("harness.batchapi")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # idle keep-alive clients must not hold up stop()
    request_queue_size = 128
    app: BatchApiServer


class BatchApiServer:
    """An OpenAI-compatible batch server over `engine` (see handler.py for the routes).

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
        worker_class: type[BatchWorker] = BatchWorker,
    ) -> None:
        self.engine, self.data_dir = engine, data_dir
        self.settings = settings or BatchSettings(concurrency=4)
        self.host, self._port = host, port
        self.max_active = max_active
        self.worker_class = worker_class
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.store: Store
        self.worker: BatchWorker

    def start(self) -> str:
        """Open the store, resume unfinished batches, serve in a thread; returns the URL."""
        if self._httpd is not None:
            return self.url
        self.store = Store(self.data_dir)
        self.worker = self.worker_class(
            self.store, self.data_dir, self.engine, self.settings, self.max_active
        )
        httpd = _HTTPServer((self.host, self._port), Handler)
        httpd.app = self
        self._httpd = httpd
        self.worker.resume()
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="batchapi-http"
        )
        self._thread.start()
        log.info("batch API at %s (data in %s)", self.url, self.data_dir)
        return self.url

    def stop(self) -> None:
        """Stop serving and stop the batches (they resume at the next start); joins threads."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(5.0)
        self.worker.close()
        self.store.close()

    def __enter__(self) -> BatchApiServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            return self._port
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"
