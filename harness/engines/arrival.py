"""When the bytes of an answer reached this machine: the kernel's receive time of each read.

A streamed answer's arrival used to be the clock read when Python got the bytes, which is
late by however long the reading thread waited for a core or for the GIL: 1-10 ms at 64
concurrent streams on 2 cores (issue 21), more than the difference between two server
settings a sweep is meant to tell apart. Linux stamps every packet as it is received
(SO_TIMESTAMPNS) and hands the stamp of the newest packet a read consumed to `recvmsg`, so
the arrival no longer depends on when the reader was scheduled.

`StampingTransport` is httpx's own transport over a connection pool whose sockets read with
`recvmsg`; each read leaves its stamp in a per-thread slot, because an engine reads a
streamed answer on the thread that sent it. `arrived_ns()` is what the stream parser reads:
that stamp, converted to `time.perf_counter_ns()` (the clock every other timing in the
harness uses), or the clock itself where there is no stamp (another platform, a TLS
connection, a test's mock transport, a stamp from before `forget()`).
"""

from __future__ import annotations

import select
import socket
import struct
import sys
import threading
import time
import typing

import httpcore
import httpx

# Linux's value on the 64-bit architectures this runs on (asm-generic, x86-64, arm64); its
# control message is a struct timespec, two longs. Python's socket module does not name it.
SO_TIMESTAMPNS = 35
_TIMESPEC = struct.Struct("@ll")
_ANCILLARY_BYTES = socket.CMSG_SPACE(_TIMESPEC.size) if hasattr(socket, "CMSG_SPACE") else 0
# A stamp this far before its read is not believed (a wall clock stepped between the two).
_MAX_AGE_NS = 60 * 1_000_000_000

SUPPORTED = sys.platform == "linux" and struct.calcsize("l") == 8 and _ANCILLARY_BYTES > 0

_slot = threading.local()


def forget() -> None:
    """Drop this thread's stamp: called as a request starts, so that a response read by
    other means (a mock transport, TLS) never takes the arrival of an earlier one."""
    _slot.ns = None


def arrived_ns() -> int:
    """When the bytes this thread read last reached the machine, on perf_counter_ns's clock.

    Lines parsed from one read share that read's stamp: the newest packet it took, which is
    when the client could first have seen them all.
    """
    stamp: int | None = getattr(_slot, "ns", None)
    now = time.perf_counter_ns()
    if stamp is None or stamp > now:
        return now
    return stamp


def _wall_minus_monotonic_ns() -> int:
    """time_ns() - perf_counter_ns() now, from a wall-clock read bracketed by two monotonic
    ones: a thread preempted between two reads would shift the offset by the preemption, so
    the tightest of up to three brackets is kept (one, unless a bracket is over 20 us)."""
    best: tuple[int, int] | None = None
    for _ in range(3):
        before = time.perf_counter_ns()
        wall = time.time_ns()
        after = time.perf_counter_ns()
        if best is None or after - before < best[0]:
            best = (after - before, wall - (before + after) // 2)
        if after - before < 20_000:
            break
    assert best is not None
    return best[1]


def _note(realtime_ns: int) -> None:
    # The kernel stamps with the wall clock; moving it to the monotonic clock here, right after
    # the read, keeps any slewing of the wall clock since then to microseconds.
    stamp = realtime_ns - _wall_minus_monotonic_ns()
    _slot.ns = stamp if 0 <= time.perf_counter_ns() - stamp <= _MAX_AGE_NS else None


class _StampingStream(httpcore.NetworkStream):
    """httpcore's plain TCP stream, read with recvmsg so each read carries the kernel's stamp."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner
        self._sock: socket.socket = inner.get_extra_info("socket")

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            self._sock.settimeout(timeout)
            data, ancillary, _flags, _address = self._sock.recvmsg(max_bytes, _ANCILLARY_BYTES)
        except TimeoutError as exc:
            raise httpcore.ReadTimeout(exc) from exc
        except OSError as exc:
            raise httpcore.ReadError(exc) from exc
        # A read the kernel gave no stamp must not keep the previous read's: its lines would
        # look older than they are.
        _slot.ns = None
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                seconds, nanoseconds = _TIMESPEC.unpack_from(payload)
                _note(seconds * 1_000_000_000 + nanoseconds)
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: typing.Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        # An SSL socket cannot recvmsg: a TLS connection is read, and timed, as before.
        return self._inner.start_tls(ssl_context, server_hostname, timeout)

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "is_readable":
            # What httpcore asks of an idle pooled connection: readable means the server
            # closed it (or sent something unasked), so it must not be reused. poll, not
            # select: select cannot take a descriptor above 1023, which a long batch's
            # process may well have.
            poller = select.poll()
            poller.register(self._sock, select.POLLIN)
            return bool(poller.poll(0))
        return self._inner.get_extra_info(info)


class _StampingBackend(httpcore.NetworkBackend):
    """httpcore's own synchronous backend, with receive stamps switched on for each socket."""

    def __init__(self) -> None:
        self._plain = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._plain.connect_tcp(host, port, timeout, local_address, socket_options)
        try:
            inner.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        except OSError:
            return inner  # a kernel without receive stamps: timed as before
        return _StampingStream(inner)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        return self._plain.connect_unix_socket(path, timeout, socket_options)

    def sleep(self, seconds: float) -> None:
        self._plain.sleep(seconds)


class StampingTransport(httpx.HTTPTransport):
    """httpx's transport (its error mapping, its pool settings) over the stamping backend.

    httpx does not take a network backend, so the pool it built is replaced by the same pool
    with ours; tests/engines/test_arrival.py fails if a new httpx stops reading through it.
    """

    def __init__(self, limits: httpx.Limits) -> None:
        super().__init__(limits=limits)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_StampingBackend(),
        )


def transport(limits: httpx.Limits) -> httpx.HTTPTransport:
    """The transport the engines read answers through: stamping where the platform can."""
    return StampingTransport(limits) if SUPPORTED else httpx.HTTPTransport(limits=limits)
