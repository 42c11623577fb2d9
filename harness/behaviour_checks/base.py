"""What every server-behaviour check shares: its settings, its result, and small probes.

A check drives one model on the server under test and answers with a `Finding`: passed,
failed (with a sentence that says what the server did wrong), or skipped (the check cannot
judge, e.g. the model reloaded between the turns a prefix-cache check needs). Checks time
everything on the client's clock; `time_scale` (the simulator's speed) only converts the
figures they report into the server's time, never the comparisons they make.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from harness.engines.base import (
    NS_PER_S,
    Engine,
    LoadControl,
    LoadedModel,
    ServerMemory,
    StreamMeasurement,
)
from harness.measure.prompts import PromptBuilder, TokenCalibration, calibrate

DEFAULT_MODEL = "qwen2.5:3b-instruct"


@runtime_checkable
class ControlledServer(Engine, LoadControl, ServerMemory, Protocol):
    """What most checks drive: a server that loads and unloads on request and reports what
    it holds (Ollama, the simulator). Checks of a server without these cannot judge."""


@dataclass(frozen=True)
class BehaviourSettings:
    """Which model the checks drive and how; `num_parallel` None means "not declared"."""

    model: str = DEFAULT_MODEL
    num_ctx: int = 2048  # small: reload, truncation and keep_alive checks
    cache_num_ctx: int = 16384  # the prefix-cache check needs prefill long enough to time
    num_parallel: int | None = None
    kv_type: str = "f16"
    time_scale: float = 1.0
    unload_wait_s: float = 3.0  # a real server unloads asynchronously, within about a second


@dataclass(frozen=True)
class Finding:
    """The outcome of one check. `passed` None means it could not judge (a skip)."""

    passed: bool | None
    message: str
    details: dict[str, Any] = field(default_factory=dict)


def ok(message: str, **details: Any) -> Finding:
    return Finding(True, message, details)


def wrong(message: str, **details: Any) -> Finding:
    return Finding(False, message, details)


def cannot_judge(message: str, **details: Any) -> Finding:
    return Finding(None, message, details)


def loaded(engine: ServerMemory, model: str) -> LoadedModel | None:
    """The `/api/ps` entry of `model` (an implied `:latest` matches), or None."""
    for entry in engine.ps():
        if entry.name in (model, f"{model}:latest") or entry.name.removesuffix(":latest") == model:
            return entry
    return None


def wait_for(predicate: Callable[[], bool], timeout_s: float, poll_s: float = 0.05) -> bool:
    """Poll `predicate` until it holds or `timeout_s` passes; its last answer."""
    deadline = time.monotonic() + timeout_s
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll_s)


def unload(engine: ControlledServer, settings: BehaviourSettings) -> bool:
    """Unload the model and wait until `/api/ps` no longer lists it."""
    engine.unload(settings.model)
    return wait_for(lambda: loaded(engine, settings.model) is None, settings.unload_wait_s)


def seconds(ns: int | None, settings: BehaviourSettings) -> float | None:
    """A server or client duration in the server's time (x time_scale)."""
    return None if ns is None else ns * settings.time_scale / NS_PER_S


def ttft_ns(got: StreamMeasurement) -> int:
    first = got.first_content_ns if got.first_content_ns is not None else got.end_ns
    return first - got.sent_ns


def calibrated(engine: Engine, settings: BehaviourSettings, num_ctx: int) -> TokenCalibration:
    """Template overhead and tokens per word of the model, from two short requests."""
    return calibrate(engine, settings.model, {"num_ctx": num_ctx}, PromptBuilder(seed=7))


def expires_in_s(entry: LoadedModel) -> float | None:
    """Seconds until `/api/ps` says the model expires (None when it gives no time)."""
    if not entry.expires_at:
        return None
    text = entry.expires_at.replace("Z", "+00:00")
    # Go prints nanoseconds; Python's fromisoformat takes at most microseconds.
    head, dot, tail = text.partition(".")
    if dot:
        digits = tail[: len(tail) - len(tail.lstrip("0123456789"))]
        text = f"{head}.{digits[:6]}{tail[len(digits) :]}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (moment - datetime.now(UTC)).total_seconds()
