"""measure_cell when the server fails: the cell ends with a verdict and a one-line reason."""

from __future__ import annotations

import json

import httpx

from harness.engines.ollama import OllamaEngine
from harness.engines.retry import RetryPolicy
from harness.matrix.cells import Cell, CellSettings
from harness.measure.procedure import measure_cell


def _server(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/api/generate":
        return httpx.Response(200, json={"done_reason": "load", "load_duration": 1000})
    if request.url.path == "/api/ps":
        return httpx.Response(200, json={"models": []})
    body = json.dumps({"error": "llama runner process has terminated:\n  exit status 2\n"})
    return httpx.Response(500, content=body.encode())


def test_a_multi_line_server_error_becomes_a_one_line_reason() -> None:
    engine = OllamaEngine(
        "http://ollama.test",
        transport=httpx.MockTransport(_server),
        retry=RetryPolicy(max_attempts=1),
    )
    cell = Cell("m", "gemma3:4b", 4096, CellSettings(repeats=2, num_predict=8), marks=())
    outcome = measure_cell(engine, cell)
    case = outcome.case
    assert case["verdict"] == "error"
    assert case["reason"].startswith("server_error while loading: llama runner process")
    assert "\n" not in case["reason"]
    assert "exit status 2" in case["reason"]
    assert case["samples"] == []  # nothing that failed is counted as a measurement
