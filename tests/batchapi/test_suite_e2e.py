"""The batch_api suite: it passes against serve-batch and names what a broken server breaks."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from harness.batchapi.client import API_KEY_ENV
from harness.batchapi.server import BatchApiServer
from harness.batchapi.worker import BatchWorker
from tests.batchapi.conftest import run_batch_suite
from tests.batchapi.test_kill_restart import ServeBatch
from tests.suiterun import run_suite

MANY = "test_many_requests_each_answered_once"
MALFORMED = "test_malformed_lines_are_reported_per_line_and_the_rest_completes"
CONCURRENT = "test_concurrent_batches_each_answer_every_custom_id_once"
ERRORS = "test_errors_are_openai_shaped_and_name_the_problem"


class DropsOneAnswer(BatchWorker):
    """Loses the first answer of every batch, keeping its counts consistent with the files."""

    def output_records(self, records: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        dropped = False
        for record in records:
            if not dropped and record.get("response") is not None:
                dropped = True
                continue
            yield record


class AnswersOneTwice(BatchWorker):
    """Writes the first answer of every batch twice."""

    def output_records(self, records: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        doubled = False
        for record in records:
            yield record
            if not doubled and record.get("response") is not None:
                doubled = True
                yield record


def test_suite_passes_against_serve_batch(pytester: pytest.Pytester) -> None:
    server = ServeBatch(pytester.path / "data")
    try:
        url = server.start(speed=1000.0)
        proc = run_batch_suite(pytester, url, requests=1000)
    finally:
        server.stop()
    assert proc.ret == 0, proc.stdout[-3000:]
    # Without control of the model server, the outage test cannot run.
    assert "6 passed, 1 skipped" in proc.stdout, proc.stdout[-2000:]


def test_suite_names_a_dropped_answer(
    start_server: Callable[..., BatchApiServer], pytester: pytest.Pytester
) -> None:
    server = start_server(worker_class=DropsOneAnswer)
    proc = run_batch_suite(pytester, server.url, "-k", f"{MANY} or {CONCURRENT}")
    assert proc.ret == 1, proc.stdout[-3000:]
    out = proc.stdout
    assert f"FAILED suites/batch_api/test_batch_api.py::{MANY}" in out
    assert f"FAILED suites/batch_api/test_batch_api.py::{CONCURRENT}" in out
    assert re.search(
        r"1 custom_id\(s\) never answered \(no output or error line\): 'many-\d{6}'", out
    )
    assert re.search(r"never answered .*: 'conc\d-\d{6}'", out)
    assert "2 failed" in out


def test_suite_names_a_custom_id_answered_twice(
    start_server: Callable[..., BatchApiServer], pytester: pytest.Pytester
) -> None:
    server = start_server(worker_class=AnswersOneTwice)
    proc = run_batch_suite(pytester, server.url, "-k", f"{MANY} or {MALFORMED}")
    assert proc.ret == 1, proc.stdout[-3000:]
    out = proc.stdout
    assert f"FAILED suites/batch_api/test_batch_api.py::{MANY}" in out
    assert f"FAILED suites/batch_api/test_batch_api.py::{MALFORMED}" in out
    twice = r"1 custom_id\(s\) answered more than once \(custom_id, times\): \('{}-\d{{6}}', 2\)"
    assert re.search(twice.format("many"), out)
    assert re.search(twice.format("good"), out)


def test_suite_sends_the_environment_s_key_to_a_server_that_requires_one(
    start_server: Callable[..., BatchApiServer], pytester: pytest.Pytester
) -> None:
    server = start_server(api_key="sk-suite")
    chosen = ("-k", f"{ERRORS} or {MALFORMED}")
    proc = run_batch_suite(pytester, server.url, *chosen, env={API_KEY_ENV: "sk-suite"})
    assert proc.ret == 0, proc.stdout[-3000:]
    assert "2 passed" in proc.stdout, proc.stdout[-2000:]
    proc = run_batch_suite(pytester, server.url, *chosen)  # no key: every request is refused
    assert proc.ret == 1, proc.stdout[-3000:]
    assert "2 failed" in proc.stdout, proc.stdout[-2000:]
    assert "401: POST /v1/files: You didn't provide an API key" in proc.stdout
    assert "answered 401 (You didn't provide an API key. Send it" in proc.stdout
    assert f"set ${API_KEY_ENV} to the server's API key" in proc.stdout


def test_suite_passes_embedded_over_the_simulator_including_the_outage(
    pytester: pytest.Pytester,
) -> None:
    # No --batch-api: the suite starts serve-batch in-process over its own simulator.
    proc = run_suite(
        pytester, "batch_api", "-q", "-p", "no:randomly", "--matrix", "smoke",
        "--sim-speed", "1000", "--sim-parallel", "4", "--batch-api-requests", "1000",
        timeout=180,
    )  # fmt: skip
    assert proc.ret == 0, proc.stdout[-3000:]
    assert "7 passed" in proc.stdout, proc.stdout[-2000:]
