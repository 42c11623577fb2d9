"""The factory behind the `batch_engine` fixture, and the suite's uncached-rate probe.

    engine = make_batch_engine(engine, strategy="conversation", concurrency=2)
    summary = engine.run(requests, MemorySink())

`settings` are BatchSettings fields, plus `trim_strategy`, `trim_interval`,
`trim_threshold`, `keep_messages` and `memory_warning` for the ContextSettings, and
`memory` (a MemoryProbe) for trimming on memory and peak-memory figures.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from harness.batch.context import ContextSettings
from harness.batch.executor import BatchEngine, BatchSettings
from harness.batch.memory import MemoryProbe
from harness.engines.base import Engine
from harness.errors import ConfigError

_CONTEXT_KEYS = {
    "trim_strategy": "strategy",
    "trim_interval": "trim_interval",
    "trim_threshold": "trim_threshold",
    "keep_messages": "keep_messages",
    "memory_warning": "memory_warning",
}


def make_batch_engine(engine: Engine, **settings: Any) -> BatchEngine:
    """A BatchEngine over `engine`; unknown setting names fail with the known ones."""
    memory: MemoryProbe | None = settings.pop("memory", None)
    context = {_CONTEXT_KEYS[k]: settings.pop(k) for k in list(settings) if k in _CONTEXT_KEYS}
    known = {f.name for f in fields(BatchSettings)}
    unknown = sorted(set(settings) - known)
    if unknown:
        allowed = ", ".join(sorted(known | set(_CONTEXT_KEYS) | {"memory"}))
        raise ConfigError(f"unknown batch setting(s) {unknown}; known: {allowed}")
    if context:
        settings["context"] = ContextSettings(**context)
    return BatchEngine(engine, BatchSettings(**settings), memory=memory)


class MemorySink:
    """A RecordSink that keeps nothing but counts (and, if asked, the records)."""

    def __init__(self, keep: bool = False) -> None:
        self.records: list[Mapping[str, Any]] = []
        self.trims: list[Mapping[str, Any]] = []
        self.count = 0
        self._keep = keep
        self._lock = threading.Lock()

    def write(self, record: Mapping[str, Any]) -> None:
        with self._lock:
            self.count += 1
            if self._keep:
                self.records.append(record)

    def write_trim(self, event: Mapping[str, Any]) -> None:
        with self._lock:
            self.trims.append(event)


def uncached_prompt_rate(
    engine: Engine, model: str, system: str, options: Mapping[str, Any]
) -> float | None:
    """Prompt tokens/s of a prompt the server cannot have cached (a fresh nonce first).

    Ollama's prompt_eval_count includes the cached prefix while prompt_eval_duration covers
    only what was processed; this rate turns a duration back into processed tokens.
    """
    nonce = secrets.token_hex(8)
    messages = [
        {"role": "system", "content": f"[{nonce}] {system}"},
        {"role": "user", "content": f"calibration {nonce}"},
    ]
    m = engine.chat(model, messages, options={**options, "num_predict": 1}, keep_alive=-1)
    return m.counters.prompt_tok_s
