"""An upload is bytes: lines that are not UTF-8 become per-line errors, the rest runs."""

from __future__ import annotations

import json
import random

from harness.batchapi.client import BatchApiClient
from tests.batchapi.conftest import MODEL, jsonl, lines


def test_non_utf8_lines_are_per_line_errors(client: BatchApiClient) -> None:
    good = lines("ok", 4)
    latin1 = json.dumps({"custom_id": "latin", "url": "/v1/chat/completions", "body": {
        "model": MODEL, "messages": [{"role": "user", "content": "café"}]}},
        ensure_ascii=False).encode("latin-1")  # fmt: skip
    data = jsonl(good[:2]) + b"\xff\xfe\x00\x01binary\n" + latin1 + b"\n" + jsonl(good[2:])
    file_id = client.upload(data)["id"]
    final = client.wait(client.create(file_id)["id"])
    assert final["status"] == "completed"
    assert final["request_counts"] == {"total": 6, "completed": 4, "failed": 2}
    answers = client.records(final["output_file_id"])
    errors = client.records(final["error_file_id"])
    assert sorted(r["custom_id"] for r in answers) == [f"ok-{i:05d}" for i in range(4)]
    messages = sorted(e["error"]["message"] for e in errors)
    assert messages == [
        "line 3: not UTF-8 text (byte 0xff at offset 0); the input must be JSONL encoded as UTF-8",
        f"line 4: not UTF-8 text (byte 0xe9 at offset {latin1.index(0xE9)}); the input "
        "must be JSONL encoded as UTF-8",
    ]
    assert all(e["custom_id"] is None for e in errors)


def test_a_binary_upload_completes_with_errors_not_a_failed_batch(
    client: BatchApiClient,
) -> None:
    noise = random.Random(7).randbytes(20_000)
    final = client.wait(client.create(client.upload(noise)["id"])["id"])
    assert final["status"] == "completed", final["errors"]
    counts = final["request_counts"]
    assert counts["completed"] == 0
    assert counts["failed"] == counts["total"] > 0
    errors = client.records(final["error_file_id"])
    assert len(errors) == counts["failed"]
    assert "UnicodeDecodeError" not in json.dumps(errors)
    assert all(e["error"]["message"].startswith("line ") for e in errors)
