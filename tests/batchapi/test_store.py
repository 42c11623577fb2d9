from __future__ import annotations

from pathlib import Path

import pytest

from harness.batchapi.store import Store, batch_object, file_object


def test_files_and_batches_survive_a_reopen(tmp_path: Path) -> None:
    store = Store(tmp_path)
    try:
        f = store.add_file("batch", "in.jsonl", 12)
        b = store.add_batch(f["id"], "/v1/chat/completions", "24h", {"k": "v"})
        store.stamp(b["id"], "in_progress", total=3)
    finally:
        store.close()
    store = Store(tmp_path)
    try:
        assert file_object(store.get_file(f["id"]) or {})["bytes"] == 12
        obj = batch_object(store.get_batch(b["id"]) or {})
        assert obj["status"] == "in_progress"
        assert obj["in_progress_at"] is not None
        assert obj["request_counts"] == {"total": 3, "completed": 0, "failed": 0}
        assert obj["metadata"] == {"k": "v"}
        assert [r["id"] for r in store.active()] == [b["id"]]
        store.stamp(b["id"], "completed", completed=3)
        assert store.active() == []
        assert store.get_batch("batch_nope") is None
    finally:
        store.close()


def test_list_pages_newest_first(tmp_path: Path) -> None:
    store = Store(tmp_path)
    try:
        ids = [store.add_batch("file-x", "/v1/chat/completions", "24h", None)["id"]
               for _ in range(5)]  # fmt: skip
        page, more = store.list_batches(2, None)
        assert [r["id"] for r in page] == ids[::-1][:2]
        assert more
        page, more = store.list_batches(2, page[-1]["id"])
        assert [r["id"] for r in page] == ids[::-1][2:4]
        page, more = store.list_batches(2, page[-1]["id"])
        assert [r["id"] for r in page] == ids[:1]
        assert not more
    finally:
        store.close()


def test_update_refuses_unknown_columns(tmp_path: Path) -> None:
    store = Store(tmp_path)
    try:
        with pytest.raises(ValueError, match="not batch columns"):
            store.update_batch("batch_x", id="other")
    finally:
        store.close()
