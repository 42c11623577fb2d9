"""A streamed line's arrival is the kernel's receive time, not when the reader got round to it.

The ground truth is the server's own send: on loopback Linux stamps a packet inside the
sender's `send` call, so the stamp must fall between the clock read just before and just
after it, however late the client reads. The client here reads on purpose 300 ms late.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import pytest

from harness.engines import arrival
from harness.engines.http import SendClock, Timeouts, make_client, split_lines

pytestmark = pytest.mark.skipif(not arrival.SUPPORTED, reason="receive stamps are Linux's")

HEADERS = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"
)
READ_LATE_S = 0.3
# The stamp is moved from the wall clock to the monotonic one with a wall-clock read bracketed
# by two monotonic ones (the tightest of up to three brackets): 1 ms covers what a bracket
# cannot see, and a preempted one is retried, so the bound does not grow with the load.
SKEW_NS = 1_000_000


def chunk(line: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(line), line)


@dataclass
class Sends:
    """(perf_counter_ns before, after) each body line's send, by line."""

    spans: dict[bytes, tuple[int, int]] = field(default_factory=dict)
    changed: threading.Condition = field(default_factory=threading.Condition)
    # Set by the client once it has the headers: the body waits for it, so that no line can
    # share the headers' read however slowly the client gets to them.
    headers_read: threading.Event = field(default_factory=threading.Event)

    def record(self, line: bytes, before: int, after: int) -> None:
        with self.changed:
            self.spans[line] = (before, after)
            self.changed.notify_all()

    def wait_for(self, line: bytes) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: line in self.spans, timeout=30)


@contextmanager
def streaming_server(
    lines: list[bytes], *, with_headers: bool, gaps_s: list[float]
) -> Iterator[tuple[str, Sends]]:
    """One connection: the headers (with the first line if `with_headers`), then each line
    in a send of its own after its gap, each send's span recorded; answers as many requests
    as it is sent."""
    sends = Sends()
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def send(conn: socket.socket, data: bytes, line: bytes | None) -> None:
        before = time.perf_counter_ns()
        conn.sendall(data)
        after = time.perf_counter_ns()
        if line is not None:
            sends.record(line, before, after)

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            while True:
                request = b""
                while b"\r\n\r\n" not in request:
                    data = conn.recv(65536)
                    if not data:
                        return
                    request += data
                rest = list(zip(lines, gaps_s, strict=True))
                if with_headers:
                    send(conn, HEADERS + chunk(lines[0] + b"\n"), lines[0])
                    rest = rest[1:]
                else:
                    send(conn, HEADERS, None)
                    sends.headers_read.wait(timeout=30)
                for line, gap_s in rest:
                    time.sleep(gap_s)
                    send(conn, chunk(line + b"\n"), line)
                conn.sendall(b"0\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}", sends
    finally:
        listener.close()
        thread.join(timeout=5)


def read_late(
    url: str, sends: Sends, after: bytes, requests: int = 1
) -> list[tuple[int, bytes, int]]:
    """(arrival stamp, line, when the reader started reading) of every line, the body read
    READ_LATE_S after the server sent `after` (so however slow the machine, that line has
    been on this host's socket that long)."""
    found: list[tuple[int, bytes, int]] = []
    with make_client(url, Timeouts()) as client:
        for _ in range(requests):
            SendClock()
            with client.stream("GET", "/") as response:
                sends.headers_read.set()
                sends.wait_for(after)
                time.sleep(READ_LATE_S)
                reading = time.perf_counter_ns()
                found.extend((ns, line, reading) for ns, line in split_lines(response.iter_raw()))
    return found


@pytest.mark.parametrize(
    ("with_headers", "gaps_s"),
    [(True, [0.0, 0.05]), (False, [0.01, READ_LATE_S * 2])],
    ids=["in-the-headers-read", "alone-in-its-read"],
)
def test_a_line_read_late_keeps_the_time_it_arrived(
    with_headers: bool, gaps_s: list[float]
) -> None:
    """The first line reaches the socket long before the client reads it; the second comes
    later, on its own (in the headers' read, the first is read at once and the second late)."""
    lines = [b'{"n":1}', b'{"n":2}']
    late = 1 if with_headers else 0
    with streaming_server(lines, with_headers=with_headers, gaps_s=gaps_s) as (url, sends):
        found = read_late(url, sends, after=lines[late])
    assert [line for _, line, _ in found] == lines
    for stamp, line, _ in found:
        before, after = sends.spans[line]
        assert before - SKEW_NS <= stamp <= after + SKEW_NS, (line, before, stamp, after)
    stamp, _, reading = found[late]
    assert reading - stamp >= READ_LATE_S * 1e9 - SKEW_NS  # the old clock would say `reading`


def test_lines_taken_in_one_read_share_its_newest_packets_time() -> None:
    """The kernel gives a read the stamp of the newest packet it took: never before a line
    arrived, and still earlier than the read."""
    lines = [b'{"n":1}', b'{"n":2}']
    with streaming_server(lines, with_headers=False, gaps_s=[0.01, 0.05]) as (url, sends):
        found = read_late(url, sends, after=lines[1])
    assert [line for _, line, _ in found] == lines
    newest_before, newest_after = sends.spans[lines[1]]
    for stamp, _, reading in found:
        assert newest_before - SKEW_NS <= stamp <= newest_after + SKEW_NS
        assert stamp < reading


def test_each_request_on_a_kept_alive_connection_gets_its_own_stamps() -> None:
    lines = [b'{"n":1}']
    with streaming_server(lines, with_headers=True, gaps_s=[0.0]) as (url, sends):
        found = read_late(url, sends, after=lines[0], requests=2)
        assert len(found) == 2
        second_before, second_after = sends.spans[lines[0]]  # the later send overwrote the first
    first, second = found[0][0], found[1][0]
    assert second - first >= READ_LATE_S * 1e9 * 0.9
    assert second_before - SKEW_NS <= second <= second_after + SKEW_NS


def test_an_answer_read_without_stamps_never_takes_an_earlier_ones() -> None:
    with streaming_server([b'{"n":1}'], with_headers=True, gaps_s=[0.0]) as (url, sends):
        stamped = read_late(url, sends, after=b'{"n":1}')[0][0]

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=httpx.ByteStream(b'{"n":2}\n'))

    with make_client("http://mock", Timeouts(), httpx.MockTransport(answer)) as client:
        SendClock()
        started = time.perf_counter_ns()
        with client.stream("GET", "/") as response:
            [(ns, _)] = list(split_lines(response.iter_raw()))
    assert ns >= started > stamped


def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    """httpcore asks the stream whether an idle pooled connection is readable; a closed one
    is, and must be dropped for a new connection rather than fail the next request."""
    listener = socket.create_server(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    closed = threading.Event()

    def serve() -> None:
        for _ in range(2):  # one response per connection, then close it
            conn, _ = listener.accept()
            with conn:
                request = b""
                while b"\r\n\r\n" not in request:
                    request += conn.recv(65536)
                conn.sendall(HEADERS + chunk(b'{"n":1}\n') + b"0\r\n\r\n")
            closed.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with make_client(url, Timeouts()) as client:
            for _ in range(2):
                SendClock()
                with client.stream("GET", "/") as response:
                    assert [line for _, line in split_lines(response.iter_raw())] == [b'{"n":1}']
                # On loopback the server's close() delivers the FIN before it returns.
                assert closed.wait(timeout=30)
                closed.clear()
    finally:
        listener.close()
        thread.join(timeout=5)
