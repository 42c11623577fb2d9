"""Byte formats of a generation: Ollama chat, Ollama generate, and OpenAI chat completions.

The server's streaming loop is the same for all three; a Format turns one content token,
the final counters, or an error into the bytes of its protocol. Each chunk is one small
`json.dumps`, so the time between a token and its write stays in microseconds.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Protocol

from harness.sim.catalog import now_rfc3339

CRASH = (
    "model runner has unexpectedly stopped, this may be due to resource limitations or an "
    "internal error, check ollama server logs for details"
)


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


class Format(Protocol):
    content_type: str

    def chunk(self, text: str) -> bytes: ...

    def final(self, reason: str, counters: dict[str, Any]) -> bytes: ...

    def error(self, message: str) -> bytes: ...

    def whole(self, text: str, reason: str, counters: dict[str, Any]) -> dict[str, Any]: ...

    def error_body(self, status: int, message: str) -> dict[str, Any]: ...


class OllamaChat:
    content_type = "application/x-ndjson"

    def __init__(self, model: str) -> None:
        self.model = model

    def _base(self, text: str, done: bool) -> dict[str, Any]:
        return {
            "model": self.model,
            "created_at": now_rfc3339(),
            "message": {"role": "assistant", "content": text},
            "done": done,
        }

    def chunk(self, text: str) -> bytes:
        return dumps(self._base(text, False)) + b"\n"

    def final(self, reason: str, counters: dict[str, Any]) -> bytes:
        return dumps({**self._base("", True), "done_reason": reason, **counters}) + b"\n"

    def error(self, message: str) -> bytes:
        return dumps({"error": message}) + b"\n"

    def whole(self, text: str, reason: str, counters: dict[str, Any]) -> dict[str, Any]:
        return {**self._base(text, True), "done_reason": reason, **counters}

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return {"error": message}


class OllamaGenerate(OllamaChat):
    def __init__(self, model: str, context: list[int] | None) -> None:
        super().__init__(model)
        self.context = context

    def _base(self, text: str, done: bool) -> dict[str, Any]:
        return {"model": self.model, "created_at": now_rfc3339(), "response": text, "done": done}

    def final(self, reason: str, counters: dict[str, Any]) -> bytes:
        return dumps(self.whole("", reason, counters)) + b"\n"

    def whole(self, text: str, reason: str, counters: dict[str, Any]) -> dict[str, Any]:
        extra = {"context": self.context} if self.context is not None else {}
        return {**self._base(text, True), "done_reason": reason, **extra, **counters}


def openai_error(status: int, message: str) -> dict[str, Any]:
    kind = {400: "invalid_request_error", 404: "not_found_error"}.get(status, "api_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


class OpenAIChat:
    """Ollama's OpenAI compatibility layer (openai/openai.go) for /v1/chat/completions."""

    content_type = "text/event-stream"

    def __init__(self, model: str, include_usage: bool) -> None:
        self.model = model
        self.include_usage = include_usage
        self.id = f"chatcmpl-{uuid.uuid4().int % 1000}"
        self.created = int(time.time())

    def _chunk(self, delta: dict[str, Any], reason: str | None) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_ollama",
            "choices": [{"index": 0, "delta": delta, "finish_reason": reason}],
        }

    def chunk(self, text: str) -> bytes:
        return (
            b"data: " + dumps(self._chunk({"role": "assistant", "content": text}, None)) + (b"\n\n")
        )

    def final(self, reason: str, counters: dict[str, Any]) -> bytes:
        out = b"data: " + dumps(self._chunk({"role": "assistant", "content": ""}, reason))
        out += b"\n\n"
        if self.include_usage:
            usage = {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "system_fingerprint": "fp_ollama",
                "choices": [],
                "usage": _usage(counters),
            }
            out += b"data: " + dumps(usage) + b"\n\n"
        return out + b"data: [DONE]\n\n"

    def error(self, message: str) -> bytes:
        return b"data: " + dumps(openai_error(500, message)) + b"\n\n"

    def whole(self, text: str, reason: str, counters: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_ollama",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": reason,
                }
            ],
            "usage": _usage(counters),
        }

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return openai_error(status, message)


def _usage(counters: dict[str, Any]) -> dict[str, int]:
    prompt = int(counters.get("prompt_eval_count", 0))
    completion = int(counters.get("eval_count", 0))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def openai_to_ollama(body: dict[str, Any]) -> dict[str, Any]:
    """Translate an OpenAI chat request into the native one (as openai.go does)."""
    options: dict[str, Any] = {}
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    if limit is not None:
        options["num_predict"] = limit
    for key in ("temperature", "top_p", "seed", "frequency_penalty", "presence_penalty"):
        if body.get(key) is not None:
            options[key] = body[key]
    stop = body.get("stop")
    if stop is not None:
        options["stop"] = [stop] if isinstance(stop, str) else stop
    return {
        "model": body.get("model"),
        "messages": body.get("messages") or [],
        "options": options,
        "stream": bool(body.get("stream", False)),
    }
