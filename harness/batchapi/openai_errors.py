"""Every error the batch API sends, in OpenAI's shape, whoever raised it.

    {"error": {"message": "...", "type": "invalid_request_error", "param": "limit", "code": null}}

Four sources, one shape: the routes' own `OpenAIError`, FastAPI's request validation
(`RequestValidationError`, answered 400 as OpenAI does, not FastAPI's 422), Starlette's
`HTTPException` (unknown URL, wrong method, a multipart body python-multipart cannot parse),
and the HTTP layer itself: a request uvicorn's h11 cannot parse (a `Content-Length` of -1 or
`abc`) never reaches the app, so `H11Protocol` answers it in the same shape.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import h11
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response
from uvicorn.protocols.http.h11_impl import H11Protocol as _H11Protocol

log = logging.getLogger("harness.batchapi")

UNCLOSED = "harness.unclosed_multipart"  # scope key: an upload lacked its final boundary
UNCLOSED_MESSAGE = ("malformed multipart upload: multipart body is not closed by its final "
                    "boundary (--BOUNDARY--); send the whole body")  # fmt: skip
# Validation errors whose message (ours) already reads as a predicate of the value.
_PREDICATES = frozenset({"limit_range"})


class OpenAIError(Exception):
    """An error answer: HTTP status, message, and OpenAI's `param` / `code` fields."""

    def __init__(self, status: int, message: str, param: str | None = None,
                 code: str | None = None) -> None:  # fmt: skip
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code

    def body(self) -> dict[str, Any]:
        return error_body(self.status, self.message, self.param, self.code)

    def response(self) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if self.status == 401 else None
        return JSONResponse(self.body(), status_code=self.status, headers=headers)


def error_body(status: int, message: str, param: str | None = None,
               code: str | None = None) -> dict[str, Any]:  # fmt: skip
    kind = "invalid_request_error" if status < 500 else "server_error"
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def install(app: FastAPI) -> None:
    """Answer every error `app` raises in OpenAI's shape."""
    app.add_exception_handler(OpenAIError, _openai_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _server_error)


async def _openai_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OpenAIError)
    return exc.response()


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors: Sequence[Mapping[str, Any]] = exc.errors()
    first = errors[0]
    message = validation_message(first)
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem(s) in this request)"
    return OpenAIError(400, message, _param(first["loc"])).response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if isinstance(exc.__cause__, OpenAIError):  # raised while FastAPI read the body
        return exc.__cause__.response()
    where = f"{request.method} {request.url.path}"
    if exc.status_code == 404:
        return OpenAIError(404, f"Invalid URL ({where})", code="unknown_url").response()
    if exc.status_code == 405:
        return OpenAIError(405, f"Method not allowed ({where}); see /docs for the routes",
                           code="method_not_allowed").response()  # fmt: skip
    multipart = request.headers.get("content-type", "").lower().startswith("multipart/")
    if exc.status_code == 400 and multipart:  # python-multipart refused the body
        unclosed = request.scope.get(UNCLOSED)
        message = UNCLOSED_MESSAGE if unclosed else f"malformed multipart upload: {exc.detail}"
        return OpenAIError(400, message, param="file").response()
    if exc.status_code == 400 and exc.__cause__ is not None:  # e.g. a JSON body not in UTF-8
        return OpenAIError(400, f"request body is not valid JSON: {exc.__cause__}").response()
    return OpenAIError(exc.status_code, str(exc.detail)).response()


async def _server_error(request: Request, exc: Exception) -> Response:
    log.error("batch API: %s %s failed", request.method, request.url.path, exc_info=exc)
    return OpenAIError(500, f"internal error: {exc!r}").response()


def validation_message(error: Mapping[str, Any]) -> str:
    """One pydantic error as a sentence naming the field, the value sent and what is allowed."""
    param, kind, value = _param(error["loc"]), error["type"], error.get("input")
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    if kind == "json_invalid":
        return f"request body is not valid JSON: {ctx.get('error', error['msg'])}"
    if param is None:
        return f"request body must be a JSON object: {error['msg']}"
    if kind == "missing":
        return f"{param} is required"
    if kind == "literal_error":
        return f"{param} {value!r} is not supported; use {ctx.get('expected')}"
    if kind == "extra_forbidden":
        return f"Unrecognized request argument supplied: {param}"
    if kind in _PREDICATES:
        return f"{param} {value!r} {error['msg']}"
    text = str(error["msg"]).removeprefix("Value error, ")  # a validator's own ValueError
    return f"{param}: {text} (got {json.dumps(value, default=repr)[:200]})"


def _param(loc: Sequence[str | int]) -> str | None:
    """`("body", "metadata", "k")` -> "metadata.k"; the body as a whole -> None."""
    names = [str(p) for p in loc[1:] if not isinstance(p, int)]
    return ".".join(names) or None


class H11Protocol(_H11Protocol):
    """uvicorn's h11 protocol, answering an unparseable request in OpenAI's error shape.

    h11 refuses a bad `Content-Length` (-1, abc, two that disagree) and malformed request
    lines before the app sees them; uvicorn then sends a text/plain 400 from this method,
    which OpenAI clients cannot read as an error, so the same 400 goes out as JSON.
    """

    def send_400_response(self, msg: str) -> None:
        detail = (f"{msg.rstrip('.')}: the request line or a header is malformed (a "
                  "Content-Length must be one non-negative integer)")  # fmt: skip
        data = json.dumps(error_body(400, detail, code="invalid_http_request")).encode()
        headers = [(b"content-type", b"application/json"), (b"connection", b"close"),
                   (b"content-length", str(len(data)).encode())]  # fmt: skip
        for event in (h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
                      h11.Data(data=data), h11.EndOfMessage()):  # fmt: skip
            self.transport.write(self.conn.send(event) or b"")
        self.transport.close()
