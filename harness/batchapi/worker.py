"""Runs batches over the batch engine, one thread per batch, and resumes them after a restart.

A batch moves validating -> in_progress -> finalizing -> completed (or failed, or
cancelling -> cancelled). While it runs, every answer is appended to `batches/<id>/raw.jsonl`
by the batch engine's OutputWriter, flushed line by line; after a kill the server starts
again, finds the batch still `in_progress` in the store and runs the same input with the
writer's `done` set, so no custom_id is lost and none is answered twice. Finalizing splits
raw.jsonl into the output file (answers) and the error file (failures), as OpenAI does.

An uploaded file is whatever bytes the client sent: a line that is not UTF-8 text becomes
that line's error record, like any other malformed line, and the rest of the batch runs.

Requests go to the model server with `truncate: false`: a prompt longer than the context
then fails with the server's error instead of being cut silently (Ollama's default).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO, cast

from harness.batch.executor import BatchEngine, BatchSettings
from harness.batch.jsonl import BatchRequest, LineError, read_requests
from harness.batch.output import OutputWriter
from harness.batchapi.store import TERMINAL, Store
from harness.engines.base import Engine, Message, StreamMeasurement
from harness.errors import ConfigError

COUNTS_EVERY_S = 0.5  # how often running counts are written to the store


class CancelRefused(ValueError):
    """A cancel the batch's status does not allow (it finished, or is finalizing)."""


class StrictEngine:
    """An Engine that asks the server to refuse over-long prompts (`truncate: false`)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def chat(
        self,
        model: str,
        messages: Sequence[Message],
        *,
        options: Mapping[str, Any] | None = None,
        keep_alive: float | str | None = None,
        truncate: bool | None = None,
    ) -> StreamMeasurement:
        return self._engine.chat(
            model, messages, options=options, keep_alive=keep_alive, truncate=False
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


class CountingSink:
    """Writes through to the OutputWriter and keeps the batch's request counts."""

    def __init__(self, writer: OutputWriter, store: Store, batch_id: str) -> None:
        self.writer, self.store, self.batch_id = writer, store, batch_id
        self.completed, self.failed = _recount(writer.path)
        self._lock = threading.Lock()
        self._saved = time.monotonic()

    def write(self, record: Mapping[str, Any]) -> None:
        self.writer.write(record)
        with self._lock:
            if record.get("response") is not None:
                self.completed += 1
            else:
                self.failed += 1
            if time.monotonic() - self._saved >= COUNTS_EVERY_S:
                self.save()

    def write_trim(self, event: Mapping[str, Any]) -> None:
        self.writer.write_trim(event)

    def save(self) -> None:
        self._saved = time.monotonic()
        self.store.update_batch(self.batch_id, completed=self.completed, failed=self.failed)


