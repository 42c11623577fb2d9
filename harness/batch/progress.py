"""The one-line progress display: done/total, req/s, ETA, trims, memory, and the trim
threshold once the adaptive limit lowered it.

Rewritten in place with a carriage return at most `min_interval_s` apart, so a batch of
tiny requests does not spend its time drawing. Only shown on a TTY or when asked for.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TextIO


def format_eta(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


class Progress:
    """Draws the progress line; `update` is cheap when it is not yet time to draw."""

    def __init__(
        self,
        stream: TextIO | None,
        total: int | None,
        *,
        min_interval_s: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.total = total
        self.min_interval_s = min_interval_s
        self._clock = clock
        self._start = clock()
        self._last_draw = -float("inf")
        self._lock = threading.Lock()
        self._width = 0
        self.threshold: int | None = None  # set when the adaptive limit lowered it

    def line(self, done: int, skipped: int, trims: int, memory: float | None) -> str:
        elapsed = max(self._clock() - self._start, 1e-9)
        rate = done / elapsed
        total = f"/{self.total - skipped}" if self.total is not None else ""
        eta = None
        if self.total is not None and rate > 0:
            eta = max(self.total - skipped - done, 0) / rate
        mem = f" mem {memory:.0%}" if memory is not None else ""
        lowered = f"  threshold {self.threshold:,} (lowered)" if self.threshold else ""
        return (
            f"{done}{total} done  {rate:.2f} req/s  ETA {format_eta(eta)}  trims {trims}{mem}"
            f"{lowered}"
        )

    def update(
        self, done: int, skipped: int, trims: int, memory: float | None, *, force: bool = False
    ) -> None:
        if self.stream is None:
            return
        now = self._clock()
        if not force and now - self._last_draw < self.min_interval_s:
            return
        with self._lock:
            self._last_draw = now
            text = self.line(done, skipped, trims, memory)
            pad = " " * max(self._width - len(text), 0)
            self._width = len(text)
            self.stream.write(f"\r{text}{pad}")
            self.stream.flush()

    def message(self, text: str) -> None:
        """A line of its own above the progress line (which the next update redraws)."""
        if self.stream is None:
            return
        with self._lock:
            self.stream.write(f"\r{text}{' ' * max(self._width - len(text), 0)}\n")
            self._width = 0
            self.stream.flush()

    def finish(self) -> None:
        if self.stream is not None and self._width:
            self.stream.write("\n")
            self.stream.flush()
