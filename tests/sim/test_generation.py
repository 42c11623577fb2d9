"""Chat and generate: streaming shapes, counters, lengths, load/unload, options, truncation."""

from __future__ import annotations

import json
from typing import Any

import httpx
import ollama
import pytest

from harness.sim import tokens
from harness.sim.server import SimServer

COUNTERS = (
    "total_duration",
    "load_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "eval_count",
    "eval_duration",
)


def _lines(http: httpx.Client, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    with http.stream("POST", path, json=body) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"] == "application/x-ndjson"
        assert resp.headers["transfer-encoding"] == "chunked"
        raw = list(resp.iter_lines())
    assert all(line for line in raw)  # no blank lines
    return [json.loads(line) for line in raw]


def test_chat_stream_shape(http: httpx.Client) -> None:
    body = {
        "model": "gemma3:4b",
        "messages": [{"role": "user", "content": "hello there"}],
        "options": {"num_predict": 5},
    }
    lines = _lines(http, "/api/chat", body)
    *chunks, final = lines
    assert len(chunks) == 5
    for chunk in chunks:
        assert chunk["done"] is False
        assert chunk["message"]["role"] == "assistant"
        assert tokens.count(chunk["message"]["content"]) == 1  # one token per chunk
    assert final["done"] is True
    assert final["done_reason"] == "length"
    assert final["message"] == {"role": "assistant", "content": ""}
    for key in COUNTERS:
        assert isinstance(final[key], int), key
    assert final["prompt_eval_count"] == 1 + (2 + 4) + 3  # BOS + message + reply opener
    assert final["eval_count"] == 5


def test_generate_stream_shape(http: httpx.Client) -> None:
    lines = _lines(
        http,
        "/api/generate",
        {"model": "gemma3:4b", "prompt": "a b c", "options": {"num_predict": 3}},
    )
    assert all("response" in line for line in lines)
    final = lines[-1]
    assert final["prompt_eval_count"] == 3 + 8
    assert isinstance(final["context"], list)


def test_raw_generate_counts_bare_tokens(client: ollama.Client) -> None:
    r = client.generate(
        model="gemma3:4b", prompt="one two three four", raw=True, options={"num_predict": 1}
    )
    assert r.prompt_eval_count == 4


def test_official_client_stream_and_not(client: ollama.Client) -> None:
    msgs = [{"role": "user", "content": "hi"}]
    parts = list(
        client.chat(model="gemma3:4b", messages=msgs, stream=True, options={"num_predict": 4})
    )
    assert parts[-1].done
    text = "".join(p.message.content or "" for p in parts)
    whole = client.chat(model="gemma3:4b", messages=msgs, options={"num_predict": 4})
    assert whole.done_reason == "length"
    assert whole.message.content == text  # same prompt, same seed: same reply
    gen = client.generate(model="gemma3:4b", prompt="hi", options={"num_predict": 2})
    assert gen.eval_count == 2


def test_default_length_stops_deterministically(client: ollama.Client) -> None:
    a = client.generate(model="gemma3:4b", prompt="tell me a story")
    b = client.generate(model="gemma3:4b", prompt="tell me a story")
    assert a.done_reason == "stop"
    assert a.eval_count is not None
    assert 16 <= a.eval_count <= 128
    assert a.response == b.response
    big = client.generate(model="gemma3:4b", prompt="tell me a story", options={"num_predict": 500})
    assert big.done_reason == "stop"
    assert big.eval_count == a.eval_count


def test_counters_match_durations(client: ollama.Client) -> None:
    r = client.generate(model="gemma3:4b", prompt="x " * 300, options={"num_predict": 10})
    assert r.total_duration is not None
    assert r.load_duration is not None
    assert r.prompt_eval_duration is not None
    assert r.eval_duration is not None
    assert r.prompt_eval_duration > 0
    assert r.eval_duration > 0
    assert r.total_duration >= r.load_duration + r.prompt_eval_duration + r.eval_duration


def test_load_and_unload(client: ollama.Client, http: httpx.Client) -> None:
    loaded = http.post("/api/generate", json={"model": "gemma3:4b"}).json()
    assert loaded["done"] is True
    assert loaded["done_reason"] == "load"
    assert loaded["response"] == ""
    assert [m.name for m in client.ps().models] == ["gemma3:4b"]
    chat = http.post("/api/chat", json={"model": "gemma3:4b", "messages": []}).json()
    assert chat["done_reason"] == "load"
    assert chat["message"] == {"role": "assistant", "content": ""}
    gone = http.post("/api/generate", json={"model": "gemma3:4b", "keep_alive": 0}).json()
    assert gone["done_reason"] == "unload"
    assert client.ps().models == []


def test_unknown_model_404(http: httpx.Client) -> None:
    resp = http.post(
        "/api/chat", json={"model": "nope", "messages": [{"role": "user", "content": "x"}]}
    )
    assert resp.status_code == 404
    assert resp.json() == {"error": "model 'nope' not found"}


def test_wrong_option_type_500(http: httpx.Client) -> None:
    resp = http.post(
        "/api/generate", json={"model": "gemma3:4b", "prompt": "x", "options": {"num_ctx": "big"}}
    )
    assert resp.status_code == 500
    assert resp.json() == {"error": 'option "num_ctx" must be of type integer'}
    resp = http.post(
        "/api/generate", json={"model": "gemma3:4b", "prompt": "x", "options": {"use_mmap": 1}}
    )
    assert resp.json() == {"error": 'option "use_mmap" must be of type boolean'}


def test_unknown_options_ignored_and_recorded(http: httpx.Client) -> None:
    resp = http.post(
        "/api/generate",
        json={
            "model": "gemma3:4b",
            "prompt": "x",
            "stream": False,
            "options": {"f16_kv": True, "batch": 8, "low_vram": True, "num_predict": 1},
        },
    )
    assert resp.status_code == 200
    ignored = http.get("/sim/state").json()["ignored_options"]
    assert ignored == {"batch": 1, "f16_kv": 1, "low_vram": 1}


def test_generate_truncation_keeps_num_keep(client: ollama.Client) -> None:
    r = client.generate(
        model="gemma3:4b", prompt="w " * 200, options={"num_ctx": 64, "num_predict": 1}
    )
    assert r.prompt_eval_count == 64


def test_chat_truncation_drops_oldest_keeps_system_and_last(client: ollama.Client) -> None:
    msgs = [{"role": "system", "content": "s " * 5}]
    msgs += [{"role": "user", "content": "u " * 20} for _ in range(5)]
    # full: 1 + 9 + 5 x 24 + 3 = 133; with num_ctx 70 only system + the last 2 fit.
    r = client.chat(model="gemma3:4b", messages=msgs, options={"num_ctx": 70, "num_predict": 1})
    assert r.prompt_eval_count == 1 + 9 + 2 * 24 + 3


def test_truncate_false_refuses(http: httpx.Client) -> None:
    resp = http.post(
        "/api/generate",
        json={
            "model": "gemma3:4b",
            "prompt": "w " * 200,
            "truncate": False,
            "options": {"num_ctx": 64},
        },
    )
    assert resp.status_code == 400
    assert resp.json() == {"error": "the input length exceeds the context length"}


def test_request_id_header_and_timeline(http: httpx.Client, server: SimServer) -> None:
    body = {"model": "gemma3:4b", "prompt": "hi", "options": {"num_predict": 4}}
    with http.stream("POST", "/api/generate", json=body) as resp:
        rid = resp.headers["X-Sim-Request-Id"]
        lines = list(resp.iter_lines())
    record = server.timeline(rid)
    assert record["path"] == "/api/generate"
    assert len(record["chunk_ns"]) == 4 == len(lines) - 1
    assert record["received_ns"] < record["first_content_ns"] == record["chunk_ns"][0]
    assert record["chunk_ns"] == sorted(record["chunk_ns"])
    assert record["done_ns"] >= record["chunk_ns"][-1]
    assert any(r["request_id"] == rid for r in server.timeline())


@pytest.mark.parametrize("bad", ["{", "[1]", ""])
def test_bad_body_400(http: httpx.Client, bad: str) -> None:
    resp = http.post("/api/chat", content=bad.encode())
    assert resp.status_code == 400
    assert "error" in resp.json()


def test_tokenizer_rule() -> None:
    assert tokens.count("hello world") == 2
    assert tokens.count("internationalization") == 3
    assert tokens.count("a, b.") == 4
    assert all(tokens.count(t) == 1 for t in tokens.filler(1, 200))
