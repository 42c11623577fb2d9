"""The OpenAI-compatible endpoints: /v1/models and /v1/chat/completions."""

from __future__ import annotations

import json

import httpx

BODY = {"model": "gemma3:4b", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}


def test_models_list(http: httpx.Client) -> None:
    data = http.get("/v1/models").json()
    assert data["object"] == "list"
    ids = {m["id"]: m for m in data["data"]}
    assert ids["gemma3:4b"]["owned_by"] == "library"
    assert ids["orieg/gemma3-tools:27b-it-qat"]["owned_by"] == "orieg"


def test_stream_with_usage(http: httpx.Client) -> None:
    body = {**BODY, "stream": True, "stream_options": {"include_usage": True}}
    with http.stream("POST", "/v1/chat/completions", json=body) as resp:
        assert resp.headers["content-type"] == "text/event-stream"
        events = [line for line in resp.iter_lines() if line]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(e[6:]) for e in events[:-1]]
    content = [c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")]
    assert len(content) == 4
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    usage = chunks[-1]
    assert usage["choices"] == []
    assert usage["usage"]["completion_tokens"] == 4
    assert usage["usage"]["total_tokens"] == usage["usage"]["prompt_tokens"] + 4
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}


def test_stream_without_usage(http: httpx.Client) -> None:
    with http.stream("POST", "/v1/chat/completions", json={**BODY, "stream": True}) as resp:
        events = [line for line in resp.iter_lines() if line]
    assert not any('"usage"' in e for e in events)


def test_not_streamed(http: httpx.Client) -> None:
    data = http.post("/v1/chat/completions", json=BODY).json()
    assert data["object"] == "chat.completion"
    choice = data["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert choice["finish_reason"] == "length"
    assert data["usage"]["completion_tokens"] == 4


def test_errors_in_openai_shape(http: httpx.Client) -> None:
    resp = http.post("/v1/chat/completions", json={**BODY, "model": "nope"})
    assert resp.status_code == 404
    error = resp.json()["error"]
    assert error["message"] == "model 'nope' not found"
    assert error["type"] == "not_found_error"
    resp = http.post("/v1/chat/completions", content=b"{")
    assert resp.status_code == 400
    assert resp.json()["error"]["type"] == "invalid_request_error"
