"""kill -9 of `serve-batch` mid-batch, restarted on the same data dir: nothing lost or redone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.batchapi.client import BatchApiClient, Poll
from tests.batchapi.conftest import ROOT, jsonl, lines


class ServeBatch:
    """`python -m harness.batchapi.cli` on the simulator, as a child process."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.proc: subprocess.Popen[str] | None = None

    def start(self, speed: float = 300.0) -> str:
        cmd = [
            sys.executable, "-m", "harness.batchapi.cli", "--port", "0", "--data-dir",
            str(self.data_dir), "--engine", "sim", "--sim-profile", "tiny", "--sim-speed",
            str(speed), "--concurrency", "2",
        ]  # fmt: skip
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # "batch API at URL (data in DIR)"
        assert line.startswith("batch API at "), line
        return line.split()[3]

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.reap()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
        self.reap()

    def reap(self) -> None:
        if self.proc is not None:
            self.proc.wait(30)
            assert self.proc.stdout is not None
            self.proc.stdout.close()
            self.proc = None


@pytest.fixture
def serve_batch(tmp_path: Path) -> Iterator[ServeBatch]:
    server = ServeBatch(tmp_path / "data")
    try:
        yield server
    finally:
        server.kill()


def test_kill_9_mid_batch_then_restart_answers_every_custom_id_once(
    serve_batch: ServeBatch,
) -> None:
    sent = lines("k", 1200, words=20)
    with BatchApiClient(serve_batch.start()) as client:
        batch = client.create(client.upload(jsonl(sent))["id"])
        seen = client.wait(batch["id"], until=lambda b: b["request_counts"]["completed"] >= 200)
    serve_batch.kill()
    assert seen["status"] == "in_progress", "the batch finished before the kill; make it longer"
    raw = serve_batch.data_dir / "batches" / batch["id"] / "raw.jsonl"
    killed_with = len(raw.read_text().splitlines())
    assert 0 < killed_with < 1200

    with BatchApiClient(serve_batch.start(), poll=Poll(timeout_s=120)) as client:
        final = client.wait(batch["id"])
        answers = client.records(final["output_file_id"])
        errors = client.records(final["error_file_id"])
    serve_batch.stop()
    assert final["status"] == "completed"
    assert errors == []
    counts = Counter(r["custom_id"] for r in answers)
    assert counts == Counter(f"k-{i:05d}" for i in range(1200)), (
        f"missing: {sorted(set(f'k-{i:05d}' for i in range(1200)) - set(counts))[:5]}, "
        f"twice: {[c for c, n in counts.items() if n > 1][:5]}"
    )
    assert final["request_counts"] == {"total": 1200, "completed": 1200, "failed": 0}
