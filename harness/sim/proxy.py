"""FaultProxy: a seeded TCP relay that damages responses on the wire between client and server.

The simulator's own faults (`--sim-faults`) are faults of the server: an error line, a
hang, a dropped stream, all well-formed HTTP. This relay damages the bytes themselves, as a
flaky network, a crashing proxy or a dying server does, so the harness is tested on what
its HTTP stack sees when that happens:

    cut      the response stops at a random byte and the connection closes (FIN)
    reset    the response stops at a random byte and the connection is reset (RST)
    garbage  eight bytes of the body are overwritten with bytes that are never UTF-8
    stall    the response pauses `stall_s` at a random byte, then goes on
    split    the response from a random byte on arrives in pieces of 1-7 bytes

Each request's response is damaged with probability `rate`, drawn from `seed` and the
request's number, so a sequential client meets the same faults on every run. The damaged
byte is in the body (never in the headers, where h11 accepts most bytes): anywhere in a
`Content-Length` body, or in the first 1 KiB of a chunked stream.

Requests are told apart by their first bytes (an HTTP method): a keep-alive client sends
the next request only after it read the previous response, so every byte the server sends
after a request belongs to that request's response.
"""

from __future__ import annotations

import random
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from harness.lifecycle import Runs

FAULT_KINDS: tuple[str, ...] = ("cut", "reset", "garbage", "stall", "split")
_METHOD = re.compile(rb"^(GET|POST|PUT|DELETE|HEAD|OPTIONS|PATCH) ")
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)
_STREAM_SPAN = 1024  # bytes of a chunked body in which the damage lands
_GARBAGE_LEN = 8


@dataclass(frozen=True)
class WireFault:
    """What happens to one response: `kind` (None: nothing) at the body byte that `draw`
    (in [0, 1)) picks; `garbage` is what overwrites it."""

    kind: str | None
    draw: float
    garbage: bytes


class FaultProxy(Runs):
    """Relays 127.0.0.1:<port> to `target_url`, damaging responses with probability `rate`."""

    def __init__(
        self,
        target_url: str,
        kind: str,
        rate: float,
        seed: int = 0,
        stall_s: float = 3.0,
    ) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown wire fault {kind!r}; known: {', '.join(FAULT_KINDS)}")
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate {rate!r} is a probability: use 0..1")
        parts = urlsplit(target_url)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.kind, self.rate, self.seed, self.stall_s = kind, rate, seed, stall_s
        self.port = 0
        self.requests = 0
        self.damaged = 0  # responses actually damaged
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._conns: set[socket.socket] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> str:
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self.port = self._listener.getsockname()[1]
        self._spawn(self._accept, self._listener)
        return self.url

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            conns, threads = list(self._conns), list(self._threads)
        for conn in conns:
            _shut(conn)
        for thread in threads:
            thread.join(5.0)

    # -- plumbing ----------------------------------------------------------------------------
    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def _accept(self, listener: socket.socket) -> None:
        listener.settimeout(0.1)  # notice stop() quickly whatever accept() does on close
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5.0)
            except OSError:
                client.close()
                continue
            for conn in (client, upstream):
                conn.settimeout(None)
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._conns.update((client, upstream))
            link = _Link(self, client, upstream)
            self._spawn(link.requests)
            self._spawn(link.responses)

    def _next_fault(self) -> WireFault:
        with self._lock:
            index = self.requests
            self.requests += 1
        rng = random.Random(f"{self.seed}:{index}")
        hit = rng.random() < self.rate
        draw = rng.random()
        garbage = b"\xff" + bytes(rng.randrange(0x80, 0xFE) for _ in range(_GARBAGE_LEN - 1))
        return WireFault(self.kind if hit else None, draw, garbage)

    def _count_damage(self) -> None:
        with self._lock:
            self.damaged += 1

    def _forget(self, *conns: socket.socket) -> None:
        with self._lock:
            self._conns.difference_update(conns)


class _Link:
    """One client connection and its upstream: requests go through, responses get damaged."""

    def __init__(self, proxy: FaultProxy, client: socket.socket, upstream: socket.socket) -> None:
        self.proxy, self.client, self.upstream = proxy, client, upstream
        self.fault = WireFault(None, 0.0, b"")
        self.generation = 0  # requests seen; a response belongs to the latest
        self.closed = False

    def requests(self) -> None:
        try:
            while data := self.client.recv(65536):
                if _METHOD.match(data):
                    self.fault = self.proxy._next_fault()
                    self.generation += 1
                self.upstream.sendall(data)
        except OSError:
            pass
        finally:
            self.close()

    def responses(self) -> None:
        seen, pending, at, sent = 0, b"", -1, 0
        try:
            while data := self.upstream.recv(65536):
                if self.generation != seen:  # the first bytes of a new response
                    seen, pending, at, sent = self.generation, b"", -1, 0
                if at < 0:
                    pending += data
                    at = _damage_at(pending, self.fault.draw)
                    if at < 0:
                        continue  # the headers are not complete yet
                    data, pending = pending, b""
                if not self._forward(data, at - sent, self.fault):
                    return
                sent += len(data)
        except OSError:
            pass
        finally:
            self.close()

    def _forward(self, data: bytes, at: int, fault: WireFault) -> bool:
        """Send `data`, whose byte `at` (may be outside it) is the damaged one; False: closed."""
        if fault.kind is None or not 0 <= at < len(data):
            self.client.sendall(data)
            return True
        # Counted when done: a damaged byte drawn past the end of a short stream damages nothing.
        self.proxy._count_damage()
        head, tail = data[:at], data[at:]
        self.client.sendall(head)
        if fault.kind == "cut":
            self.close()
            return False
        if fault.kind == "reset":
            # SO_LINGER 0: close() sends RST instead of FIN, as a crashed peer's kernel does.
            # No SHUT_WR: a FIN must not come before the reset. SHUT_RD wakes the thread
            # reading requests, whose recv() would otherwise keep the socket (and the RST) alive.
            self.client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.client.shutdown(socket.SHUT_RD)
            self.client.close()
            self.close()
            return False
        if fault.kind == "garbage":
            self.client.sendall(fault.garbage[: len(tail)] + tail[len(fault.garbage) :])
        elif fault.kind == "stall":
            time.sleep(self.proxy.stall_s)
            self.client.sendall(tail)
        else:  # split
            pieces = random.Random(fault.draw)
            while tail:
                size = pieces.randrange(1, 8)
                self.client.sendall(tail[:size])
                tail = tail[size:]
        return True

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for conn in (self.client, self.upstream):
            _shut(conn)
            conn.close()
        self.proxy._forget(self.client, self.upstream)


def _damage_at(response: bytes, draw: float) -> int:
    """The byte of the response that is damaged; -1 while its headers are incomplete."""
    end = response.find(b"\r\n\r\n")
    if end < 0:
        return -1
    body_start = end + 4
    length = _CONTENT_LENGTH.search(response[:body_start])
    span = int(length.group(1)) if length else _STREAM_SPAN
    return body_start + int(draw * max(span, 1))


def _shut(conn: socket.socket) -> None:
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
