"""Ollama's native API: streamed `/api/chat` timed on the client, plus the model endpoints."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import httpx

from harness import errors
from harness.engines.base import (
    ContextControl,
    LoadedModel,
    LoadResult,
    MemoryAccounting,
    Message,
    ModelTag,
    ServerCounters,
    StreamMeasurement,
)
from harness.engines.http import (
    SendClock,
    Timeouts,
    classify_server_error,
    error_text,
    make_client,
    raise_for_status,
    split_lines,
    transport_errors,
)
from harness.engines.retry import CONTROL_RETRY, RetryPolicy
from harness.measure.gcpause import paused


class OllamaEngine:
    """A client of one Ollama server (or the simulator, which speaks the same API).

    Core plus every capability: Catalogue, ModelDetails, LoadControl, ServerMemory.
    """

    kind = "ollama"
    memory_accounting: MemoryAccounting = "server"
    context_control: ContextControl = "per_request"

    def __init__(
        self,
        base_url: str,
        timeouts: Timeouts | None = None,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy = CONTROL_RETRY,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = make_client(self.base_url, timeouts or Timeouts(), transport)
        self._retry = retry

    def close(self) -> None:
        self._client.close()

    def _json(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        url = f"{self.base_url}{path}"
        with transport_errors(url):
            response = self._client.request(method, path, json=body)
        raise_for_status(response.status_code, error_text(response.content), url)
        try:
            return response.json()
        except ValueError as exc:
            raise errors.MalformedChunk(f"{url} answered with non-JSON: {exc}") from exc

    def _control(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """A request that changes nothing measured, so a transient fault is retried."""
        return self._retry.call(lambda: self._json(method, path, body))

    def version(self) -> str:
        return str(self._control("GET", "/api/version").get("version", "unknown"))

    def check(self) -> None:
        self.version()

    def tags(self) -> list[ModelTag]:
        return [
            ModelTag(
                name=m["name"],
                size=int(m.get("size", 0)),
                digest=str(m.get("digest", "")),
                details=m.get("details") or {},
            )
            for m in self._control("GET", "/api/tags").get("models", [])
        ]

    def show(self, model: str) -> dict[str, Any]:
        result: dict[str, Any] = self._control("POST", "/api/show", {"model": model})
        return result

    def ps(self) -> list[LoadedModel]:
        return [
            LoadedModel(
                name=m["name"],
                size=int(m.get("size", 0)),
                size_vram=int(m.get("size_vram", 0)),
                context_length=m.get("context_length"),
                digest=str(m.get("digest", "")),
                expires_at=m.get("expires_at"),
            )
            for m in self._control("GET", "/api/ps").get("models", [])
        ]

    def load(
        self,
        model: str,
        options: Mapping[str, Any] | None = None,
        keep_alive: float | str | None = None,
    ) -> LoadResult:
        """Load with an empty prompt (Ollama answers done_reason "load")."""
        body: dict[str, Any] = {"model": model, "stream": False, "options": dict(options or {})}
        if keep_alive is not None:
            body["keep_alive"] = keep_alive
        start = time.perf_counter_ns()
        payload = self._json("POST", "/api/generate", body)
        return LoadResult(
            model=model,
            done_reason=payload.get("done_reason"),
            load_duration_ns=payload.get("load_duration"),
            wall_ns=time.perf_counter_ns() - start,
        )

    def unload(self, model: str) -> None:
        body = {"model": model, "keep_alive": 0, "stream": False}
        self._control("POST", "/api/generate", body)  # unloading twice is harmless

    def chat(
        self,
        model: str,
        messages: Sequence[Message],
        *,
        options: Mapping[str, Any] | None = None,
        keep_alive: float | str | None = None,
        truncate: bool | None = None,
    ) -> StreamMeasurement:
        body: dict[str, Any] = {
            "model": model,
            "messages": list(messages),
            "stream": True,
            "options": dict(options or {}),
        }
        if keep_alive is not None:
            body["keep_alive"] = keep_alive
        if truncate is not None:
            body["truncate"] = truncate
        url = f"{self.base_url}/api/chat"
        # No garbage collection between the send and the last chunk: a full collection
        # stalls every thread for milliseconds, and would be counted as server time.
        sent = SendClock()  # stamps when the request starts going out, not before building it
        with (
            paused(),
            transport_errors(url),
            self._client.stream("POST", "/api/chat", json=body, extensions={"trace": sent}) as resp,
        ):
            if resp.status_code >= 400:
                raise_for_status(resp.status_code, error_text(resp.read()), url)
            lines = split_lines(resp.iter_raw())
            measured = _read_chat_stream(model, sent.ns, lines, url)
            # Read the rest (the chunked terminator) so the connection goes back to the
            # pool instead of being dropped mid-response; the timing is already taken.
            for _ in lines:
                pass
            return measured


def _read_chat_stream(
    model: str, sent: int, lines: Iterator[tuple[int, bytes]], url: str
) -> StreamMeasurement:
    first_byte: int | None = None
    chunk_ns: list[int] = []
    parts: list[str] = []
    # Bound once: this loop runs per chunk, at up to ~50,000 chunks/s on a fast stream.
    loads, stamp, keep = json.loads, chunk_ns.append, parts.append
    for arrived, line in lines:
        if first_byte is None:
            first_byte = arrived
        try:
            chunk = loads(line)
        except ValueError as exc:
            raise errors.MalformedChunk(
                f"{url} sent a line that is not JSON: {line[:80]!r}"
            ) from exc
        if "error" in chunk:
            text = str(chunk["error"])
            if errors.looks_like_oom(text):
                raise classify_server_error(f"{text} (mid-stream from {url})")
            raise errors.ErrorLine(f"{text} (mid-stream from {url})")
        message = chunk.get("message")
        content = (message.get("content") if message else None) or chunk.get("response")
        if content:
            stamp(arrived)
            keep(content)
        if chunk.get("done"):
            return StreamMeasurement(
                model=model,
                sent_ns=sent,
                first_byte_ns=first_byte,
                first_content_ns=chunk_ns[0] if chunk_ns else None,
                end_ns=arrived,
                chunk_ns=tuple(chunk_ns),
                done_reason=chunk.get("done_reason"),
                counters=ServerCounters(
                    total_duration_ns=chunk.get("total_duration"),
                    load_duration_ns=chunk.get("load_duration"),
                    prompt_eval_count=chunk.get("prompt_eval_count"),
                    prompt_eval_duration_ns=chunk.get("prompt_eval_duration"),
                    eval_count=chunk.get("eval_count"),
                    eval_duration_ns=chunk.get("eval_duration"),
                ),
                text="".join(parts),
            )
    raise errors.StreamIncomplete(f"{url}: the stream ended without its done chunk")
