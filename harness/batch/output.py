"""OpenAI batch output records, appended crash-safely, and what a resume must skip.

One line per request: `{"id", "custom_id", "response": {"status_code", "request_id",
"body": <chat.completion>}, "error": null}` or `{"response": null, "error": {"code",
"message"}}`. A `harness` key beside them carries timings and context sizes; OpenAI readers
ignore unknown keys.

Each line goes out in one `write` and is flushed at once, so a SIGKILL loses at most the
line being written; `fsync` runs every `sync_every_s` (0: after every line) so a power cut
loses no more than that window either. On open, a torn last line is cut off.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from harness.engines.base import StreamMeasurement
from harness.errors import ConfigError
from harness.lifecycle import Closes


def done_key(record: Mapping[str, Any]) -> str | None:
    """What identifies a finished input line: its custom_id, or its line number for an
    invalid line (which may have no custom_id, or share one with an earlier line)."""
    error = record.get("error")
    if isinstance(error, dict) and isinstance(error.get("line"), int):
        return f"line:{error['line']}"
    custom_id = record.get("custom_id")
    return custom_id if isinstance(custom_id, str) else None


def success_record(
    custom_id: str, model: str, measurement: StreamMeasurement, extra: Mapping[str, Any]
) -> dict[str, Any]:
    counters = measurement.counters
    prompt = counters.prompt_eval_count or 0
    completion = counters.eval_count or 0
    body = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": measurement.text},
                "finish_reason": "length" if measurement.done_reason == "length" else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }
    return {
        "id": f"batch_req_{uuid.uuid4().hex[:24]}",
        "custom_id": custom_id,
        "response": {
            "status_code": 200,
            "request_id": f"req_{uuid.uuid4().hex[:24]}",
            "body": body,
        },
        "error": None,
        "harness": dict(extra),
    }


def error_record(
    custom_id: str | None,
    code: str,
    message: str,
    *,
    line: int | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if line is not None:
        error["line"] = line
    record: dict[str, Any] = {
        "id": f"batch_req_{uuid.uuid4().hex[:24]}",
        "custom_id": custom_id,
        "response": None,
        "error": error,
    }
    if extra:
        record["harness"] = dict(extra)
    return record


def recover(path: Path, errors: Counter[str] | None = None) -> set[str]:
    """Done keys of an existing output; a torn or unparsable last line is truncated away.

    `errors`, when given, counts the error records already there by code: a resumed run
    skips their requests but must still report them.
    """
    if not path.exists():
        return set()
    done: set[str] = set()
    good_end = 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            complete = raw.endswith(b"\n")
            try:
                record = json.loads(raw) if complete else None
            except ValueError:
                record = None
            if not isinstance(record, dict):
                if complete and handle.read(1):
                    raise ConfigError(
                        f"{path}:{number}: not a JSON record; this is not a batch output file "
                        "(choose another --out, or remove it to start over)"
                    )
                break  # the torn last line of a killed run
            key = done_key(record)
            if key is not None:
                done.add(key)
                if errors is not None and isinstance(record.get("error"), dict):
                    errors[str(record["error"].get("code"))] += 1
            good_end += len(raw)
    if good_end < path.stat().st_size:
        with path.open("r+b") as handle:
            handle.truncate(good_end)
    return done


class OutputWriter(Closes):
    """Appends records to OUT (and trim events to OUT.trims.jsonl); thread-safe."""

    def __init__(self, path: Path, *, sync_every_s: float = 0.0) -> None:
        self.path = path
        self.trims_path = trims_path(path)
        self.sync_every_s = sync_every_s
        self.earlier_errors: Counter[str] = Counter()
        self.done = recover(path, self.earlier_errors)
        recover_trims(self.trims_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._out: IO[str] = path.open("a", encoding="utf-8")
        self._trims: IO[str] | None = None
        self._lock = threading.Lock()
        self._last_sync = time.monotonic()

    def write(self, record: Mapping[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":"), default=str) + "\n"
        with self._lock:
            self._append(self._out, line)

    def write_trim(self, event: Mapping[str, Any]) -> None:
        line = json.dumps(event, separators=(",", ":")) + "\n"
        with self._lock:
            if self._trims is None:
                self._trims = self.trims_path.open("a", encoding="utf-8")
            self._append(self._trims, line)

    def _append(self, handle: IO[str], line: str) -> None:
        handle.write(line)
        handle.flush()
        now = time.monotonic()
        if now - self._last_sync >= self.sync_every_s:
            os.fsync(handle.fileno())
            self._last_sync = now

    def close(self) -> None:
        with self._lock:
            for handle in (self._out, self._trims):
                if handle is not None and not handle.closed:
                    handle.flush()
                    os.fsync(handle.fileno())
                    handle.close()


def trims_path(out: Path) -> Path:
    return out.with_name(out.name + ".trims.jsonl")


def recover_trims(path: Path) -> None:
    """Cut a torn last line off the trims sidecar, as `recover` does for the output."""
    if not path.exists():
        return
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with path.open("r+b") as handle:
            handle.truncate(end)
