"""HTTP request handling: routing, JSON bodies, errors, and chunked streaming primitives."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from harness.sim import catalog, streaming
from harness.sim.generation import resolve_model
from harness.sim.profiles import model_profiles
from harness.sim.request_options import ApiError
from harness.sim.wire import dumps, openai_error

if TYPE_CHECKING:
    from harness.sim.server import SimServer, _HTTPServer

log = logging.getLogger("harness.sim")

PULL_MISSING = "pull model manifest: file does not exist"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer
    timeout = 600  # an idle keep-alive connection gives up its thread eventually
    server_version = "SimOllama"
    sys_version = ""

    # -- connection ------------------------------------------------------------------
    def setup(self) -> None:
        super().setup()
        # Nagle would hold small chunks back waiting for the client's delayed ACK.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.app.track(self.connection, True)

    def finish(self) -> None:
        self.app.track(self.connection, False)
        try:
            super().finish()
        except OSError:
            pass

    @property
    def app(self) -> SimServer:
        return self.server.app

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)

    # -- dispatch --------------------------------------------------------------------
    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _routes(self) -> dict[tuple[str, str], Callable[[], None]]:
        return {
            ("GET", "/"): self._root,
            ("HEAD", "/"): self._root,
            ("GET", "/api/version"): lambda: self.send_json(200, {"version": catalog.SIM_VERSION}),
            ("GET", "/api/tags"): lambda: self.send_json(200, catalog.tags()),
            ("GET", "/api/ps"): lambda: self.send_json(
                200, catalog.ps(self.app.scheduler.snapshot())
            ),
            ("POST", "/api/show"): self._show,
            ("POST", "/api/chat"): lambda: streaming.native(self, "chat"),
            ("POST", "/api/generate"): lambda: streaming.native(self, "generate"),
            ("POST", "/api/pull"): self._pull,
            ("GET", "/v1/models"): self._v1_models,
            ("POST", "/v1/chat/completions"): lambda: streaming.openai(self),
            ("GET", "/sim/state"): self._state,
        }

    def _dispatch(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        self.index, self.record = self.app.new_request(method, path)
        # Who sent it (the harness names its pytest-xdist worker), so tests can prove
        # that no two workers ever drive one server.
        self.record["client"] = self.headers.get("X-Harness-Worker")
        self.openai = path.startswith("/v1/")
        route = self._routes().get((method, path))
        if route is None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))  # keep-alive sync
            self.send_text(404, "404 page not found")
            return
        try:
            route()
        except ApiError as exc:
            self.send_error_json(exc.status, exc.message)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # -- bodies ----------------------------------------------------------------------
    def read_json(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw.strip():
            raise ApiError(400, "missing request body")
        try:
            body = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ApiError(400, f"invalid character in request body: {exc.msg}") from None
        if not isinstance(body, dict):
            raise ApiError(400, "json: cannot unmarshal request body into an object")
        return body

    def _headers(self, status: int, content_type: str, length: int | None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if length is None:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(length))
        self.send_header("X-Sim-Request-Id", self.record["request_id"])
        self.end_headers()
        self.record["status"] = status

    def send_bytes(self, status: int, content_type: str, body: bytes) -> None:
        self._headers(status, content_type, len(body))
        if self.command != "HEAD":
            self.wfile.write(body)
        self.record["done_ns"] = time.perf_counter_ns()

    def send_json(self, status: int, obj: Any) -> None:
        self.send_bytes(status, "application/json; charset=utf-8", dumps(obj))

    def send_text(self, status: int, text: str) -> None:
        self.send_bytes(status, "text/plain; charset=utf-8", text.encode())

    def send_error_json(self, status: int, message: str) -> None:
        body = openai_error(status, message) if self.openai else {"error": message}
        self.send_json(status, body)

    def start_stream(self, content_type: str) -> None:
        self._headers(200, content_type, None)

    def write_chunk(self, data: bytes) -> int:
        """One HTTP chunk in one send; returns perf_counter_ns() right after it."""
        self.wfile.write(b"%X\r\n%b\r\n" % (len(data), data))
        return time.perf_counter_ns()

    def end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")

    def drop(self) -> None:
        """Close the socket mid-response, as a crashed or killed server would."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- simple routes ---------------------------------------------------------------
    def _root(self) -> None:
        self.send_text(200, "Ollama is running")

    def _show(self) -> None:
        body = self.read_json()
        self.record["model"] = body.get("model") or body.get("name")
        model = resolve_model({"model": self.record["model"]})
        self.send_json(200, catalog.show(model))

    def _state(self) -> None:
        sched = self.app.scheduler
        with sched.cond:
            ignored = dict(sched.ignored_options)
        self.send_json(200, catalog.state(self.app.hw, self.app.speed, sched.snapshot(), ignored))

    def _v1_models(self) -> None:
        data = [
            {
                "id": m.name,
                "object": "model",
                "created": 1759320000,
                "owned_by": m.name.split("/")[0] if "/" in m.name else "library",
            }
            for m in model_profiles().values()
        ]
        self.send_json(200, {"object": "list", "data": data})

    def _pull(self) -> None:
        body = self.read_json()
        name = body.get("model") or body.get("name") or ""
        stream = body.get("stream", True) is not False
        try:
            model = resolve_model({"model": name})
        except ApiError as exc:
            if exc.status != 404:
                raise
            if not stream:
                raise ApiError(500, PULL_MISSING) from None
            self.start_stream("application/x-ndjson")
            self.write_chunk(dumps({"status": "pulling manifest"}) + b"\n")
            self.write_chunk(dumps({"error": PULL_MISSING}) + b"\n")
            self.end_stream()
            return
        if not stream:
            self.send_json(200, {"status": "success"})
            return
        digest = f"sha256:{model.digest}"
        layer = {"digest": digest, "total": model.file_bytes}
        lines = [
            {"status": "pulling manifest"},
            {"status": f"pulling {model.digest[:12]}", **layer, "completed": 0},
            {"status": f"pulling {model.digest[:12]}", **layer, "completed": model.file_bytes},
            {"status": "verifying sha256 digest"},
            {"status": "writing manifest"},
            {"status": "success"},
        ]
        self.start_stream("application/x-ndjson")
        for line in lines:
            self.write_chunk(dumps(line) + b"\n")
        self.end_stream()
