"""A scriptable fake engine and batch-line helpers for the batch engine's tests."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.engines.base import ServerCounters, StreamMeasurement

SYSTEM = "You score candidates from 1 to 10. Answer with the number only."


class FakeEngine:
    """Answers every chat at once; `faults` maps a user text to exceptions to raise first."""

    kind = "ollama"
    base_url = "http://fake"

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.calls: list[list[dict[str, Any]]] = []
        self.faults: dict[str, list[Exception]] = {}
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()

    def chat(
        self, model: str, messages: Sequence[Mapping[str, Any]], **kwargs: Any
    ) -> StreamMeasurement:
        with self._lock:
            self.calls.append([dict(m) for m in messages])
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            pending = self.faults.get(str(messages[-1].get("content")))
            fault = pending.pop(0) if pending else None
        try:
            if self.delay_s:
                time.sleep(self.delay_s)
            if fault is not None:
                raise fault
            chars = sum(len(str(m.get("content", ""))) for m in messages)
            now = time.perf_counter_ns()
            return StreamMeasurement(
                model=model, sent_ns=now, first_byte_ns=now, first_content_ns=now, end_ns=now,
                chunk_ns=(now,), done_reason="stop",
                counters=ServerCounters(prompt_eval_count=chars // 3 + 4 * len(messages),
                                        prompt_eval_duration_ns=1000, eval_count=1,
                                        eval_duration_ns=1000),
                text="7",
            )  # fmt: skip
        finally:
            with self._lock:
                self.active -= 1

    def close(self) -> None:
        return None


def request_line(i: int, model: str | None = "m", user: str | None = None) -> str:
    body: dict[str, Any] = {
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": user or f"candidate {i}"},
        ],
        "max_tokens": 2,
    }
    if model:
        body["model"] = model
    return json.dumps(
        {"custom_id": f"c{i}", "method": "POST", "url": "/v1/chat/completions", "body": body}
    )


def read_out(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
