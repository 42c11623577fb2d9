"""The OpenAI engine's judgement of answers and contexts, on scripted servers."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from harness import errors
from harness.engines.openai import OpenAIEngine, has_content
from harness.measure.procedure import _context_block


def _sse(*contents: str, usage: dict[str, int] | None = None) -> bytes:
    events: list[dict[str, Any]] = [
        {"choices": [{"delta": {"role": "assistant"}, "finish_reason": None}]}
    ]
    events += [{"choices": [{"delta": {"content": c}, "finish_reason": None}]} for c in contents]
    events.append({"choices": [{"delta": {}, "finish_reason": "stop"}]})
    if usage:
        events.append({"choices": [], "usage": usage})
    lines = [f"data: {json.dumps(e)}\n\n" for e in events] + ["data: [DONE]\n\n"]
    return "".join(lines).encode()


def _server(stream: bytes, unstreamed_usage: dict[str, int] | None = None) -> OpenAIEngine:
    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content or b"{}")
        if request.url.path == "/v1/chat/completions" and body.get("stream"):
            headers = {"content-type": "text/event-stream"}
            # A stream, not `content=`: httpx reads `content` at once; the engine streams.
            return httpx.Response(200, stream=httpx.ByteStream(stream), headers=headers)
        if request.url.path == "/v1/chat/completions":
            return httpx.Response(200, json={"choices": [], "usage": unstreamed_usage or {}})
        return httpx.Response(404, json={"error": "no such path"})

    return OpenAIEngine("http://server.test", transport=httpx.MockTransport(handle))


@pytest.mark.parametrize("text", ["", "  \n", "<end_of_turn>", "<|im_end|>\n<|im_start|>"])
def test_empty_or_template_only_answers_are_failed_requests(text: str) -> None:
    engine = _server(_sse(text) if text else _sse())
    with pytest.raises(errors.EmptyAnswer, match="no content"):
        engine.chat("m", [{"role": "user", "content": "hi"}])
    assert not has_content(text)


def test_prompt_tokens_are_the_servers_own_usage_with_the_template() -> None:
    # A stream without usage (llama-cpp-python): the count comes from the server's usage of
    # the same messages, template included (69), not the tokenizer's count of the text (55).
    engine = _server(_sse("Hello", " there"), unstreamed_usage={"prompt_tokens": 69})
    got = engine.chat("m", [{"role": "user", "content": "hi"}])
    assert got.counters.prompt_eval_count == 69
    assert got.counters.eval_count == 2


def _props_server(props: dict[str, Any] | None) -> OpenAIEngine:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/props" and props is not None:
            return httpx.Response(200, json=props)
        if request.url.path == "/v1/models":
            return httpx.Response(200, json={"data": [{"id": "m"}]})
        return httpx.Response(404)

    return OpenAIEngine("http://server.test", transport=httpx.MockTransport(handle))


def test_a_context_the_harness_cannot_set_is_said_with_the_servers_own() -> None:
    engine = _props_server({"default_generation_settings": {"n_ctx": 2048}})
    assert _context_block(engine, 4096) == {
        "requested": 4096,
        "set_by_harness": False,
        "server_context": 2048,
    }
    silent = _props_server(None)
    assert _context_block(silent, 4096)["server_context"] is None
