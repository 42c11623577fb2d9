"""BatchApiClient: drive any OpenAI-compatible batch server and measure what it does.

    with BatchApiClient("http://127.0.0.1:8090") as client:
        result = client.run_batch(lines)        # upload, create, poll, download
        result.req_s, result.status_s["in_progress"], result.answer_counts()

Times are the client's own (`perf_counter_ns`): the server's timestamps are whole seconds,
too coarse for a batch that takes two. A status's time runs from the poll that first saw
it to the poll that first saw the next one, so it is exact to one polling interval; the
interval starts at 50 ms and grows by half each poll up to 1 s.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from harness.batch.jsonl import CHAT_URL
from harness.errors import HarnessError
from harness.lifecycle import Closes

TERMINAL = frozenset({"completed", "failed", "cancelled", "expired"})
# The key `harness serve-batch` requires, and the one a client sends when given none.
API_KEY_ENV = "HARNESS_BATCH_API_KEY"
Record = dict[str, Any]


class BatchApiError(HarnessError):
    """The batch server answered with an error (or not at all: `status` 0)."""

    outcome = "batch_api_error"

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(f"{status}: {message}" if status else message)
        self.status, self.code = status, code


@dataclass(frozen=True)
class Poll:
    """When polling starts, how fast it slows, and how long it waits in all."""

    first_s: float = 0.05
    factor: float = 1.5
    max_s: float = 1.0
    timeout_s: float = 3600.0


@dataclass
class StatusClock:
    """Seconds spent in each status, as the polls saw them, in the order first seen."""

    seen: dict[str, float] = field(default_factory=dict)
    _current: str | None = None
    _since: int = 0

    def observe(self, status: str, now_ns: int) -> None:
        if status == self._current:
            return
        if self._current is not None:
            self.seen[self._current] += (now_ns - self._since) / 1e9
        self.seen.setdefault(status, 0.0)
        self._current, self._since = status, now_ns


@dataclass(frozen=True)
class BatchApiResult:
    """One batch, run and downloaded: the same figures as the in-process engine, plus times."""

    batch: Record
    output: list[Record]
    errors: list[Record]
    sent: int
    upload_s: float
    elapsed_s: float  # from create to a terminal status seen
    status_s: Mapping[str, float]  # seconds in validating, in_progress, finalizing, ...

    @property
    def status(self) -> str:
        return str(self.batch["status"])

    @property
    def queued_s(self) -> float:
        """Time before the server started on the batch (everything before in_progress)."""
        before = ("validating", "queued")
        return sum(s for name, s in self.status_s.items() if name in before)

    @property
    def succeeded(self) -> int:
        return len(self.output)

    @property
    def failed(self) -> int:
        return len(self.errors)

    @property
    def req_s(self) -> float | None:
        return self.succeeded / self.elapsed_s if self.elapsed_s > 0 else None

    def usage(self, key: str) -> tuple[int, ...]:
        """Per answered request, `usage[key]` of its response body (0 when absent)."""
        return tuple(int(_usage(r).get(key) or 0) for r in self.output)

    @property
    def prompt_tokens(self) -> int:
        return sum(self.usage("prompt_tokens"))

    @property
    def completion_tokens(self) -> int:
        return sum(self.usage("completion_tokens"))

    def errors_by_code(self) -> dict[str, int]:
        return dict(Counter(str((r.get("error") or {}).get("code")) for r in self.errors))

    def output_for(self, custom_id: str) -> list[Record]:
        return [r for r in self.output if r.get("custom_id") == custom_id]

    def answer_counts(self) -> Counter[str | None]:
        """How many records each custom_id got across both files (1 each when correct)."""
        return Counter(r.get("custom_id") for r in (*self.output, *self.errors))

    def figures(self) -> dict[str, Any]:
        """The summary a report or a log line shows."""
        return {
            "batch_id": self.batch["id"], "status": self.status, "sent": self.sent,
            "succeeded": self.succeeded, "failed": self.failed,
            "elapsed_s": round(self.elapsed_s, 4), "upload_s": round(self.upload_s, 4),
            "queued_s": round(self.queued_s, 4),
            "req_s": round(self.req_s, 4) if self.req_s else None,
            "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
            "errors_by_code": self.errors_by_code(),
            "status_s": {k: round(v, 4) for k, v in self.status_s.items()},
        }  # fmt: skip


def _usage(record: Record) -> Mapping[str, Any]:
    body = (record.get("response") or {}).get("body") or {}
    usage = body.get("usage") if isinstance(body, Mapping) else None
    return usage if isinstance(usage, Mapping) else {}


def request_line(custom_id: str, body: Mapping[str, Any]) -> str:
    """One input line of the batch format."""
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": CHAT_URL,
                       "body": dict(body)})  # fmt: skip


def parse_jsonl(data: bytes) -> list[Record]:
    return [json.loads(line) for line in data.splitlines() if line.strip()]


class BatchApiClient(Closes):
    """A client of one batch server (OpenAI's /v1/files and /v1/batches).

    Without `api_key`, it sends $HARNESS_BATCH_API_KEY as a bearer token when that is set,
    so the suites reach a server started with the same variable.
    """

    def __init__(self, url: str, *, api_key: str | None = None, timeout_s: float = 60.0,
                 poll: Poll | None = None) -> None:  # fmt: skip
        self.url = url.rstrip("/")
        self.poll = poll or Poll()
        api_key = api_key if api_key is not None else os.environ.get(API_KEY_ENV) or None
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=self.url, timeout=timeout_s, headers=headers)

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise BatchApiError(0, f"no batch server answers at {self.url}: {exc!r}") from exc
        if response.status_code >= 400:
            message, code = response.text, None
            try:
                error = response.json()["error"]
                message, code = error["message"], error.get("code")
            except (ValueError, KeyError, TypeError):
                pass
            raise BatchApiError(response.status_code, f"{method} {path}: {message}", code)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Record:
        data = self._call(method, path, **kwargs).json()
        if not isinstance(data, dict):
            raise BatchApiError(0, f"{method} {path}: expected a JSON object, got {data!r:.200}")
        return data

    # -- the API ---------------------------------------------------------------------------
    def upload(self, data: bytes | Path, filename: str = "batch.jsonl",
               purpose: str = "batch") -> Record:  # fmt: skip
        content = data.read_bytes() if isinstance(data, Path) else data
        files = {"file": (filename, content, "application/jsonl")}
        return self._json("POST", "/v1/files", data={"purpose": purpose}, files=files)

    def file(self, file_id: str) -> Record:
        return self._json("GET", f"/v1/files/{file_id}")

    def files(self, limit: int = 10_000, after: str | None = None,
              purpose: str | None = None) -> Record:  # fmt: skip
        """GET /v1/files: a page of file objects, newest first."""
        params: dict[str, Any] = {"limit": limit}
        params |= {k: v for k, v in (("after", after), ("purpose", purpose)) if v is not None}
        return self._json("GET", "/v1/files", params=params)

    def delete(self, file_id: str) -> Record:
        """DELETE /v1/files/{id}: `{"id", "object": "file", "deleted": true}`."""
        return self._json("DELETE", f"/v1/files/{file_id}")

    def download(self, file_id: str) -> bytes:
        return self._call("GET", f"/v1/files/{file_id}/content").content

    def records(self, file_id: str | None) -> list[Record]:
        """A result file's lines as records; none for a file the batch did not produce."""
        return parse_jsonl(self.download(file_id)) if file_id else []

    def create(self, input_file_id: str, *, endpoint: str = CHAT_URL, window: str = "24h",
               metadata: Mapping[str, str] | None = None) -> Record:  # fmt: skip
        body: Record = {"input_file_id": input_file_id, "endpoint": endpoint,
                        "completion_window": window}  # fmt: skip
        if metadata is not None:
            body["metadata"] = dict(metadata)
        return self._json("POST", "/v1/batches", json=body)

    def retrieve(self, batch_id: str) -> Record:
        return self._json("GET", f"/v1/batches/{batch_id}")

    def list(self, limit: int = 20, after: str | None = None) -> Record:
        params: dict[str, Any] = {"limit": limit} | ({"after": after} if after else {})
        return self._json("GET", "/v1/batches", params=params)

    def cancel(self, batch_id: str) -> Record:
        return self._json("POST", f"/v1/batches/{batch_id}/cancel")

    def wait(
        self,
        batch_id: str,
        clock: StatusClock | None = None,
        until: Callable[[Record], bool] | None = None,
    ) -> Record:
        """Poll with backoff until the batch is terminal (or `until(batch)`); returns it."""
        clock = clock if clock is not None else StatusClock()
        delay, deadline = self.poll.first_s, time.monotonic() + self.poll.timeout_s
        while True:
            batch = self.retrieve(batch_id)
            clock.observe(str(batch["status"]), time.perf_counter_ns())
            if batch["status"] in TERMINAL or (until is not None and until(batch)):
                return batch
            if time.monotonic() > deadline:
                raise BatchApiError(0, f"batch {batch_id} still {batch['status']!r} after "
                                    f"{self.poll.timeout_s:.0f} s")  # fmt: skip
            time.sleep(delay)
            delay = min(self.poll.max_s, delay * self.poll.factor)

    def run_batch(self, lines: Iterable[str | Mapping[str, Any]]) -> BatchApiResult:
        """Upload `lines` (JSONL text or records), run the batch, download both files."""
        texts = [ln if isinstance(ln, str) else json.dumps(dict(ln)) for ln in lines]
        data = "".join(t.rstrip("\n") + "\n" for t in texts).encode()
        started = time.perf_counter_ns()
        uploaded = self.upload(data)
        created = time.perf_counter_ns()
        batch = self.create(uploaded["id"])
        clock = StatusClock()
        clock.observe(str(batch["status"]), created)
        final = self.wait(batch["id"], clock)
        return self.result(final, len(texts), created, clock, upload_s=(created - started) / 1e9)

    def result(self, final: Record, sent: int, created_ns: int, clock: StatusClock | None = None,
               *, upload_s: float = 0.0) -> BatchApiResult:  # fmt: skip
        """A finished batch with its files downloaded; elapsed runs from `created_ns` to now."""
        ended = time.perf_counter_ns()
        return BatchApiResult(
            batch=final,
            output=self.records(final.get("output_file_id")),
            errors=self.records(final.get("error_file_id")),
            sent=sent,
            upload_s=upload_s,
            elapsed_s=(ended - created_ns) / 1e9,
            status_s=dict(clock.seen) if clock is not None else {},
        )
