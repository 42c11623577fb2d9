"""The HTTP side: SimServer, a stdlib ThreadingHTTPServer speaking Ollama's API.

One thread per connection; each streamed chunk is written as one HTTP/1.1 chunk with
TCP_NODELAY, and its `perf_counter_ns()` is recorded right after the write, so a client can
compare its own arrival times with `SimServer.timeline()` at sub-millisecond precision.
"""

from __future__ import annotations

import itertools
import logging
import socket
import threading
import time
from collections import OrderedDict
from http.server import ThreadingHTTPServer
from typing import Any

from harness.lifecycle import Runs
from harness.sim.behaviour import Behaviour
from harness.sim.faults import FaultSpec
from harness.sim.handler import Handler
from harness.sim.model_runner import Pace
from harness.sim.profiles import HardwareProfile, hardware_profile
from harness.sim.scheduler import Scheduler

log = logging.getLogger("harness.sim")

TIMELINE_LIMIT = 20_000  # requests kept for timeline(); the oldest go first


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = True  # server_close() joins the handler threads
    request_queue_size = 256  # 64 clients connecting at once must not overflow the backlog
    app: SimServer


class SimServer(Runs):
    """An Ollama-compatible server with a simulated machine behind it (see OLLAMA.md).

    `profile` names a hardware profile; `speed` divides every simulated duration (50 means
    50x faster than the profiled machine), and the reported counters are scaled the same way,
    so they match what a client measures.
    """

    def __init__(
        self,
        profile: str = "tiny",
        speed: float = 1.0,
        faults: FaultSpec | str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        behaviour: Behaviour | None = None,
        num_parallel: int = 1,
        max_queue: int = 512,
        kv_cache_type: str = "f16",
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be > 0, got {speed!r}")
        self.hw: HardwareProfile = hardware_profile(profile)
        self.speed = speed
        self.faults = faults if isinstance(faults, FaultSpec) else FaultSpec.parse(faults)
        self.behaviour = behaviour or Behaviour()
        self.host, self._port = host, port
        self.pace = Pace(scale=self.faults.slowdown / speed, speed=speed)
        self.scheduler = Scheduler(
            self.hw,
            self.pace,
            self.behaviour,
            num_parallel=num_parallel,
            max_queue=max_queue,
            kv_type=kv_cache_type,
        )
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._timeline: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._conns: set[socket.socket] = set()

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> str:
        """Serve in a background thread; returns the base URL."""
        if self._httpd is not None:
            return self.url
        httpd = _HTTPServer((self.host, self._port), Handler)
        httpd.app = self
        self._httpd = httpd
        self.scheduler.start()
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="sim-http", daemon=True
        )
        self._thread.start()
        log.info("SIMULATED Ollama (%s) at %s", self.hw.name, self.url)
        return self.url

    def stop(self) -> None:
        """Stop serving, end every stream and join all threads."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self.scheduler.stop()
        httpd.shutdown()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:  # idle keep-alive connections would block their threads
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(5.0)

    @property
    def port(self) -> int:
        if self._httpd is None:
            return self._port
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def clock_ns(self) -> int:
        """The simulated machine's clock in ns (Pace.now_ns): only differences mean anything."""
        return self.pace.now_ns()

    @property
    def stopping(self) -> bool:
        return self.pace.stop.is_set()

    # -- used by the handler ---------------------------------------------------------
    def track(self, conn: socket.socket, alive: bool) -> None:
        with self._lock:
            (self._conns.add if alive else self._conns.discard)(conn)

    def new_request(self, method: str, path: str) -> tuple[int, dict[str, Any]]:
        """A request number (for fault draws) and its timeline record."""
        received = time.perf_counter_ns()
        index = next(self._ids)
        record: dict[str, Any] = {
            "request_id": f"sim-{index}",
            "method": method,
            "path": path,
            "model": None,
            "status": None,
            "received_ns": received,
            "first_content_ns": None,
            "chunk_ns": [],
            "done_ns": None,
        }
        with self._lock:
            self._timeline[record["request_id"]] = record
            while len(self._timeline) > TIMELINE_LIMIT:
                self._timeline.popitem(last=False)
        return index, record

    def timeline(self, request_id: str | None = None) -> Any:
        """Server timestamps (perf_counter_ns) of one request, or a list of all kept.

        Each record: request_id, method, path, model, status, client (the
        X-Harness-Worker header, when sent), received_ns,
        first_content_ns (first non-empty content chunk written), chunk_ns (every content
        chunk), done_ns (the final chunk or the whole response written).
        """
        with self._lock:
            if request_id is not None:
                record = self._timeline[request_id]
                return {**record, "chunk_ns": list(record["chunk_ns"])}
            return [{**r, "chunk_ns": list(r["chunk_ns"])} for r in self._timeline.values()]
