"""Any OpenAI-compatible server: streamed `/v1/chat/completions` (SSE) timed on the client.

Such servers report token counts (with `stream_options.include_usage`) but no durations, so
decode and prompt rates here come from the client's clock; the counters' duration fields stay
None rather than being invented.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

import httpx

from harness import errors
from harness.engines.base import (
    ContextControl,
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

# Ollama option names -> OpenAI request fields; the rest cannot be expressed per request.
_OPTION_FIELDS = {
    "num_predict": "max_tokens",
    "temperature": "temperature",
    "top_p": "top_p",
    "seed": "seed",
    "stop": "stop",
}


class OpenAIEngine:
    """A client of an OpenAI-compatible server (llama.cpp's server, vLLM, LM Studio, Ollama /v1).

    Core plus Catalogue (/v1/models) and ServerContext. The API has no model details, no
    load or unload and no memory figures, so this engine does not claim them: callers
    test for them and say what they did instead (`harness.engines.loading`).
    """

    kind = "openai"
    context_control: ContextControl = "none"

    def __init__(
        self,
        base_url: str,
        timeouts: Timeouts | None = None,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy = CONTROL_RETRY,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = make_client(self.base_url, timeouts or Timeouts(), transport)
        self._server_context: tuple[int | None] | None = None  # asked once, see server_context
        self._retry = retry

    def close(self) -> None:
        self._client.close()

    def version(self) -> str:
        return "unknown"  # the OpenAI API has no version endpoint

    def check(self) -> None:
        self.tags()

    def tags(self) -> list[ModelTag]:
        # A control request: nothing is measured, so a transient fault is retried.
        return self._retry.call(self._models)

    def _models(self) -> list[ModelTag]:
        url = f"{self.base_url}/v1/models"
        with transport_errors(url):
            response = self._client.get("/v1/models")
        raise_for_status(response.status_code, error_text(response.content), url)
        try:
            listed = response.json().get("data", [])
        except ValueError as exc:
            raise errors.MalformedChunk(f"{url} answered with non-JSON: {exc}") from exc
        return [ModelTag(name=m["id"], size=0, digest="") for m in listed]

    def server_context(self) -> int | None:
        """The context the server was started with, where it tells: vLLM's `max_model_len`
        in /v1/models, llama.cpp's `n_ctx` in /props; None for servers that do not say.

        Asked once per engine: such a server keeps its context until it restarts, and every
        cell of a run would otherwise ask again."""
        if self._server_context is None:
            self._server_context = (self._ask_server_context(),)
        return self._server_context[0]

    def _ask_server_context(self) -> int | None:
        for path, keys in (
            ("/v1/models", ("data", 0, "max_model_len")),
            ("/props", ("default_generation_settings", "n_ctx")),
        ):
            try:
                response = self._client.get(path)
                value: Any = response.json() if response.status_code == 200 else None
            except (httpx.HTTPError, ValueError):
                continue
            for key in keys:
                value = _step(value, key)
            if isinstance(value, int) and value > 0:
                return value
        return None

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
            "stream_options": {"include_usage": True},
        }
        for key, value in (options or {}).items():
            if key in _OPTION_FIELDS:
                body[_OPTION_FIELDS[key]] = value
        url = f"{self.base_url}/v1/chat/completions"
        # No garbage collection between the send and the last chunk: a full collection
        # stalls every thread for milliseconds, and would be counted as server time.
        sent = SendClock()  # stamps when the request starts going out, not before building it
        with (
            paused(),
            transport_errors(url),
            self._client.stream(
                "POST", "/v1/chat/completions", json=body, extensions={"trace": sent}
            ) as resp,
        ):
            if resp.status_code >= 400:
                raise_for_status(resp.status_code, error_text(resp.read()), url)
            lines = split_lines(resp.iter_raw())
            measured = _read_sse(model, sent.ns, lines, url)
            # Read the rest (the chunked terminator) so the connection goes back to the
            # pool instead of being dropped mid-response; the timing is already taken.
            for _ in lines:
                pass
        if not has_content(measured.text):
            raise errors.EmptyAnswer(
                f"{url} finished ({measured.done_reason!r}) with no content but "
                f"{measured.text[:60]!r}: an empty answer is a failed request"
            )
        return self._with_counts(measured, model, messages)

    def _with_counts(
        self, measured: StreamMeasurement, model: str, messages: Sequence[Message]
    ) -> StreamMeasurement:
        """Fill token counts a server left out of its stream, after the timing is taken.

        llama-cpp-python's server ignores `stream_options.include_usage`: completion tokens
        are then its content chunks (it sends one token per chunk) and prompt tokens come
        from its tokenize endpoint, counting the messages' text (no chat template).
        """
        counters = measured.counters
        if counters.prompt_eval_count is not None and counters.eval_count is not None:
            return measured
        prompt = counters.prompt_eval_count
        if prompt is None:
            prompt = self._server_prompt_tokens(model, messages)
        if prompt is None:
            prompt = self._count_tokens(model, messages)
        completion = counters.eval_count
        if completion is None:
            completion = len(measured.chunk_ns)
        filled = replace(counters, prompt_eval_count=prompt, eval_count=completion)
        return replace(measured, counters=filled)

    def _server_prompt_tokens(self, model: str, messages: Sequence[Message]) -> int | None:
        """The server's own `usage.prompt_tokens` for these messages, template included.

        Asked with the same messages unstreamed and one token to generate: the server has
        just evaluated this prompt, so its prefix cache answers it at once (llama-cpp-python
        reuses the longest common prefix), and the measured stream is already timed.
        """
        body = {"model": model, "messages": list(messages), "max_tokens": 1, "stream": False}
        try:
            response = self._client.post("/v1/chat/completions", json=body)
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        usage = response.json().get("usage") or {}
        tokens = usage.get("prompt_tokens")
        return int(tokens) if isinstance(tokens, int) else None

    def _count_tokens(self, model: str, messages: Sequence[Message]) -> int | None:
        text = "\n".join(str(m.get("content", "")) for m in messages)
        for path, body, key in (
            (
                "/extras/tokenize/count",
                {"input": text, "model": model},
                "count",
            ),  # llama-cpp-python
            ("/tokenize", {"content": text}, "tokens"),  # llama.cpp's llama-server
        ):
            try:
                response = self._client.post(path, json=body)
            except httpx.HTTPError:
                continue
            if response.status_code == 200:
                value = response.json().get(key)
                return len(value) if isinstance(value, list) else int(value)
        return None


def _step(value: Any, key: str | int) -> Any:
    if isinstance(key, int):
        return value[key] if isinstance(value, list) and len(value) > key else None
    return value.get(key) if isinstance(value, dict) else None


# Special tokens a template wraps turns in (<end_of_turn>, <|im_end|>, </s>): an answer made
# of nothing else said nothing.
_TEMPLATE_ONLY = re.compile(r"(?:\s|<\|?/?[A-Za-z_][\w.-]{0,40}\|?>)*")


def has_content(text: str) -> bool:
    """True when an answer holds more than whitespace and template tokens."""
    return _TEMPLATE_ONLY.fullmatch(text) is None


def _read_sse(
    model: str, sent: int, lines: Iterator[tuple[int, bytes]], url: str
) -> StreamMeasurement:
    first_byte: int | None = None
    chunk_ns: list[int] = []
    parts: list[str] = []
    finish: str | None = None
    usage: Mapping[str, Any] = {}
    for arrived, line in lines:
        if first_byte is None:
            first_byte = arrived
        if not line.startswith(b"data:"):
            _check_sse_line(line, url)
            continue  # SSE comments and event names carry nothing we measure
        data = line[5:].strip()
        if data == b"[DONE]":
            return StreamMeasurement(
                model=model,
                sent_ns=sent,
                first_byte_ns=first_byte,
                first_content_ns=chunk_ns[0] if chunk_ns else None,
                end_ns=arrived,
                chunk_ns=tuple(chunk_ns),
                done_reason=finish,
                counters=ServerCounters(
                    prompt_eval_count=usage.get("prompt_tokens"),
                    eval_count=usage.get("completion_tokens"),
                ),
                text="".join(parts),
            )
        try:
            chunk = json.loads(data)
        except ValueError as exc:
            raise errors.MalformedChunk(
                f"{url} sent an SSE event that is not JSON: {data[:80]!r}"
            ) from exc
        if "error" in chunk:
            text = error_text(data)
            if errors.looks_like_oom(text):
                raise classify_server_error(f"{text} (mid-stream from {url})")
            raise errors.ErrorLine(f"{text} (mid-stream from {url})")
        usage = chunk.get("usage") or usage
        for choice in chunk.get("choices") or ():
            content = (choice.get("delta") or {}).get("content")
            if content:
                chunk_ns.append(arrived)
                parts.append(content)
            finish = choice.get("finish_reason") or finish
    raise errors.StreamIncomplete(f"{url}: the SSE stream ended without data: [DONE]")


# Fields of an SSE line other than `data` (which carries the chunks); a line starting with
# ":" is a comment.
_OTHER_SSE_FIELDS = (b"event", b"id", b"retry")


def _check_sse_line(line: bytes, url: str) -> None:
    """A line that is neither a comment nor an SSE field is a damaged stream, not one to skip:
    skipping it could drop a content chunk (a garbled `data:`) and count the rest as whole."""
    field = line.split(b":", 1)[0].strip()
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        field = b"?"
    if line.startswith(b":") or field in _OTHER_SSE_FIELDS:
        return
    raise errors.MalformedChunk(f"{url} sent a line that is not an SSE field: {line[:80]!r}")
