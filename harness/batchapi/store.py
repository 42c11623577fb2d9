"""Job state in SQLite: uploaded files and batches, so a restarted server resumes its work.

One connection, shared by the HTTP threads and the batch threads under a lock: SQLite
serialises writers anyway, and every change here is one statement, so each is atomic and
durable on its own (autocommit, WAL). File contents live beside the database as plain files
(`files/<id>`); only their metadata is here. Rows become OpenAI-shaped objects in
`file_object` / `batch_object`, which the handler sends as they are.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

# A batch in one of these is still owed work; a restarted server picks it up.
ACTIVE = ("validating", "in_progress", "finalizing", "cancelling")
TERMINAL = ("completed", "failed", "cancelled", "expired")
TIMESTAMPS = ("created_at", "in_progress_at", "finalizing_at", "completed_at", "failed_at",
              "expired_at", "cancelling_at", "cancelled_at")  # fmt: skip

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    id TEXT PRIMARY KEY, purpose TEXT NOT NULL, filename TEXT NOT NULL,
    bytes INTEGER NOT NULL, created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL,
    input_file_id TEXT NOT NULL, endpoint TEXT NOT NULL, completion_window TEXT NOT NULL,
    status TEXT NOT NULL, output_file_id TEXT, error_file_id TEXT,
    total INTEGER NOT NULL DEFAULT 0, completed INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0, errors TEXT, metadata TEXT,
    created_at INTEGER NOT NULL, in_progress_at INTEGER, finalizing_at INTEGER,
    completed_at INTEGER, failed_at INTEGER, expired_at INTEGER,
    cancelling_at INTEGER, cancelled_at INTEGER
);
"""
_UPDATABLE = frozenset({"status", "output_file_id", "error_file_id", "total", "completed",
                        "failed", "errors", *TIMESTAMPS})  # fmt: skip


def new_id(prefix: str) -> str:
    """OpenAI's id styles: `file-...` and `batch_...`."""
    sep = "-" if prefix == "file" else "_"
    return f"{prefix}{sep}{uuid.uuid4().hex[:24]}"