class BatchWorker:
    """Owns the batch threads; `close()` stops them and leaves their batches to resume."""

    def __init__(
        self,
        store: Store,
        data_dir: Path,
        engine: Engine,
        settings: BatchSettings,
        max_active: int = 4,
    ) -> None:
        self.store, self.data_dir, self.settings = store, data_dir, settings
        self.engine = cast(Engine, StrictEngine(engine))
        self._slots = threading.Semaphore(max_active)
        self._lock = threading.Lock()
        self._running: dict[str, tuple[BatchEngine, CountingSink]] = {}
        self._threads: list[threading.Thread] = []
        self._closing = threading.Event()

    def file_path(self, file_id: str) -> Path:
        return self.data_dir / "files" / file_id

    def submit(self, batch_id: str) -> None:
        thread = threading.Thread(target=self._run, args=(batch_id,), name=f"batch-{batch_id}")
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def resume(self) -> None:
        """Start every batch a previous process left unfinished."""
        for row in self.store.active():
            self.submit(row["id"])

    def live_counts(self, batch_id: str) -> tuple[int, int] | None:
        with self._lock:
            running = self._running.get(batch_id)
        return None if running is None else (running[1].completed, running[1].failed)

    def cancel(self, batch_id: str) -> None:
        with self._lock:
            row = self.store.get_batch(batch_id)
            assert row is not None
            status = row["status"]
            if status in (*TERMINAL, "finalizing"):
                raise CancelRefused(
                    f"batch {batch_id!r} is {status}; only a validating or in_progress batch "
                    "can be cancelled"
                )
            if status != "cancelling":
                self.store.stamp(batch_id, "cancelling")
            running = self._running.get(batch_id)
        if running is not None:
            running[0].stop.set()  # requests in flight finish and are written

    def close(self, timeout_s: float = 30.0) -> None:
        self._closing.set()
        with self._lock:
            for engine, _ in self._running.values():
                engine.stop.set()
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout_s)

    # -- one batch -------------------------------------------------------------------------
    def _run(self, batch_id: str) -> None:
        with self._slots:
            row = self.store.get_batch(batch_id)
            if row is None or self._closing.is_set():
                return
            try:
                self._advance(row)
            except Exception as exc:  # a bug must fail one batch, not leave it hanging
                self.store.stamp(batch_id, "failed", errors=[_error("server_error", repr(exc))])

    def _advance(self, row: dict[str, Any]) -> None:
        batch_id, status = row["id"], row["status"]
        source = self.file_path(row["input_file_id"])
        if status == "validating":
            total = sum(1 for _ in read_input(source))
            if total == 0:
                self.store.stamp(batch_id, "failed", errors=[_error("empty_file", "no requests")])
                return
            self.store.stamp(batch_id, "in_progress", total=total)
            status = "in_progress"
        if status == "in_progress":
            self._execute(batch_id, source)
            if self._closing.is_set():
                return  # shutting down: the batch stays in_progress and resumes next start
            status = self._status(batch_id)
            if status == "in_progress":
                self.store.stamp(batch_id, "finalizing")
        self.finalize(batch_id, cancelled=self._status(batch_id) == "cancelling")

    def _status(self, batch_id: str) -> str:
        row = self.store.get_batch(batch_id)
        return "" if row is None else str(row["status"])

    def _execute(self, batch_id: str, source: Path) -> None:
        with OutputWriter(self._raw(batch_id), sync_every_s=0.5) as writer:
            sink = CountingSink(writer, self.store, batch_id)
            engine = BatchEngine(self.engine, self.settings)
            with self._lock:
                self._running[batch_id] = (engine, sink)
                if self._status(batch_id) == "cancelling":  # cancelled while it waited
                    engine.stop.set()
            try:
                engine.run(read_input(source), sink, writer.done)
            finally:
                with self._lock:
                    del self._running[batch_id]
                sink.save()

    def _raw(self, batch_id: str) -> Path:
        return self.data_dir / "batches" / batch_id / "raw.jsonl"

    # -- finalizing ------------------------------------------------------------------------
    def finalize(self, batch_id: str, *, cancelled: bool) -> None:
        """Split raw.jsonl into the output and error files, streaming (170,000 answers need
        not fit in memory); safe to run again after a kill, since file ids derive from the
        batch and each file is written aside and renamed into place."""
        kinds = ("output", "error")
        paths = {k: self.file_path(f"file-{batch_id.removeprefix('batch_')}-{k}") for k in kinds}
        counts = dict.fromkeys(kinds, 0)
        paths["output"].parent.mkdir(parents=True, exist_ok=True)
        tmps = {k: p.with_suffix(".tmp") for k, p in paths.items()}
        with tmps["output"].open("w") as out, tmps["error"].open("w") as err:
            for record in self.output_records(_read_records(self._raw(batch_id))):
                kind = "output" if record.get("response") is not None else "error"
                (out if kind == "output" else err).write(
                    json.dumps(record, separators=(",", ":")) + "\n"
                )
                counts[kind] += 1
        ids: dict[str, str | None] = {}
        for kind in kinds:
            ids[f"{kind}_file_id"] = None
            if counts[kind]:
                tmps[kind].replace(paths[kind])
                size = paths[kind].stat().st_size
                row = self.store.add_file("batch_output", f"{batch_id}_{kind}.jsonl", size,
                                          paths[kind].name)  # fmt: skip
                ids[f"{kind}_file_id"] = row["id"]
            else:
                tmps[kind].unlink()
        final = "cancelled" if cancelled else "completed"
        self.store.stamp(batch_id, final, completed=counts["output"], failed=counts["error"], **ids)

    def output_records(self, records: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """The records that go into the output files (a hook for tests of broken servers)."""
        return records


def read_input(path: Path) -> Iterator[BatchRequest | LineError]:
    """The batch's requests in order; a line that is not UTF-8 is an error naming its byte."""
    undecodable: dict[int, str] = {}

    def texts(handle: BinaryIO) -> Iterator[str]:
        for number, raw in enumerate(handle, start=1):
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                undecodable[number] = (
                    f"line {number}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
                    f"{exc.start}); the input must be JSONL encoded as UTF-8"
                )
                # Neither blank (blank lines get no record) nor JSON: read_requests makes it a
                # LineError with this line number, whose message is replaced below.
                yield "\0"

    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ConfigError(f"cannot read batch input {str(path)!r}: {exc.strerror}") from exc
    with handle:
        for item in read_requests(texts(handle)):
            if item.line in undecodable:
                item = LineError(item.line, None, undecodable.pop(item.line))
            yield item


def _read_records(path: Path) -> Iterator[dict[str, Any]]:
    if path.exists():
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                yield json.loads(line)


def _recount(path: Path) -> tuple[int, int]:
    """(answered, failed) records already in a resumed batch's raw output."""
    completed = failed = 0
    if path.exists():
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if json.loads(line).get("response") is not None:
                    completed += 1
                else:
                    failed += 1
    return completed, failed


def _error(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "param": None, "line": None}
