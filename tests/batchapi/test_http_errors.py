"""Malformed requests: each answered at once, 4xx, in OpenAI's error shape, never a hang."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from harness.batchapi import gate
from harness.batchapi.client import BatchApiClient
from harness.batchapi.server import BatchApiServer
from tests.batchapi.conftest import jsonl, lines, raw_http

SHAPE = {"message", "type", "param", "code"}


def _error(body: dict[str, Any]) -> dict[str, Any]:
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) == SHAPE, error
    assert error["type"] == "invalid_request_error"
    return error


@pytest.mark.parametrize("length", ["-1", "abc", "1, 2", "+5", "²"])
def test_a_bad_content_length_is_400_at_once(client: BatchApiClient, length: str) -> None:
    port = int(client.url.rsplit(":", 1)[1])
    request = (f"POST /v1/batches HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               f"Content-Length: {length}\r\n\r\n{{}}").encode()  # fmt: skip
    status, body = raw_http(port, request, timeout_s=5.0)
    assert status == 400
    error = _error(body)
    assert error["code"] == "invalid_http_request"
    assert "Content-Length must be one non-negative integer" in error["message"]
    assert client.list()["object"] == "list"  # the server still serves


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /v1/batches HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
        b"POST /v1/batches HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
    ],
    ids=["request-line", "header-line", "transfer-encoding"],
)
def test_an_unparseable_request_is_400_at_once(
    client: BatchApiClient, request_bytes: bytes
) -> None:
    port = int(client.url.rsplit(":", 1)[1])
    status, body = raw_http(port, request_bytes, timeout_s=5.0)
    assert 400 <= status < 500
    assert _error(body)["message"].startswith("Invalid HTTP request received")


def test_an_oversized_content_length_is_413_before_the_body(client: BatchApiClient) -> None:
    port = int(client.url.rsplit(":", 1)[1])
    too_big = gate.MAX_UPLOAD + 1
    request = (f"POST /v1/files HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
               f"boundary=x\r\nContent-Length: {too_big}\r\n\r\n").encode()  # fmt: skip
    status, body = raw_http(port, request, timeout_s=5.0)  # no body is ever sent
    assert status == 413
    assert _error(body)["code"] == "request_too_large"


def test_a_chunked_body_over_the_limit_is_413(
    client: BatchApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gate, "MAX_UPLOAD", 4096)

    def chunks() -> Iterator[bytes]:  # no Content-Length: httpx sends it chunked
        yield b'{"input_file_id": "' + b"x" * 8192 + b'"}'

    with httpx.Client(base_url=client.url) as http:
        response = http.post("/v1/batches", content=chunks(),
                             headers={"Content-Type": "application/json"})  # fmt: skip
    assert response.status_code == 413
    assert _error(response.json())["message"] == "body is over the 4096 byte limit"


@pytest.mark.parametrize(
    ("body", "param", "message"),
    [
        (b"{nope", None, "request body is not valid JSON: Expecting property name"),
        (b"[1, 2]", None, "request body must be a JSON object"),
        (b'{"input_file_id": "\xff"}', None,
         "request body is not valid JSON: 'utf-8' codec can't decode byte 0xff"),
        (json.dumps({"endpoint": "/v1/chat/completions", "completion_window": "24h"}),
         "input_file_id", "input_file_id is required"),
        (json.dumps({"input_file_id": "f", "endpoint": "/v1/chat/completions",
                     "completion_window": "24h", "priority": 1}),
         "priority", "Unrecognized request argument supplied: priority"),
        (json.dumps({"input_file_id": 7, "endpoint": "/v1/chat/completions",
                     "completion_window": "24h"}),
         "input_file_id", "input_file_id: Input should be a valid string (got 7)"),
        (json.dumps({"input_file_id": "f", "endpoint": "/v1/chat/completions",
                     "completion_window": "24h", "metadata": {str(i): "v" for i in range(17)}}),
         "metadata", "metadata: Dictionary should have at most 16 items"),
    ],
)  # fmt: skip
def test_a_bad_create_body_is_400_naming_the_field(
    client: BatchApiClient, body: bytes | str, param: str | None, message: str
) -> None:
    with httpx.Client(base_url=client.url) as http:
        response = http.post("/v1/batches", content=body,
                             headers={"Content-Type": "application/json"})  # fmt: skip
    assert response.status_code == 400  # OpenAI's status, never FastAPI's 422
    error = _error(response.json())
    assert error["param"] == param
    assert error["message"].startswith(message), error["message"]


@pytest.mark.parametrize(
    ("method", "path", "status", "message", "code"),
    [
        ("GET", "/v1/nowhere", 404, "Invalid URL (GET /v1/nowhere)", "unknown_url"),
        ("PUT", "/v1/batches", 405, "Method not allowed (PUT /v1/batches)", "method_not_allowed"),
        ("GET", "/v1/batches?limit=abc", 400, "limit 'abc' must be an integer from 1 to 100",
         None),
        ("GET", "/v1/files?limit=0", 400, "limit '0' must be an integer from 1 to 10000", None),
        ("GET", "/v1/files?limit=%C2%B2", 400, "limit '²' must be an integer from 1 to 10000",
         None),
        ("GET", "/v1/files?order=up", 400, "order 'up' is not supported; use 'asc' or 'desc'",
         None),
    ],
)  # fmt: skip
def test_routing_and_query_errors(
    client: BatchApiClient, method: str, path: str, status: int, message: str, code: str | None
) -> None:
    with httpx.Client(base_url=client.url) as http:
        response = http.request(method, path)
    assert response.status_code == status
    error = _error(response.json())
    assert error["message"].startswith(message), error["message"]
    assert error["code"] == code


@pytest.mark.parametrize(
    ("files", "data", "headers", "message"),
    [
        (None, None, {"Content-Type": "application/json"}, "Content-Type is 'application/json'"),
        (None, None, {"Content-Type": "multipart/form-data"},
         "malformed multipart upload: Missing boundary"),
        ({"other": ("a.jsonl", b"{}\n")}, {"purpose": "batch"}, None,
         "no `file` part with a filename"),
        (None, {"purpose": "batch", "file": "text, not a file"}, None,
         "file: Expected UploadFile"),
    ],
)  # fmt: skip
def test_bad_uploads_say_what_to_send(
    client: BatchApiClient,
    files: dict[str, Any] | None,
    data: dict[str, str] | None,
    headers: dict[str, str] | None,
    message: str,
) -> None:
    with httpx.Client(base_url=client.url) as http:
        response = http.post("/v1/files", files=files, data=data, headers=headers)
    assert response.status_code == 400
    assert _error(response.json())["message"].startswith(message)


def test_an_upload_cut_anywhere_is_refused_and_stores_nothing(client: BatchApiClient) -> None:
    request = httpx.Request("POST", "http://x/v1/files", data={"purpose": "batch"},
                            files={"file": ("a.jsonl", jsonl(lines("cut", 2)))})  # fmt: skip
    body, content_type = request.read(), request.headers["Content-Type"]
    closed_at = body.rindex(b"--") + 2  # the closing --BOUNDARY-- ends here
    with httpx.Client(base_url=client.url) as http:
        for cut in range(closed_at):  # every cut, inside headers, data and boundaries
            response = http.post("/v1/files", content=body[:cut],
                                 headers={"Content-Type": content_type})  # fmt: skip
            assert response.status_code == 400, (cut, response.text)
            assert _error(response.json())["message"].startswith(
                "malformed multipart upload: multipart body is not closed by its final boundary"
            ), (cut, response.text)
        assert client.files()["data"] == []
        whole = http.post("/v1/files", content=body, headers={"Content-Type": content_type})
    assert whole.status_code == 200
    assert client.download(whole.json()["id"]) == jsonl(lines("cut", 2))


def test_the_openapi_page_lists_every_route(client: BatchApiClient) -> None:
    with httpx.Client(base_url=client.url) as http:
        schema = http.get("/openapi.json").json()
        page = http.get("/docs")
    assert page.status_code == 200
    assert "swagger" in page.text.lower()
    routes = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops}
    assert routes == {
        ("POST", "/v1/files"), ("GET", "/v1/files"), ("GET", "/v1/files/{file_id}"),
        ("DELETE", "/v1/files/{file_id}"), ("GET", "/v1/files/{file_id}/content"),
        ("POST", "/v1/batches"), ("GET", "/v1/batches"), ("GET", "/v1/batches/{batch_id}"),
        ("POST", "/v1/batches/{batch_id}/cancel"),
    }  # fmt: skip
    create = schema["components"]["schemas"]["CreateBatch"]
    assert create["required"] == ["input_file_id", "endpoint", "completion_window"]
    error = schema["paths"]["/v1/batches"]["post"]["responses"]["400"]
    assert error["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }
    assert "422" not in schema["paths"]["/v1/batches"]["post"]["responses"]


def test_a_route_that_raises_is_a_500_in_openai_shape(
    start_server: Callable[..., BatchApiServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = start_server()

    def broken(batch_id: str) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(server.store, "get_batch", broken)
    with httpx.Client(base_url=server.url) as http:
        response = http.get("/v1/batches/batch_x")
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["type"] == "server_error"
    assert "disk on fire" in error["message"]
    with BatchApiClient(server.url) as client:
        assert client.upload(jsonl(lines("ok", 1)))["object"] == "file"
