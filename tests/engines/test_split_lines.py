"""Lines out of a byte stream, each stamped when its last byte arrived, however it is cut."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

import pytest

from harness.engines import http


def stamped(reads: list[bytes], monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, bytes]]:
    """split_lines over `reads`, with the clock returning the index of the read."""
    ticks = iter(range(len(reads) + 1))
    with monkeypatch.context() as patch:
        # With no socket stamps (a plain iterator), split_lines's clock, arrival.arrived_ns,
        # reads time.perf_counter_ns from the time module itself.
        patch.setattr(time, "perf_counter_ns", lambda: next(ticks))
        return list(http.split_lines(iter(reads)))


def reference(reads: list[bytes]) -> Iterator[tuple[int, bytes]]:
    """The plain definition: buffer everything, split on newlines, skip blank lines."""
    pending = b""
    for tick, data in enumerate(reads):
        pending += data
        *lines, pending = pending.split(b"\n")
        yield from ((tick, line) for line in lines if line.strip())
    if pending.strip():
        yield len(reads), pending


@pytest.mark.parametrize(
    "reads",
    [
        [b'{"a":1}\n', b'{"b":2}\n'],  # one line per read, as Ollama writes
        [b'{"a"', b":1}\n"],  # a line cut in two
        [b'{"a":1}\n{"b"', b":2}\n\n", b"   \n", b'{"c":3}'],  # several, blank, no final newline
        [b"data: x\r\n", b"\r\n", b"\n"],  # SSE: the \r stays, blank lines go
        [b"\n", b"", b"x"],
    ],
)
def test_same_lines_and_stamps_as_the_plain_definition(
    reads: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert stamped(reads, monkeypatch) == list(reference(reads))


def test_random_cuts_of_a_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(7)
    stream = b"".join(b'{"n":%d}\n' % i + (b"\n" if i % 5 == 0 else b"") for i in range(200))
    for _ in range(50):
        cuts = sorted(rng.sample(range(1, len(stream)), 40))
        reads = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
        assert stamped(reads, monkeypatch) == list(reference(reads))
