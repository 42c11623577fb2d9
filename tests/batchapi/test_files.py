"""GET /v1/files lists the uploads and outputs; DELETE /v1/files/{id} removes one."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness.batchapi.client import BatchApiClient, BatchApiError, Poll
from harness.batchapi.server import BatchApiServer
from tests.batchapi.conftest import jsonl, lines


def test_list_pages_newest_first_and_filters_by_purpose(client: BatchApiClient) -> None:
    assert client.files() == {"object": "list", "data": [], "has_more": False,
                              "first_id": None, "last_id": None}  # fmt: skip
    uploaded = [client.upload(jsonl(lines(f"u{i}", 1)), filename=f"{i}.jsonl")["id"]
                for i in range(5)]  # fmt: skip
    seen, after = [], None
    while True:
        page = client.files(limit=2, after=after)
        seen += [f["id"] for f in page["data"]]
        if not page["has_more"]:
            break
        after = page["last_id"]
    assert seen == uploaded[::-1]
    oldest = client._json("GET", "/v1/files", params={"order": "asc", "limit": 1})
    assert oldest["data"][0]["id"] == uploaded[0]
    assert oldest["has_more"] is True

    result = client.run_batch(lines("out", 3))
    outputs = client.files(purpose="batch_output")["data"]
    assert [f["id"] for f in outputs] == [result.batch["output_file_id"]]
    assert len(client.files(purpose="batch")["data"]) == 6  # five uploads and the batch's
    with pytest.raises(BatchApiError, match="after 'file-nope' is not a file id"):
        client.files(after="file-nope")


def test_delete_removes_the_object_and_its_content(client: BatchApiClient) -> None:
    keep = client.upload(jsonl(lines("k", 1)))["id"]
    gone = client.upload(jsonl(lines("g", 1)))["id"]
    assert client.delete(gone) == {"id": gone, "object": "file", "deleted": True}
    assert [f["id"] for f in client.files()["data"]] == [keep]
    for call in (client.file, client.download, client.delete):
        with pytest.raises(BatchApiError, match=f"No such File object: '{gone}'") as info:
            call(gone)
        assert info.value.status == 404
        assert info.value.code == "file_not_found"


def test_a_finished_batch_s_files_can_be_deleted(client: BatchApiClient) -> None:
    result = client.run_batch(lines("f", 2))
    for file_id in (result.batch["input_file_id"], result.batch["output_file_id"]):
        assert client.delete(file_id)["deleted"] is True
    assert client.files()["data"] == []
    assert client.retrieve(result.batch["id"])["status"] == "completed"


def test_the_input_of_a_running_batch_is_not_deleted(
    start_server: Callable[..., BatchApiServer],
) -> None:
    server = start_server(concurrency=1)
    with BatchApiClient(server.url, poll=Poll(first_s=0.01, timeout_s=60)) as client:
        file_id = client.upload(jsonl(lines("r", 2000, words=30)))["id"]
        batch = client.create(file_id)
        client.wait(batch["id"], until=lambda b: b["status"] == "in_progress")
        with pytest.raises(BatchApiError, match=f"is the input of batch '{batch['id']}'") as info:
            client.delete(file_id)
        assert (info.value.status, info.value.code) == (409, "file_in_use")
        assert client.download(file_id) == jsonl(lines("r", 2000, words=30))
        client.cancel(batch["id"])
        assert client.wait(batch["id"])["status"] == "cancelled"
        assert client.delete(file_id)["deleted"] is True
