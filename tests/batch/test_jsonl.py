from __future__ import annotations

import json
from collections.abc import Iterator

from harness.batch.jsonl import BatchRequest, LineError, count_lines, read_requests
from tests.batch.fakes import request_line


def test_each_malformed_line_becomes_an_error_naming_its_line() -> None:
    lines = [
        request_line(0),
        "{not json",
        json.dumps({"method": "POST", "url": "/v1/chat/completions", "body": {}}),
        request_line(0),  # duplicate custom_id
        json.dumps({"custom_id": "x", "url": "/v1/embeddings", "body": {"messages": []}}),
        json.dumps({"custom_id": "y", "url": "/v1/chat/completions", "body": {"model": "m"}}),
        "",
        request_line(1),
    ]
    items = list(read_requests(lines))
    assert [type(i).__name__ for i in items] == [
        "BatchRequest", "LineError", "LineError", "LineError", "LineError", "LineError",
        "BatchRequest",
    ]  # fmt: skip
    errors = [i for i in items if isinstance(i, LineError)]
    assert [e.line for e in errors] == [2, 3, 4, 5, 6]
    assert "not valid JSON" in errors[0].message
    assert "missing custom_id" in errors[1].message
    assert "duplicate custom_id 'c0'" in errors[2].message
    assert "/v1/embeddings" in errors[3].message
    assert "no messages" in errors[4].message
    assert all(e.message.startswith(f"line {e.line}:") for e in errors)
    last = items[-1]
    assert isinstance(last, BatchRequest)
    assert last.line == 8
    assert last.system_prompt is not None
    assert last.params["max_tokens"] == 2


def test_reading_is_lazy() -> None:
    produced = 0

    def lines() -> Iterator[str]:
        nonlocal produced
        for i in range(10**9):
            produced += 1
            yield request_line(i)

    reader = read_requests(lines())
    first = [next(reader) for _ in range(5)]
    assert len(first) == 5
    assert produced == 5  # a billion-line generator was not materialised


def test_count_lines_without_trailing_newline(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "x.jsonl"
    path.write_text("a\nb\nc")
    assert count_lines(path) == 3
