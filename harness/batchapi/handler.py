"""HTTP routes of the batch API, with errors in OpenAI's shape.

    POST /v1/files                   multipart upload (purpose=batch)
    GET  /v1/files/{id}              the file object
    GET  /v1/files/{id}/content      its bytes
    POST /v1/batches                 create (input_file_id, endpoint, completion_window)
    GET  /v1/batches                 list, newest first (limit, after)
    GET  /v1/batches/{id}            retrieve
    POST /v1/batches/{id}/cancel     cancel

Every error is `{"error": {"message", "type", "param", "code"}}` and its message names the
offending value and what to send instead.
"""

from __future__ import annotations

import json
import logging
import shutil
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from harness.batch.jsonl import CHAT_URL
from harness.batchapi import multipart
from harness.batchapi.store import batch_object, file_object, new_id
from harness.batchapi.worker import CancelRefused

if TYPE_CHECKING:
    from harness.batchapi.server import BatchApiServer, _HTTPServer

log = logging.getLogger("harness.batchapi")
WINDOWS = ("24h",)
MAX_UPLOAD = 512 << 20  # OpenAI's own limit is 200 MB; beyond this, something is wrong


class ApiError(Exception):
    """An error answer: HTTP status, message, and OpenAI's `param` / `code` fields."""

    def __init__(self, status: int, message: str, param: str | None = None,
                 code: str | None = None) -> None:  # fmt: skip
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code

    def body(self) -> dict[str, Any]:
        kind = "invalid_request_error" if self.status < 500 else "server_error"
        return {"error": {"message": self.message, "type": kind, "param": self.param,
                          "code": self.code}}  # fmt: skip


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer
    timeout = 120  # an idle keep-alive connection gives up its thread eventually
    server_version = "HarnessBatch"
    sys_version = ""

    @property
    def app(self) -> BatchApiServer:
        return self.server.app

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        self._read = False  # one handler serves every request of a keep-alive connection
        url = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        parts = [p for p in url.path.split("/") if p]
        try:
            self._route(method, parts)
        except ApiError as exc:
            self._drain()
            self.send_json(exc.status, exc.body())
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _route(self, method: str, parts: list[str]) -> None:
        match (method, parts):
            case ("POST", ["v1", "files"]):
                self._upload()
            case ("GET", ["v1", "files", file_id]):
                self.send_json(200, file_object(self._file(file_id)))
            case ("GET", ["v1", "files", file_id, "content"]):
                self._content(self._file(file_id))
            case ("POST", ["v1", "batches"]):
                self._create()
            case ("GET", ["v1", "batches"]):
                self._list()
            case ("GET", ["v1", "batches", batch_id]):
                self.send_json(200, self._batch(batch_id))
            case ("POST", ["v1", "batches", batch_id, "cancel"]):
                self._cancel(batch_id)
            case _:
                raise ApiError(404, f"Invalid URL ({method} {self.path})", code="unknown_url")

    # -- bodies ----------------------------------------------------------------------------
    def _body(self) -> bytes:
        self._read = True
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_UPLOAD:
            self.close_connection = True  # the body is not read, so the connection is spent
            raise ApiError(413, f"body of {length} bytes is over the {MAX_UPLOAD} byte limit")
        return self.rfile.read(length) if length else b""

    def _drain(self) -> None:
        # An error before the body was read: read it, or keep-alive would parse it as a request.
        if not getattr(self, "_read", False) and not self.close_connection:
            self._body()

    def _json(self) -> dict[str, Any]:
        try:
            body = json.loads(self._body() or b"null")
        except ValueError as exc:
            raise ApiError(400, f"request body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise ApiError(400, "request body must be a JSON object")
        return body

    def send_json(self, status: int, obj: Any) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    # -- files -----------------------------------------------------------------------------
    def _upload(self) -> None:
        try:
            parts = multipart.parse(self._body(), self.headers.get("Content-Type", ""))
        except multipart.MultipartError as exc:
            raise ApiError(400, f"malformed multipart upload: {exc}") from None
        purpose = parts["purpose"].data.decode() if "purpose" in parts else None
        if purpose != "batch":
            raise ApiError(400, f"purpose {purpose!r} is not supported; this server takes "
                           "purpose 'batch'", param="purpose")  # fmt: skip
        upload = parts.get("file")
        if upload is None or upload.filename is None:
            raise ApiError(400, "no `file` part with a filename in the upload", param="file")
        file_id = new_id("file")
        path = self.app.worker.file_path(file_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(upload.data)
        row = self.app.store.add_file("batch", upload.filename, len(upload.data), file_id)
        self.send_json(200, file_object(row))

    def _file(self, file_id: str) -> dict[str, Any]:
        row = self.app.store.get_file(file_id)
        if row is None:
            raise ApiError(404, f"No such File object: {file_id!r}", param="id",
                           code="file_not_found")  # fmt: skip
        return row

    def _content(self, row: dict[str, Any]) -> None:
        path = self.app.worker.file_path(row["id"])
        if not path.exists():
            raise ApiError(404, f"the content of file {row['id']!r} is gone from the data "
                           "directory", code="file_not_found")  # fmt: skip
        with path.open("rb") as handle:
            size = path.stat().st_size
            self.send_response(200)
            self.send_header("Content-Type", "application/jsonl")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            shutil.copyfileobj(handle, self.wfile)

    # -- batches ---------------------------------------------------------------------------
    def _batch(self, batch_id: str) -> dict[str, Any]:
        row = self.app.store.get_batch(batch_id)
        if row is None:
            raise ApiError(404, f"No such Batch object: {batch_id!r}", param="batch_id",
                           code="batch_not_found")  # fmt: skip
        live = self.app.worker.live_counts(batch_id)
        if live is not None:
            row["completed"], row["failed"] = live
        return batch_object(row)

    def _create(self) -> None:
        body = self._json()
        file_id = body.get("input_file_id")
        if not isinstance(file_id, str) or self.app.store.get_file(file_id) is None:
            raise ApiError(400, f"input_file_id {file_id!r} is not an uploaded file; upload "
                           "it with POST /v1/files first", param="input_file_id")  # fmt: skip
        if body.get("endpoint") != CHAT_URL:
            raise ApiError(400, f"endpoint {body.get('endpoint')!r} is not supported; use "
                           f"{CHAT_URL!r}", param="endpoint")  # fmt: skip
        window = body.get("completion_window")
        if window not in WINDOWS:
            raise ApiError(400, f"completion_window {window!r} is not supported; use "
                           f"{WINDOWS[0]!r}", param="completion_window")  # fmt: skip
        metadata = body.get("metadata")
        row = self.app.store.add_batch(file_id, CHAT_URL, window, metadata)
        self.app.worker.submit(row["id"])
        self.send_json(200, batch_object(row))

    def _list(self) -> None:
        raw = self.query.get("limit", "20")
        if not raw.isdigit() or not 1 <= int(raw) <= 100:
            raise ApiError(400, f"limit {raw!r} must be an integer from 1 to 100", param="limit")
        after = self.query.get("after")
        if after is not None and self.app.store.get_batch(after) is None:
            raise ApiError(400, f"after {after!r} is not a batch id", param="after")
        rows, more = self.app.store.list_batches(int(raw), after)
        data = [batch_object(r) for r in rows]
        self.send_json(200, {"object": "list", "data": data, "has_more": more,
                             "first_id": data[0]["id"] if data else None,
                             "last_id": data[-1]["id"] if data else None})  # fmt: skip

    def _cancel(self, batch_id: str) -> None:
        self._batch(batch_id)  # 404 first
        try:
            self.app.worker.cancel(batch_id)
        except CancelRefused as exc:
            raise ApiError(409, str(exc), code="batch_not_cancellable") from None
        self.send_json(200, self._batch(batch_id))