class Store:
    """Files and batches in `<data_dir>/batchapi.sqlite3`; thread-safe; close() when done."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / "batchapi.sqlite3"
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _one(self, sql: str, args: tuple[Any, ...]) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(sql, args).fetchone()
        return dict(row) if row is not None else None

    # -- files -----------------------------------------------------------------------------
    def add_file(
        self, purpose: str, filename: str, size: int, file_id: str | None = None
    ) -> dict[str, Any]:
        """Record a file (replacing one of the same id: finalizing twice rewrites outputs)."""
        row = (file_id or new_id("file"), purpose, filename, size, int(time.time()))
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)", row)
        return dict(zip(("id", "purpose", "filename", "bytes", "created_at"), row, strict=True))

    def get_file(self, file_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM files WHERE id = ?", (file_id,))

    def list_files(
        self, limit: int, after: str | None, *, newest_first: bool = True,
        purpose: str | None = None,
    ) -> tuple[list[dict[str, Any]], bool]:  # fmt: skip
        """In upload order (rowid), `after` the id ending the previous page: (page, has_more)."""
        where, args = [], list[Any]()
        if after is not None:
            where.append(f"rowid {'<' if newest_first else '>'} "
                         "(SELECT rowid FROM files WHERE id = ?)")  # fmt: skip
            args.append(after)
        if purpose is not None:
            where.append("purpose = ?")
            args.append(purpose)
        sql = "SELECT * FROM files" + (" WHERE " + " AND ".join(where) if where else "")
        order = "DESC" if newest_first else "ASC"
        with self._lock:
            rows = self._db.execute(f"{sql} ORDER BY rowid {order} LIMIT ?", (*args, limit + 1))
            page = [dict(r) for r in rows.fetchall()]
        return page[:limit], len(page) > limit

    def delete_file(self, file_id: str) -> bool:
        """Forget a file; False when there was none. Its content is the caller's to remove."""
        with self._lock:
            return self._db.execute("DELETE FROM files WHERE id = ?", (file_id,)).rowcount > 0

    def batch_reading(self, file_id: str) -> str | None:
        """The id of an unfinished batch whose input is `file_id`, if any."""
        marks = ", ".join("?" * len(ACTIVE))
        row = self._one(f"SELECT id FROM batches WHERE input_file_id = ? AND status IN ({marks})"
                        " ORDER BY seq LIMIT 1", (file_id, *ACTIVE))  # fmt: skip
        return None if row is None else str(row["id"])

    # -- batches ---------------------------------------------------------------------------
    def add_batch(
        self, input_file_id: str, endpoint: str, window: str, metadata: dict[str, Any] | None
    ) -> dict[str, Any]:
        batch_id = new_id("batch")
        with self._lock:
            self._db.execute(
                "INSERT INTO batches (id, input_file_id, endpoint, completion_window, status, "
                "metadata, created_at) VALUES (?, ?, ?, ?, 'validating', ?, ?)",
                (batch_id, input_file_id, endpoint, window, json.dumps(metadata),
                 int(time.time())),
            )  # fmt: skip
        batch = self.get_batch(batch_id)
        assert batch is not None
        return batch

    def get_batch(self, batch_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM batches WHERE id = ?", (batch_id,))

    def update_batch(self, batch_id: str, **changes: Any) -> None:
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise ValueError(f"not batch columns: {sorted(unknown)}")
        if "errors" in changes and changes["errors"] is not None:
            changes["errors"] = json.dumps(changes["errors"])
        assignments = ", ".join(f"{k} = ?" for k in changes)
        with self._lock:
            self._db.execute(
                f"UPDATE batches SET {assignments} WHERE id = ?", (*changes.values(), batch_id)
            )

    def stamp(self, batch_id: str, status: str, **changes: Any) -> None:
        """Move a batch to `status`, setting its `<status>_at` timestamp (now)."""
        key = f"{status}_at"
        stamp = {key: int(time.time())} if key in TIMESTAMPS else {}
        self.update_batch(batch_id, status=status, **stamp, **changes)

    def list_batches(self, limit: int, after: str | None) -> tuple[list[dict[str, Any]], bool]:
        """Newest first; `after` is the last id of the previous page. Returns (page, has_more)."""
        sql, args = "SELECT * FROM batches", tuple[str, ...]()
        if after is not None:
            sql += " WHERE seq < (SELECT seq FROM batches WHERE id = ?)"
            args = (after,)
        with self._lock:
            rows = self._db.execute(f"{sql} ORDER BY seq DESC LIMIT ?", (*args, limit + 1))
            page = [dict(r) for r in rows.fetchall()]
        return page[:limit], len(page) > limit

    def active(self) -> list[dict[str, Any]]:
        """Batches a (re)started server still owes work, oldest first."""
        marks = ", ".join("?" * len(ACTIVE))
        with self._lock:
            rows = self._db.execute(
                f"SELECT * FROM batches WHERE status IN ({marks}) ORDER BY seq", ACTIVE
            ).fetchall()
        return [dict(r) for r in rows]


def file_object(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "object": "file", "bytes": row["bytes"],
            "created_at": row["created_at"], "filename": row["filename"],
            "purpose": row["purpose"], "status": "processed"}  # fmt: skip


def batch_object(row: dict[str, Any]) -> dict[str, Any]:
    """A batch row in OpenAI's shape (https://platform.openai.com/docs/api-reference/batch)."""
    errors = json.loads(row["errors"]) if row.get("errors") else None
    return {
        "id": row["id"],
        "object": "batch",
        "endpoint": row["endpoint"],
        "errors": errors and {"object": "list", "data": errors},
        "input_file_id": row["input_file_id"],
        "completion_window": row["completion_window"],
        "status": row["status"],
        "output_file_id": row["output_file_id"],
        "error_file_id": row["error_file_id"],
        **{key: row[key] for key in TIMESTAMPS},
        "expires_at": row["created_at"] + 24 * 3600,
        "request_counts": {
            "total": row["total"],
            "completed": row["completed"],
            "failed": row["failed"],
        },
        "metadata": json.loads(row["metadata"]) if row.get("metadata") else None,
    }
