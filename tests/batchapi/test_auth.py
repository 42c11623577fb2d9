"""--api-key: every /v1 route requires `Authorization: Bearer <key>`; 401 in OpenAI's shape."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from harness.batchapi.client import API_KEY_ENV, BatchApiClient, BatchApiError
from harness.batchapi.server import BatchApiServer
from tests.batchapi.conftest import lines, raw_http

KEY = "sk-harness-test-0123456789"


@pytest.fixture
def keyed(start_server: Callable[..., BatchApiServer]) -> BatchApiServer:
    return start_server(api_key=KEY)


@pytest.mark.parametrize(
    ("authorization", "message", "code"),
    [
        (None, "You didn't provide an API key", None),
        ("Bearer", "You didn't provide an API key", None),
        (f"Basic {KEY}", "You didn't provide an API key", None),
        ("Bearer sk-wrong-key", "Incorrect API key provided: sk-...", "invalid_api_key"),
        (f"Bearer {KEY}x", "Incorrect API key provided", "invalid_api_key"),
    ],
)
def test_without_the_key_every_route_is_401(
    keyed: BatchApiServer, authorization: str | None, message: str, code: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    with httpx.Client(base_url=keyed.url, headers=headers) as http:
        for method, path in (("GET", "/v1/batches"), ("GET", "/v1/files"),
                             ("POST", "/v1/files"), ("DELETE", "/v1/files/file-x"),
                             ("GET", "/v1/nowhere")):  # fmt: skip
            response = http.request(method, path)
            assert response.status_code == 401, (method, path)
            assert response.headers["WWW-Authenticate"] == "Bearer"
            error = response.json()["error"]
            assert error["message"].startswith(message)
            assert (error["type"], error["param"], error["code"]) == (
                "invalid_request_error", None, code
            )  # fmt: skip
            assert KEY not in response.text


def test_an_unauthenticated_upload_is_refused_before_its_body(keyed: BatchApiServer) -> None:
    request = (b"POST /v1/files HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
               b"boundary=x\r\nContent-Length: 100000000\r\n\r\n")  # fmt: skip
    status, body = raw_http(keyed.port, request, timeout_s=5.0)  # the body never comes
    assert status == 401
    assert body["error"]["message"].startswith("You didn't provide an API key")


def test_the_key_opens_every_route(keyed: BatchApiServer) -> None:
    with BatchApiClient(keyed.url, api_key=KEY) as client:
        result = client.run_batch(lines("key", 3))
        assert result.status == "completed"
        assert result.succeeded == 3
        assert len(client.files()["data"]) == 2


def test_the_client_sends_the_environment_s_key(
    keyed: BatchApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with BatchApiClient(keyed.url) as client, pytest.raises(BatchApiError) as info:
        client.list()
    assert info.value.status == 401
    monkeypatch.setenv(API_KEY_ENV, KEY)
    with BatchApiClient(keyed.url) as client:
        assert client.list()["object"] == "list"


def test_the_api_page_needs_no_key_and_documents_bearer(keyed: BatchApiServer) -> None:
    with httpx.Client(base_url=keyed.url) as http:
        assert http.get("/docs").status_code == 200
        schema = http.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert schema["paths"]["/v1/batches"]["post"]["security"] == [{"HTTPBearer": []}]
