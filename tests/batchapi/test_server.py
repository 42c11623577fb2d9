"""The client against the harness's own server: every route, errors, cancel, pagination."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from harness.batchapi.client import BatchApiClient, BatchApiError, Poll
from harness.batchapi.server import BatchApiServer
from tests.batchapi.conftest import MODEL, jsonl, lines


def test_run_batch_answers_every_line_in_openai_format(client: BatchApiClient) -> None:
    sent = lines("ok", 40)
    result = client.run_batch([*sent, "not json"])
    assert result.status == "completed"
    assert result.batch["request_counts"] == {"total": 41, "completed": 40, "failed": 1}
    assert sorted(r["custom_id"] for r in result.output) == [f"ok-{i:05d}" for i in range(40)]
    record = result.output[0]
    assert set(record) >= {"id", "custom_id", "response", "error"}
    assert record["response"]["status_code"] == 200
    assert record["response"]["body"]["usage"]["prompt_tokens"] > 0
    (error,) = result.errors
    assert error["error"]["message"].startswith("line 41: not valid JSON")
    assert result.prompt_tokens == sum(result.usage("prompt_tokens")) > 0
    assert result.completion_tokens == 80
    assert result.req_s is not None
    assert result.req_s > 0
    assert set(result.status_s) >= {"validating", "completed"}
    figures = result.figures()
    assert figures["succeeded"] == 40
    assert figures["errors_by_code"] == {"invalid_request": 1}
    for stamp in ("created_at", "in_progress_at", "finalizing_at", "completed_at"):
        assert isinstance(result.batch[stamp], int)


def test_files_round_trip(client: BatchApiClient) -> None:
    data = jsonl(lines("f", 3))
    uploaded = client.upload(data, filename="mine.jsonl")
    assert uploaded["object"] == "file"
    assert uploaded["purpose"] == "batch"
    assert client.file(uploaded["id"])["filename"] == "mine.jsonl"
    assert client.download(uploaded["id"]) == data


@pytest.mark.parametrize(
    ("call", "status", "message"),
    [
        (lambda c: c.file("file-nope"), 404, "No such File object: 'file-nope'"),
        (lambda c: c.download("file-nope"), 404, "No such File object"),
        (lambda c: c.retrieve("batch_nope"), 404, "No such Batch object: 'batch_nope'"),
        (lambda c: c.cancel("batch_nope"), 404, "No such Batch object"),
        (lambda c: c.upload(b"{}\n", purpose="fine-tune"), 400, "purpose 'fine-tune'"),
        (lambda c: c.create("file-nope"), 400, "input_file_id 'file-nope' is not an uploaded"),
        (lambda c: c.create(c.upload(b"{}\n")["id"], endpoint="/v1/embeddings"), 400,
         "endpoint '/v1/embeddings' is not supported"),
        (lambda c: c.create(c.upload(b"{}\n")["id"], window="1h"), 400,
         "completion_window '1h'"),
        (lambda c: c.list(limit=0), 400, "limit '0' must be an integer from 1 to 100"),
        (lambda c: c.list(after="batch_nope"), 400, "after 'batch_nope' is not a batch id"),
    ],
)  # fmt: skip
def test_errors_name_the_problem(
    client: BatchApiClient, call: Callable[[BatchApiClient], object], status: int, message: str
) -> None:
    with pytest.raises(BatchApiError, match=message) as info:
        call(client)
    assert info.value.status == status


def test_malformed_multipart_is_an_openai_error(client: BatchApiClient) -> None:
    with httpx.Client(base_url=client.url) as http:
        response = http.post(
            "/v1/files",
            content=b"--x\r\nbroken",
            headers={"Content-Type": "multipart/form-data; boundary=x"},
        )
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error"
        assert error["message"].startswith("malformed multipart upload: multipart body is not")
        # The connection stays usable after an error.
        assert http.get("/v1/batches/batch_nope").status_code == 404
        response = http.post("/v1/files", files={"file": ("x.jsonl", b"{}")})
        assert response.json()["error"]["message"].startswith("purpose None is not supported")
        assert http.get("/v1/nowhere").json()["error"]["code"] == "unknown_url"


def test_list_pages_with_limit_and_after(client: BatchApiClient) -> None:
    file_id = client.upload(jsonl(lines("p", 1)))["id"]
    ids = [client.create(file_id)["id"] for _ in range(5)]
    seen, after = [], None
    while True:
        page = client.list(limit=2, after=after)
        seen += [b["id"] for b in page["data"]]
        if not page["has_more"]:
            break
        after = page["last_id"]
    assert seen == ids[::-1]
    for batch_id in ids:
        assert client.wait(batch_id)["status"] == "completed"


def test_cancel_mid_batch_keeps_what_finished(
    start_server: Callable[..., BatchApiServer],
) -> None:
    server = start_server(concurrency=1)
    with BatchApiClient(server.url, poll=Poll(first_s=0.01, timeout_s=60)) as client:
        sent = lines("c", 2000, words=30)
        batch = client.create(client.upload(jsonl(sent))["id"])
        client.wait(batch["id"], until=lambda b: b["request_counts"]["completed"] >= 5)
        assert client.cancel(batch["id"])["status"] in ("cancelling", "cancelled")
        final = client.wait(batch["id"])
        assert final["status"] == "cancelled"
        assert final["cancelling_at"] is not None
        assert final["cancelled_at"] is not None
        done = client.records(final["output_file_id"])
        assert 5 <= len(done) < 2000
        assert final["request_counts"]["completed"] == len(done)
        assert max(Counter(r["custom_id"] for r in done).values()) == 1
        with pytest.raises(BatchApiError, match="is cancelled; only a validating") as info:
            client.cancel(batch["id"])
        assert info.value.status == 409


def test_cancel_of_a_completed_batch_is_refused(client: BatchApiClient) -> None:
    result = client.run_batch(lines("d", 2))
    with pytest.raises(BatchApiError, match="is completed") as info:
        client.cancel(result.batch["id"])
    assert info.value.code == "batch_not_cancellable"


def test_a_stopped_server_resumes_on_the_same_data_dir(
    start_server: Callable[..., BatchApiServer], tmp_path: Path
) -> None:
    data = tmp_path / "resume"
    first = start_server(data_dir=data, concurrency=1)
    sent = lines("r", 1500, words=30)
    with BatchApiClient(first.url) as client:
        batch = client.create(client.upload(jsonl(sent))["id"])
        client.wait(batch["id"], until=lambda b: b["request_counts"]["completed"] >= 20)
    first.stop()
    second = start_server(data_dir=data)
    with BatchApiClient(second.url, poll=Poll(timeout_s=120)) as client:
        before = client.retrieve(batch["id"])
        assert before["status"] in ("in_progress", "finalizing", "completed")
        final = client.wait(batch["id"])
        done = client.records(final["output_file_id"])
    assert final["status"] == "completed"
    assert Counter(r["custom_id"] for r in done) == Counter(f"r-{i:05d}" for i in range(1500))
    assert final["request_counts"] == {"total": 1500, "completed": 1500, "failed": 0}


def test_an_over_long_prompt_fails_explicitly(client: BatchApiClient) -> None:
    text = " ".join(["word"] * 6000)  # over the simulator's default num_ctx of 4096
    body = {"model": MODEL, "messages": [{"role": "user", "content": text}]}
    line = json.dumps({"custom_id": "long", "url": "/v1/chat/completions", "body": body})
    result = client.run_batch([line])
    (error,) = result.errors
    assert error["custom_id"] == "long"
    assert error["error"]["code"] == "rejected"
    assert result.output == []
