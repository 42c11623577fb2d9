"""Keeping Python's cyclic garbage collector out of timed windows and bulk work.

A full collection stops every thread for milliseconds, and at 10,000 objects allocated it
can start anywhere: inside a stream between the server's write and the client's clock read
(the TTFT error at one stream had a p99 of 2.4 ms with the collector on, 1.9 ms with it off),
or a few hundred times while a 10,000-case report is built (about 45% of its CPU time).

`paused()` holds the collector off for a block; windows in several threads nest (a count),
and the collector comes back when the last one closes, so collections fall between windows.
Reference counting still frees everything that is not in a cycle. When windows overlap
without a gap for longer than `MAX_HOLD_S` (a closed loop of many streams), the next window
to open collects first, before its own clock starts: cyclic garbage stays bounded, at the
cost of one pause every `MAX_HOLD_S` that the streams already in flight may see.

`held()` is for a whole measured run (one level of a load generator): it collects first,
while nothing is being timed, then keeps the collector off until the run ends, with no
`MAX_HOLD_S` collection in between, since a level's streams overlap from its first send to
its last chunk. A run is bounded (a level's requests), so its cyclic garbage is too.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

MAX_HOLD_S = 30.0


class _Pause:
    """The shared count of open windows; one per process (the collector is per process)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.restore = False  # whether the collector was on when the first window opened
        self.since = 0.0
        self.holds = 0  # open `held()` blocks: no collection at all while any is open

    def enter(self, hold: bool = False) -> None:
        with self.lock:
            if self.depth == 0:
                self.restore = gc.isenabled()
                if hold and self.restore:
                    gc.collect()  # nothing is timed yet: the run starts with no garbage
                self.since = time.monotonic()
                gc.disable()
            elif self.restore and not self.holds and time.monotonic() - self.since > MAX_HOLD_S:
                gc.collect()
                self.since = time.monotonic()
            self.depth += 1
            self.holds += hold

    def exit(self, hold: bool = False) -> None:
        with self.lock:
            self.depth -= 1
            self.holds -= hold
            if self.depth == 0 and self.restore:
                gc.enable()


_PAUSE = _Pause()


@contextmanager
def paused() -> Iterator[None]:
    """No automatic collection inside the block (unless a caller turned it off already)."""
    _PAUSE.enter()
    try:
        yield
    finally:
        _PAUSE.exit()


@contextmanager
def held() -> Iterator[None]:
    """Collect now, then no collection at all until the block ends (a whole measured run)."""
    _PAUSE.enter(hold=True)
    try:
        yield
    finally:
        _PAUSE.exit(hold=True)
