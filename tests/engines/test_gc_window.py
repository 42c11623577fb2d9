"""No garbage collection inside a measured stream: the collector is off until the last chunk."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator

import httpx
import pytest

from harness.engines.ollama import OllamaEngine
from harness.engines.openai import OpenAIEngine

seen: list[bool] = []


class Recording(httpx.SyncByteStream):
    """Yields the body line by line, noting whether the collector was on at each."""

    def __init__(self, lines: list[bytes]) -> None:
        self.lines = lines

    def __iter__(self) -> Iterator[bytes]:
        for line in self.lines:
            seen.append(gc.isenabled())
            yield line


def ollama(request: httpx.Request) -> httpx.Response:
    chunks = [{"message": {"content": "hi"}, "done": False},
              {"message": {"content": ""}, "done": True, "eval_count": 1}]  # fmt: skip
    body = [json.dumps(c).encode() + b"\n" for c in chunks]
    return httpx.Response(200, stream=Recording(body))


def openai(request: httpx.Request) -> httpx.Response:
    chunks = [{"choices": [{"delta": {"content": "hi"}}]},
              {"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1}}]  # fmt: skip
    body = [b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks] + [b"data: [DONE]\n\n"]
    return httpx.Response(200, stream=Recording(body))


@pytest.mark.parametrize(
    ("engine_type", "handler"), [(OllamaEngine, ollama), (OpenAIEngine, openai)]
)
def test_the_collector_is_off_while_the_stream_is_read(engine_type: type, handler: object) -> None:
    seen.clear()
    assert gc.isenabled()
    engine = engine_type("http://server", transport=httpx.MockTransport(handler))  # type: ignore[arg-type]
    try:
        got = engine.chat("m", [{"role": "user", "content": "x"}])
    finally:
        engine.close()
    assert got.text == "hi"
    assert seen
    assert not any(seen)
    assert gc.isenabled()  # and back on afterwards
