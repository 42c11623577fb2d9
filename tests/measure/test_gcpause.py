"""The collector is off inside every open window and back on when the last one closes."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator

import pytest

from harness.measure import gcpause


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    # Back to the state found, whatever the test did: one that leaves the collector off
    # would fail an unrelated test that runs later in the same process.
    was = gc.isenabled()
    gc.enable()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def _count_collections(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A list that gets a 1 for each gc.collect() call, which then collects nothing."""
    collected: list[int] = []

    def collect(*args: object) -> int:
        collected.append(1)
        return 0

    # gcpause.gc is this same module (as gcpause.time is time): gcpause looks the function
    # up on it at each call, so patching it here is what gcpause sees.
    monkeypatch.setattr(gc, "collect", collect)
    return collected


def test_off_inside_and_back_on_after() -> None:
    with gcpause.paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_nested_windows_keep_it_off_until_the_last_closes() -> None:
    outer = gcpause.paused()
    outer.__enter__()
    with gcpause.paused():
        assert not gc.isenabled()
    assert not gc.isenabled()  # the outer window is still open
    outer.__exit__(None, None, None)
    assert gc.isenabled()


def test_overlapping_windows_in_threads() -> None:
    inside, release = threading.Barrier(3), threading.Event()
    states: list[bool] = []

    def window() -> None:
        with gcpause.paused():
            inside.wait()
            release.wait()
            states.append(gc.isenabled())

    threads = [threading.Thread(target=window) for _ in range(2)]
    for t in threads:
        t.start()
    inside.wait()
    assert not gc.isenabled()
    release.set()
    for t in threads:
        t.join()
    assert states == [False, False]  # each looked from inside its own open window
    assert gc.isenabled()


def test_a_collector_turned_off_by_the_caller_stays_off() -> None:
    gc.disable()
    with gcpause.paused():
        pass
    assert not gc.isenabled()


def test_an_exception_still_closes_the_window() -> None:
    with pytest.raises(RuntimeError), gcpause.paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_windows_held_open_too_long_collect_before_the_next_opens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    collected = _count_collections(monkeypatch)
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    with gcpause.paused():
        with gcpause.paused():
            assert collected == []  # within MAX_HOLD_S: no collection
        now[0] += gcpause.MAX_HOLD_S + 1
        with gcpause.paused():
            assert collected == [1]
            assert not gc.isenabled()


def test_held_collects_first_then_never_inside(monkeypatch: pytest.MonkeyPatch) -> None:
    collected = _count_collections(monkeypatch)
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    with gcpause.held():
        assert collected == [1]  # before the run, while nothing is timed
        assert not gc.isenabled()
        with gcpause.paused():
            now[0] += gcpause.MAX_HOLD_S + 1
            with gcpause.paused():  # would collect outside a held run, see the test above
                assert collected == [1]
        assert not gc.isenabled()
    assert gc.isenabled()
    with gcpause.paused():
        pass
    assert collected == [1]  # a plain window never collects on opening


def test_held_inside_an_open_window_does_not_collect(monkeypatch: pytest.MonkeyPatch) -> None:
    collected = _count_collections(monkeypatch)
    with gcpause.paused(), gcpause.held():
        assert not gc.isenabled()
    assert collected == []  # another thread's window may be timing: no pause inside it
    assert gc.isenabled()
