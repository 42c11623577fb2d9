"""Engine parsing against recorded byte streams, and error mapping per the protocol."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from harness import errors
from harness.engines import create_engine
from harness.engines.ollama import OllamaEngine
from harness.engines.openai import OpenAIEngine

RECORDED = Path(__file__).parent / "recorded"
MESSAGES = [{"role": "user", "content": "Why is the sky blue?"}]


def replay(
    status: int, body: bytes, content_type: str = "application/x-ndjson"
) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        # A stream, not `content=`: httpx reads `content` at once, and the engine must stream.
        return httpx.Response(
            status, stream=httpx.ByteStream(body), headers={"content-type": content_type}
        )

    return httpx.MockTransport(handler)


def ollama(status: int, body: bytes) -> OllamaEngine:
    return OllamaEngine("http://ollama.test", transport=replay(status, body))


def test_ollama_stream_gives_counters_and_content_timing() -> None:
    engine = ollama(200, (RECORDED / "ollama_chat.ndjson").read_bytes())
    got = engine.chat("gemma3:12b", MESSAGES)
    assert got.text == "The sky is blue."
    assert got.done_reason == "stop"
    assert len(got.chunk_ns) == 3  # the empty first and last chunks carry no content
    assert got.first_byte_ns is not None
    assert got.first_content_ns is not None
    assert got.sent_ns <= got.first_byte_ns <= got.first_content_ns <= got.end_ns
    assert got.counters.prompt_eval_count == 26
    assert got.counters.eval_duration_ns == 4535599000
    # eval_duration spans the 281 decode steps after the first of 282 tokens
    assert got.counters.decode_tok_s == pytest.approx(281 / 4.535599)
    assert got.counters.prompt_tok_s == pytest.approx(26 / 0.342546)


def test_openai_sse_gives_usage_and_finish_reason() -> None:
    body = (RECORDED / "openai_chat.sse").read_bytes()
    engine = OpenAIEngine("http://vllm.test", transport=replay(200, body, "text/event-stream"))
    got = engine.chat("gemma3:12b", MESSAGES, options={"num_predict": 2})
    assert got.text == "The sky"
    assert got.done_reason == "length"
    assert got.counters.prompt_eval_count == 26
    assert got.counters.eval_count == 2
    assert got.counters.eval_duration_ns is None  # not reported by the protocol: not invented


def test_openai_request_maps_options_and_asks_for_usage() -> None:
    seen: list[httpx.Request] = []
    body = (RECORDED / "openai_chat.sse").read_bytes()

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, stream=httpx.ByteStream(body))

    engine = OpenAIEngine("http://vllm.test", transport=httpx.MockTransport(handler))
    engine.chat("m", MESSAGES, options={"num_predict": 7, "temperature": 0.0, "num_ctx": 4096})
    import json

    sent = json.loads(seen[0].content)
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["max_tokens"] == 7
    assert sent["temperature"] == 0.0
    assert "num_ctx" not in sent


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (404, b'{"error":"model \'nope\' not found"}', errors.ModelNotFound),
        (
            503,
            b'{"error":"server busy, please try again.  maximum pending requests exceeded"}',
            errors.ServerBusy,
        ),
        (400, b'{"error":"the input length exceeds the context length"}', errors.RequestRejected),
        (
            500,
            b'{"error":"model requires more system memory (20.1 GiB) '
            b'than is available (15.2 GiB)"}',
            errors.OutOfMemory,
        ),
        (
            500,
            b'{"error":"llama runner process has terminated: cudaMalloc failed: out of memory"}',
            errors.OutOfMemory,
        ),
        (
            500,
            b'{"error":"timed out waiting for llama runner to start - progress 0.00 - "}',
            errors.LoadTimeout,
        ),
        (500, b'{"error":"option \\"num_ctx\\" must be of type integer"}', errors.ServerError),
    ],
)
def test_http_errors_become_typed_exceptions(
    status: int, body: bytes, expected: type[errors.EngineError]
) -> None:
    with pytest.raises(expected) as info:
        ollama(status, body).chat("m", MESSAGES)
    assert info.type is expected
    assert info.value.status == status


CRASH = "model runner has unexpectedly stopped, this may be due to resource limitations"

STREAM_FAULTS: list[tuple[bytes, type[errors.EngineError], str]] = [
    (
        b'{"message":{"content":"a"},"done":false}\n{"error":"' + CRASH.encode() + b'"}\n',
        errors.ErrorLine,
        "unexpectedly stopped",
    ),
    (b'{"message":{"content":"a"},"done":false}\n', errors.StreamIncomplete, "without its done"),
    (
        b'{"message":{"content":"a"},"done":false}\nnot json at all\n',
        errors.MalformedChunk,
        "not JSON",
    ),
    (
        b'{"message":{"content":"a"},"done":false}\n{"error":"CUDA error: out of memory"}\n',
        errors.OutOfMemory,
        "out of memory",
    ),
]


@pytest.mark.parametrize(("body", "expected", "text"), STREAM_FAULTS)
def test_broken_streams_become_typed_exceptions(
    body: bytes, expected: type[errors.EngineError], text: str
) -> None:
    with pytest.raises(expected, match=text):
        ollama(200, body).chat("m", MESSAGES)


def raising(exc: Callable[[httpx.Request], Exception]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc(request)

    return httpx.MockTransport(handler)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda r: httpx.ConnectError("refused", request=r), errors.ServerUnreachable),
        (lambda r: httpx.ReadTimeout("slow", request=r), errors.RequestTimeout),
        (lambda r: httpx.RemoteProtocolError("peer closed", request=r), errors.StreamIncomplete),
    ],
)
def test_transport_failures_become_typed_exceptions(
    make: Callable[[httpx.Request], Exception], expected: type[errors.EngineError]
) -> None:
    engine = OllamaEngine("http://ollama.test", transport=raising(make))
    with pytest.raises(expected, match=r"ollama\.test"):
        engine.chat("m", MESSAGES)


def test_unknown_engine_lists_known_kinds() -> None:
    with pytest.raises(errors.ConfigError, match="known engines: ollama, openai, sim"):
        create_engine("tgi", "http://x")


def test_openai_sse_skips_comments_and_other_fields_but_not_damaged_lines() -> None:
    good = (RECORDED / "openai_chat.sse").read_bytes()
    extra = b": keep-alive\n\nevent: message\nid: 7\nretry: 100\n\n"
    engine = OpenAIEngine(
        "http://vllm.test", transport=replay(200, extra + good, "text/event-stream")
    )
    assert engine.chat("gemma3:12b", MESSAGES).text == "The sky"
    # A garbled `data:` prefix must not drop its chunk silently and leave a whole-looking answer.
    garbled = good.replace(b"data:", b"d\xff\x8ea:", 2)
    engine = OpenAIEngine("http://vllm.test", transport=replay(200, garbled, "text/event-stream"))
    with pytest.raises(errors.MalformedChunk, match="not an SSE field"):
        engine.chat("gemma3:12b", MESSAGES)
