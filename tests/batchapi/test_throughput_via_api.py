"""The throughput suite measured through a batch server (`--batch-api URL`)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from harness.batch.matrix_section import ThroughputSection
from harness.batchapi.client import BatchApiClient
from harness.batchapi.server import BatchApiServer
from harness.batchapi.throughput import batch_lines, run_size_via_api
from tests.batchapi.conftest import MODEL, ROOT

MATRIX = f"""\
version: 1
name: tput
sim_profile: tiny
models:
  - name: {MODEL}
    contexts: [4k]
throughput:
  sizes: [20, 40]
  system_prompt_tokens: 200
  user_tokens: 20
  num_predict: 4
  max_spread: 1
"""


def test_run_size_gives_the_in_process_figures(
    start_server: Callable[..., BatchApiServer],
) -> None:
    section = ThroughputSection(sizes=(30,), system_prompt_tokens=100, num_predict=3)
    assert json.loads(batch_lines(section, MODEL, 1)[0])["body"]["max_tokens"] == 3
    with BatchApiClient(start_server().url) as client:
        result = run_size_via_api(client, section, model=MODEL, size=30, time_scale=2.0,
                                  simulated=True)  # fmt: skip
    e = result.entry
    assert (e["strategy"], e["size"], e["errors"], e["completion_tokens"]) == (
        "batch-api",
        30,
        0,
        90,
    )
    assert e["tokens_sent"] == sum(result.run.prompt_tokens) > 30 * 100
    assert e["req_s"] > 0
    assert set(e["batch_api"]["status_s"]) >= {"validating", "completed"}
    assert len(result.run.request_s) == 30
    assert all(t > 0 for t in result.run.request_s)


def test_throughput_suite_runs_through_the_batch_api(
    start_server: Callable[..., BatchApiServer], tmp_path: Path
) -> None:
    matrix = tmp_path / "tput.yaml"
    matrix.write_text(MATRIX)
    reports = tmp_path / "reports"
    cmd = [
        sys.executable, "-m", "pytest", str(ROOT / "suites" / "throughput"), "--engine", "sim",
        "--sim-speed", "1000", "--matrix", str(matrix), "--reports-dir", str(reports), "-q",
        "-p", "no:randomly", "--batch-api", start_server().url, "-rs",
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "1 passed, 1 skipped, 2 deselected" in proc.stdout
    payload = json.loads((reports / "latest" / "results.json").read_text())
    assert [(e["strategy"], e["size"], e["errors"]) for e in payload["throughput"]] == [
        ("batch-api", 20, 0), ("batch-api", 40, 0)
    ]  # fmt: skip
    assert payload["extrapolation"]["strategy"] == "batch-api"
    assert [c["verdict"] for c in payload["cases"]] == ["pass"]
