"""The throughput suite measured through a batch server (`--batch-api URL`)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from harness.batch.matrix_section import ThroughputSection
from harness.batchapi.client import BatchApiClient
from harness.batchapi.server import BatchApiServer
from harness.batchapi.throughput import batch_lines, run_size_via_api
from tests.batchapi.conftest import MODEL
from tests.suiterun import run_suite

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
    start_server: Callable[..., BatchApiServer], pytester: pytest.Pytester
) -> None:
    matrix = pytester.path / "tput.yaml"
    matrix.write_text(MATRIX)
    run = run_suite(
        pytester, "throughput", "--sim-speed", "1000", "--matrix", str(matrix), "-q",
        "-p", "no:randomly", "--batch-api", start_server().url, "-rs", timeout=120,
    ).check()  # fmt: skip
    run.result.assert_outcomes(passed=1, skipped=1, deselected=2)
    payload = run.payload
    assert [(e["strategy"], e["size"], e["errors"]) for e in payload["throughput"]] == [
        ("batch-api", 20, 0), ("batch-api", 40, 0)
    ]  # fmt: skip
    assert payload["extrapolation"]["strategy"] == "batch-api"
    assert [c["verdict"] for c in payload["cases"]] == ["pass"]
