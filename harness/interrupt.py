"""Ctrl-C ends the harness with one line and exit code 130, at any moment.

Python raises KeyboardInterrupt wherever the main thread is, and a KeyboardInterrupt that
nobody catches prints a traceback: pytest's while it loads plugins and conftests, the
`harness` command's while it imports its subcommands. Importing this module installs a
SIGINT handler (the plugin and the command import it before anything heavy) that:

- outside a run (start-up, shut-down): writes one line and exits with 130 (SystemExit, so
  `finally` blocks still run);
- during a run (`running()`): raises `Interrupted`, a KeyboardInterrupt, so every clean-up
  that handles Ctrl-C today still runs (the batch engine finishes the requests in flight,
  the plugin writes the reports of the finished cases), and pytest reports it on one line
  (it prints a location and a hint only for exceptions named KeyboardInterrupt). The plugin
  then turns pytest's exit code 2 into 130.

A SIGINT that was ignored when the process started (`nohup`, a background job) stays ignored.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

EXIT_CODE = 130
MESSAGE = "harness: interrupted"


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run; caught wherever KeyboardInterrupt is."""


class _State:
    running = 0  # nested: pytester runs a session inside the harness's own test session
    fired = False


def install() -> None:
    """Handle SIGINT as the module docstring says (main thread only; idempotent)."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        return
    signal.signal(signal.SIGINT, _handle)


def _handle(signum: int, frame: FrameType | None) -> None:
    _State.fired = True
    if _State.running:
        raise Interrupted("Ctrl-C")
    sys.stderr.write(MESSAGE + "\n")
    sys.stderr.flush()
    raise SystemExit(EXIT_CODE)


def enter() -> None:
    """A run starts: Ctrl-C raises Interrupted from here on."""
    _State.running += 1


def leave() -> None:
    _State.running = max(0, _State.running - 1)


@contextmanager
def running() -> Iterator[None]:
    enter()
    try:
        yield
    finally:
        leave()


def fired() -> bool:
    """Whether Ctrl-C arrived since the process started."""
    return _State.fired


install()
