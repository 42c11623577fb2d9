from __future__ import annotations

import httpx
import pytest

from harness.batchapi.multipart import MultipartError, boundary_of, parse


def _encoded() -> tuple[bytes, str]:
    upload = ("in put.jsonl", b'{"a": 1}\r\n\r\n--not-a-boundary\n', "application/jsonl")
    request = httpx.Request(
        "POST", "http://x/v1/files", data={"purpose": "batch"}, files={"file": upload}
    )
    return request.read(), request.headers["Content-Type"]


def test_parses_what_httpx_sends_byte_for_byte() -> None:
    body, content_type = _encoded()
    parts = parse(body, content_type)
    assert parts["purpose"].data == b"batch"
    assert parts["purpose"].filename is None
    assert parts["file"].filename == "in put.jsonl"
    assert parts["file"].data == b'{"a": 1}\r\n\r\n--not-a-boundary\n'


def test_quoted_boundary() -> None:
    assert boundary_of('multipart/form-data; boundary="ab cd"') == "ab cd"
    assert boundary_of("Multipart/Form-Data;boundary=xyz") == "xyz"


@pytest.mark.parametrize(
    ("content_type", "message"),
    [
        ("application/json", "upload the file as multipart/form-data"),
        ("multipart/form-data", "no boundary"),
    ],
)
def test_wrong_content_type_says_what_to_send(content_type: str, message: str) -> None:
    with pytest.raises(MultipartError, match=message):
        parse(b"", content_type)


def test_unclosed_and_nameless_parts_are_rejected() -> None:
    body, content_type = _encoded()
    with pytest.raises(MultipartError, match="final boundary"):
        parse(body[: len(body) // 2], content_type)
    boundary = boundary_of(content_type)
    nameless = f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nx\r\n--{boundary}--\r\n"
    with pytest.raises(MultipartError, match="Content-Disposition"):
        parse(nameless.encode(), content_type)
    headless = f"--{boundary}\r\nno blank line\r\n--{boundary}--\r\n"
    with pytest.raises(MultipartError, match="no blank line"):
        parse(headless.encode(), content_type)
