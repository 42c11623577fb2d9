"""What both HTTP engines share: the client with a timeout per phase, and error mapping."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from harness import errors
from harness.engines import arrival


@dataclass(frozen=True)
class Timeouts:
    """Per-phase limits; `read` bounds the gap between bytes, so it must cover a long prefill."""

    connect: float = 5.0
    read: float = 600.0
    write: float = 30.0
    pool: float = 30.0

    def httpx(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


# Every connection may stay open: with more threads than max_keepalive_connections (httpx:
# 20) httpcore 1.0.9's pool closes "surplus" idle connections, among them one it has just
# handed to a waiting request (encode/httpcore#1110), which then fails mid-response with
# EBADF or hangs to its read timeout; 64 streams on one client hit it (issue 21).
LIMITS = httpx.Limits(max_connections=512, max_keepalive_connections=512)


def make_client(
    base_url: str, timeouts: Timeouts, transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    # One keep-alive connection pool per engine; no env proxies, since a benchmark must not
    # silently go through a proxy the user set for something else. `transport` lets tests
    # replay recorded byte streams through the same parsing code.
    # The worker name lets a server's log (and the simulator's timeline) tell parallel
    # pytest-xdist workers apart; "main" when not under xdist.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    if transport is None:
        transport = arrival.transport(LIMITS)
    return httpx.Client(
        base_url=base_url,
        timeout=timeouts.httpx(),
        trust_env=False,
        transport=transport,
        limits=LIMITS,
        headers={"X-Harness-Worker": worker},
    )


def error_text(body: bytes) -> str:
    """The `error` field of a JSON error body (Ollama's and OpenAI's shapes), else the text."""
    text = body.decode("utf-8", "replace").strip()
    try:
        payload = json.loads(text)
    except ValueError:
        return text
    if isinstance(payload, dict):
        err = payload.get("error")
        if isinstance(err, dict):
            return str(err.get("message", err))
        if err is not None:
            return str(err)
    return text


def raise_for_status(status: int, message: str, url: str) -> None:
    """Map an HTTP error answer to the narrowest harness error."""
    if status < 400:
        return
    text = f"{message} (HTTP {status} from {url})"
    if status == 404 and "not found" in message:
        raise errors.ModelNotFound(text, status=status)
    if status == 503:
        raise errors.ServerBusy(text, status=status)
    if 400 <= status < 500:
        raise errors.RequestRejected(text, status=status)
    raise classify_server_error(text, status)


def classify_server_error(text: str, status: int | None = None) -> errors.EngineError:
    if errors.looks_like_oom(text):
        return errors.OutOfMemory(text, status=status)
    if "timed out waiting for llama runner" in text:
        return errors.LoadTimeout(text, status=status)
    return errors.ServerError(text, status=status)


@contextmanager
def transport_errors(url: str) -> Iterator[None]:
    """Turn httpx's transport exceptions into harness errors naming the URL."""
    try:
        yield
    except httpx.ConnectError as exc:
        raise errors.ServerUnreachable(f"cannot connect to {url}: {exc}") from exc
    except httpx.TimeoutException as exc:
        raise errors.RequestTimeout(f"{type(exc).__name__} talking to {url}") from exc
    except httpx.RemoteProtocolError as exc:
        raise errors.StreamIncomplete(f"connection to {url} broke mid-response: {exc}") from exc
    except httpx.ReadError as exc:
        # A reset while the answer was coming: the server was there, its answer broke off.
        raise errors.StreamIncomplete(f"connection to {url} was reset mid-response: {exc}") from exc
    except httpx.TransportError as exc:
        raise errors.ServerUnreachable(f"transport error talking to {url}: {exc}") from exc


class SendClock:
    """When the request went out: an httpcore `trace` hook, passed as `extensions={"trace": ..}`.

    Stamped when httpcore starts writing the request line to the socket, so building the
    request (URL merging, JSON-encoding a long prompt, taking a pooled connection or opening
    one) stays out of TTFT: measured at ~0.3-0.4 ms a request, and more for long prompts.
    `ns` starts at construction, the fallback for transports that do not trace (mocks).
    Built as a request starts, it also clears this thread's receive stamp (arrival.py), so an
    answer read without stamps never takes an earlier answer's.
    """

    EVENT = "http11.send_request_headers.started"

    def __init__(self) -> None:
        arrival.forget()
        self.ns = time.perf_counter_ns()

    def __call__(self, event: str, info: dict[str, Any]) -> None:
        if event == self.EVENT:  # the last one wins, if httpcore retries on a new connection
            self.ns = time.perf_counter_ns()


def split_lines(chunks: Iterator[bytes]) -> Iterator[tuple[int, bytes]]:
    """Yield (arrival_ns, line) for every complete line, stamped when its bytes arrived.

    The stamp is the kernel's receive time of the socket read that brought them where there
    is one (arrival.py), else the clock read as the bytes reach Python, before any parsing,
    which keeps JSON decoding out of TTFT; lines that arrive in the same read share its stamp.
    A read that is exactly one whole line (how Ollama writes its stream: one line per HTTP
    chunk) skips the buffering, which is most of this loop's cost at 50,000 chunks/s.
    """
    clock = arrival.arrived_ns
    pending = b""
    for data in chunks:
        now = clock()
        if pending:
            data = pending + data
            pending = b""
        end = data.find(b"\n")
        if end == len(data) - 1:  # one whole line
            if end > 0 and not data.isspace():
                yield now, data[:end]
            continue
        if end < 0:
            pending = data
            continue
        *lines, pending = data.split(b"\n")
        for line in lines:
            if line.strip():
                yield now, line
    if pending.strip():
        yield clock(), pending
