"""What is checked before a request's body is read: the API key, and the body's size and end.

`Gate` wraps the FastAPI app (ASGI middleware), so an unauthenticated client or an oversized
upload costs no disk and no parsing, and every refusal is an OpenAIError in OpenAI's shape.
"""

from __future__ import annotations

import re
import secrets

from python_multipart.multipart import parse_options_header
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from harness.batchapi.client import API_KEY_ENV
from harness.batchapi.openai_errors import UNCLOSED, OpenAIError

MAX_UPLOAD = 512 << 20  # OpenAI's own limit is 200 MB; beyond this, something is wrong
_DIGITS = re.compile(r"[0-9]+")


def digits(text: str) -> bool:
    """Only ASCII digits (str.isdigit also takes '²', which int() refuses)."""
    return _DIGITS.fullmatch(text) is not None


class Gate:
    """ASGI middleware: the API key on /v1, then Content-Length against MAX_UPLOAD."""

    def __init__(self, app: ASGIApp, api_key: str | None) -> None:
        self.app, self.api_key = app, api_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            if self.api_key is not None and scope["path"].startswith("/v1"):
                check_key(headers.get("authorization", ""), self.api_key)
            length = _content_length(headers.get("content-length"))
            if length > MAX_UPLOAD:
                raise OpenAIError(413, f"body of {length} bytes is over the {MAX_UPLOAD} byte "
                                  "limit", code="request_too_large")  # fmt: skip
        except OpenAIError as exc:
            await exc.response()(scope, receive, send)
            return
        await self.app(scope, _Body(receive, headers.get("content-type", ""), scope), send)


def check_key(authorization: str, key: str) -> None:
    """Raise OpenAI's 401 unless `authorization` is `Bearer <key>`."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise OpenAIError(401, "You didn't provide an API key. Send it in the Authorization "
                          "header as `Authorization: Bearer YOUR_KEY` (the key serve-batch was "
                          f"started with, --api-key or ${API_KEY_ENV}).")  # fmt: skip
    if not secrets.compare_digest(token.strip().encode(), key.encode()):
        shown = token.strip()[:3] + "..." if len(token.strip()) > 6 else "***"
        raise OpenAIError(401, f"Incorrect API key provided: {shown}. Use the key "
                          "serve-batch was started with.", code="invalid_api_key")  # fmt: skip


def _content_length(value: str | None) -> int:
    # uvicorn's h11 refuses a bad one before the app runs; this covers other ASGI servers.
    if value is None:
        return 0
    if not digits(value.strip()):
        raise OpenAIError(400, f"Content-Length {value!r} is not a non-negative integer",
                          code="invalid_http_request")  # fmt: skip
    return int(value)


class _Body:
    """`receive` that counts the body against MAX_UPLOAD (a chunked body has no
    Content-Length) and sees that a multipart body ends with its closing `--BOUNDARY--`.

    python-multipart accepts a body cut off inside a file part and Starlette then neither
    returns nor closes that part's temporary file, so a truncated upload would pass as "no
    file" and leak a file. When the last chunk arrives without the closing boundary, a
    part without a name is appended: the parse fails on it, Starlette closes its files,
    and the 400 says why (scope[UNCLOSED], read in openai_errors.py).
    """

    def __init__(self, receive: Receive, content_type: str, scope: Scope) -> None:
        self.receive, self.scope, self.seen = receive, scope, 0
        kind, params = parse_options_header(content_type)
        boundary = params.get(b"boundary") if kind == b"multipart/form-data" else None
        self.closing = b"--" + boundary + b"--" if boundary else None
        # Blank lines end whatever the cut left open (a header line, the headers, a part's
        # data); the nameless part after them then fails the parse in Starlette.
        self.poison = b"\r\n" * 3 + b"--" + (boundary or b"") + b"\r\nX-Unclosed: 1\r\n\r\n"
        self.closed, self.tail = False, b""

    async def __call__(self) -> Message:
        message = await self.receive()
        chunk: bytes = message.get("body", b"")
        self.seen += len(chunk)
        if self.seen > MAX_UPLOAD:
            raise OpenAIError(413, f"body is over the {MAX_UPLOAD} byte limit",
                              code="request_too_large")  # fmt: skip
        if self.closing is not None and message["type"] == "http.request":
            window = self.tail + chunk
            self.closed = self.closed or self.closing in window
            self.tail = window[-len(self.closing) :]
            if not message.get("more_body", False) and not self.closed:
                self.scope[UNCLOSED] = True
                message = {**message, "body": chunk + self.poison}
        return message
