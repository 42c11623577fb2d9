"""The `with` mixins: what they call, and that the block's exception is not swallowed."""

from __future__ import annotations

import pytest

from harness.lifecycle import Closes, Runs


class _Closing(Closes):
    def __init__(self) -> None:
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


class _Running(Runs):
    def __init__(self) -> None:
        self.calls: list[str] = []

    def start(self) -> None:
        self.calls.append("start")

    def stop(self) -> None:
        self.calls.append("stop")


def test_closes_returns_itself_and_closes_once_however_the_block_ends() -> None:
    with _Closing() as ok:
        assert ok.closed == 0
    assert ok.closed == 1
    failing = _Closing()
    with pytest.raises(KeyError), failing:
        raise KeyError("boom")
    assert failing.closed == 1


def test_runs_starts_on_entry_and_stops_on_exit_even_when_interrupted() -> None:
    running = _Running()
    with running as entered:
        assert entered is running
        assert running.calls == ["start"]
    assert running.calls == ["start", "stop"]
    interrupted = _Running()
    with pytest.raises(KeyboardInterrupt), interrupted:
        raise KeyboardInterrupt
    assert interrupted.calls == ["start", "stop"]
