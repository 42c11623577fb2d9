"""An OpenAI-compatible batch server, tested where seed 003's audit found no tests.

Malformed lines, a prompt over 10,000 tokens, concurrent batches, the model server going
away mid-run, cancelling, and a batch of --batch-api-requests (10,000) requests. Each test
fails with the batch id, the custom_ids and what the server did instead.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from harness.batchapi.checks import (
    answered_once,
    counts_match,
    custom_ids,
    format_problems,
    not_truncated,
    status_is,
)
from harness.batchapi.client import API_KEY_ENV, BatchApiClient, BatchApiError, request_line

LONG_PROMPT_TOKENS = 10_500  # "over 10,000 tokens", whatever the tokenizer: one word >= 1


def _ok(problems: list[str]) -> None:
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def test_malformed_lines_are_reported_per_line_and_the_rest_completes(
    batch_client: BatchApiClient, make_lines: Callable[..., list[str]], batch_target: Any
) -> None:
    good = make_lines("good", 20)
    bad_url = json.dumps({"custom_id": "bad-url", "method": "POST", "url": "/v1/nowhere",
                          "body": {"model": batch_target.model, "messages": []}})  # fmt: skip
    lines = [*good[:5], "{this is not json", *good[5:10], bad_url, '{"method": "POST"}',
             *good[10:]]  # fmt: skip
    result = batch_client.run_batch(lines)
    _ok(status_is(result, "completed"))
    _ok(format_problems(result))
    _ok(answered_once(result, custom_ids(good), invalid=["bad-url"]))
    problems = counts_match(result)
    if result.answer_counts()["bad-url"] != 1 or result.output_for("bad-url"):
        problems.append("the line with url '/v1/nowhere' (custom_id 'bad-url') has no error "
                        "record of its own")  # fmt: skip
    if result.failed < 3:
        problems.append(f"3 malformed lines were sent but the error file has {result.failed} "
                        f"line(s): {result.errors}")  # fmt: skip
    _ok(problems)


def test_prompt_over_10k_tokens_completes_or_fails_explicitly(
    batch_client: BatchApiClient, batch_target: Any
) -> None:
    words = " ".join(f"w{i % 997}" for i in range(LONG_PROMPT_TOKENS))
    line = request_line("long-prompt", {
        "model": batch_target.model, "max_tokens": 4,
        "messages": [{"role": "user", "content": f"Count these words: {words}"}],
    })  # fmt: skip
    result = batch_client.run_batch([line])
    _ok(status_is(result, "completed"))
    _ok(format_problems(result))
    _ok(not_truncated(result, "long-prompt", LONG_PROMPT_TOKENS))


def test_concurrent_batches_each_answer_every_custom_id_once(
    batch_client: BatchApiClient, make_lines: Callable[..., list[str]]
) -> None:
    batches = {f"conc{n}": make_lines(f"conc{n}", 150) for n in range(3)}
    created = {}
    started = time.perf_counter_ns()
    for prefix, lines in batches.items():
        uploaded = batch_client.upload("".join(x + "\n" for x in lines).encode())
        created[prefix] = batch_client.create(uploaded["id"])["id"]
    problems = []
    for prefix, batch_id in created.items():
        final = batch_client.wait(batch_id)
        result = batch_client.result(final, len(batches[prefix]), started)
        problems += status_is(result, "completed") + answered_once(result, custom_ids(
            batches[prefix])) + counts_match(result)  # fmt: skip
    _ok(problems)


def test_batch_survives_the_model_server_going_away_and_coming_back(
    batch_client: BatchApiClient, make_lines: Callable[..., list[str]], batch_target: Any
) -> None:
    if batch_target.proxy is None:
        pytest.skip("needs control of the model server: run without --batch-api (embedded)")
    lines = make_lines("outage", 600)
    uploaded = batch_client.upload("".join(x + "\n" for x in lines).encode())
    started = time.perf_counter_ns()
    batch = batch_client.create(uploaded["id"])
    seen = batch_client.wait(batch["id"], until=lambda b: b["request_counts"]["completed"] >= 50)
    if seen["status"] != "in_progress":
        pytest.fail(
            f"batch {seen['id']} was {seen['status']!r} before the outage began; "
            "the test proves nothing (slow the model server down)",
            pytrace=False,
        )
    batch_target.proxy.down()
    time.sleep(2.0)  # longer than the first retries: the engine must keep trying
    batch_target.proxy.up()
    final = batch_client.wait(batch["id"])
    result = batch_client.result(final, len(lines), started)
    _ok(status_is(result, "completed") + answered_once(result, custom_ids(lines)))


def test_cancel_stops_the_batch_and_reports_what_finished(
    batch_client: BatchApiClient, make_lines: Callable[..., list[str]]
) -> None:
    lines = make_lines("cancel", 3000, words=40, max_tokens=8)
    uploaded = batch_client.upload("".join(x + "\n" for x in lines).encode())
    started = time.perf_counter_ns()
    batch = batch_client.create(uploaded["id"])
    batch_client.wait(batch["id"], until=lambda b: b["request_counts"]["completed"] >= 20)
    answer = batch_client.cancel(batch["id"])
    problems = []
    if answer["status"] not in ("cancelling", "cancelled"):
        problems.append(f"cancel answered status {answer['status']!r}, expected 'cancelling'")
    final = batch_client.wait(batch["id"])
    result = batch_client.result(final, len(lines), started)
    problems += status_is(result, "cancelled") + counts_match(result)
    finished = result.succeeded + result.failed
    if finished >= len(lines):
        problems.append(f"cancelled batch {final['id']} still ran all {len(lines)} requests")
    counts = result.answer_counts()
    twice = [c for c, n in counts.items() if n > 1]
    if twice:
        problems.append(f"cancelled batch answered custom_id(s) twice: {twice[:5]}")
    time.sleep(1.0)
    later = batch_client.retrieve(batch["id"])["request_counts"]
    if later != final["request_counts"]:
        problems.append(f"a cancelled batch kept running: request_counts went from "
                        f"{final['request_counts']} to {later}")  # fmt: skip
    try:
        again = batch_client.cancel(batch["id"])
    except BatchApiError as exc:
        if not 400 <= exc.status < 500:
            problems.append(f"cancelling a cancelled batch answered {exc}, expected a 4xx")
    else:
        if again["status"] != "cancelled":
            problems.append(f"cancelling a cancelled batch changed its status to {again['status']}")
    _ok(problems)


def test_many_requests_each_answered_once(
    batch_client: BatchApiClient, make_lines: Callable[..., list[str]], batch_target: Any,
    record_property: Callable[[str, object], None],
) -> None:  # fmt: skip
    lines = make_lines("many", batch_target.requests)
    result = batch_client.run_batch(lines)
    record_property("batch_api_figures", json.dumps(result.figures()))
    _ok(status_is(result, "completed"))
    _ok(format_problems(result) + answered_once(result, custom_ids(lines)) + counts_match(result))


def test_errors_are_openai_shaped_and_name_the_problem(batch_target: Any) -> None:
    cases: list[tuple[str, str, dict[str, Any], int]] = [
        ("GET", "/v1/files/file-doesnotexist", {}, 404),
        ("GET", "/v1/batches/batch_doesnotexist", {}, 404),
        ("POST", "/v1/batches", {"json": {"input_file_id": "file-doesnotexist",
         "endpoint": "/v1/chat/completions", "completion_window": "24h"}}, 400),
        ("POST", "/v1/files", {"data": {"purpose": "fine-tune-nonsense"},
         "files": {"file": ("x.jsonl", b"{}\n")}}, 400),
    ]  # fmt: skip
    problems = []
    with httpx.Client(base_url=batch_target.url, timeout=30.0,
                      headers=batch_target.headers()) as http:  # fmt: skip
        for method, path, kwargs, wanted in cases:
            response = http.request(method, path, **kwargs)
            try:
                error = response.json()["error"]
                message = error["message"]
            except (ValueError, KeyError, TypeError):
                message = None
            if response.status_code == 401:  # a 4xx, but not the error this case checks
                problems.append(f"{method} {path}: answered 401 ({message}); set "
                                f"${API_KEY_ENV} to the server's API key")  # fmt: skip
            elif response.status_code // 100 != wanted // 100 or not message:
                problems.append(f"{method} {path}: answered {response.status_code} "
                                f"{response.text[:200]!r}; expected a {wanted} with "
                                '{"error": {"message": ...}}')  # fmt: skip
    _ok(problems)
