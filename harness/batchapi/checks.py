"""What the batch_api suite asserts about a batch server's answers, as failure messages.

Each function returns the problems it found (empty when the server did it right), each
message naming the batch, the custom_id or line and what was expected, so a failing suite
run says which behaviour is broken without a debugger.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from harness.batchapi.client import BatchApiResult

SHOWN = 5  # examples named in one message; the count says how many there are


def _some(items: Sequence[Any]) -> str:
    more = f" and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
    return ", ".join(repr(i) for i in items[:SHOWN]) + more


def record_shape(record: Mapping[str, Any]) -> str | None:
    """Why one output line is not in OpenAI's batch output format (None when it is)."""
    missing = [k for k in ("id", "custom_id", "response", "error") if k not in record]
    if missing:
        return f"missing key(s) {missing}"
    response, error = record["response"], record["error"]
    if response is None:
        return (
            None
            if isinstance(error, Mapping) and error.get("message")
            else ("neither a response nor an error with a message")
        )
    if not isinstance(response, Mapping):
        return f"response is {type(response).__name__}, not an object"
    missing = [k for k in ("status_code", "request_id", "body") if k not in response]
    if missing:
        return f"response lacks {missing}"
    if response["status_code"] == 200 and not isinstance(response["body"], Mapping):
        return "a 200 response without a JSON body"
    return None


def format_problems(result: BatchApiResult) -> list[str]:
    problems = []
    for name, records in (("output", result.output), ("error", result.errors)):
        bad = [(r.get("custom_id"), why) for r in records if (why := record_shape(r))]
        if bad:
            problems.append(f"{len(bad)} {name} file line(s) break the batch output format "
                            f"({{id, custom_id, response: {{status_code, request_id, body}}, "
                            f"error}}): {_some(bad)}")  # fmt: skip
    return problems


def answered_once(result: BatchApiResult, expected: Iterable[str], *, ok: bool = True,
                  invalid: Iterable[str] = ()) -> list[str]:  # fmt: skip
    """Every expected custom_id has exactly one record (a 200 answer when `ok`); `invalid`
    are custom_ids of lines sent malformed on purpose, which may have an error record."""
    counts = result.answer_counts()
    wanted = list(expected)
    allowed = set(wanted) | set(invalid)
    missing = [c for c in wanted if counts[c] == 0]
    twice = sorted((c, n) for c, n in counts.items() if c is not None and n > 1)
    unknown = sorted(str(c) for c in counts if c is not None and c not in allowed)
    batch = result.batch["id"]
    problems = []
    if missing:
        problems.append(f"batch {batch}: {len(missing)} custom_id(s) never answered "
                        f"(no output or error line): {_some(missing)}")  # fmt: skip
    if twice:
        problems.append(f"batch {batch}: {len(twice)} custom_id(s) answered more than once "
                        f"(custom_id, times): {_some(twice)}")  # fmt: skip
    if unknown:
        problems.append(f"batch {batch}: answers for custom_id(s) never sent: {_some(unknown)}")
    if ok:
        failed = [(r.get("custom_id"), (r.get("error") or {}).get("message")) for r in result.errors
                  if r.get("custom_id") in set(wanted)]  # fmt: skip
        if failed:
            problems.append(f"batch {batch}: {len(failed)} valid request(s) failed: "
                            f"{_some(failed)}")  # fmt: skip
    return problems


def counts_match(result: BatchApiResult) -> list[str]:
    """request_counts agree with the files the batch produced."""
    counts = result.batch.get("request_counts") or {}
    got = {"completed": result.succeeded, "failed": result.failed}
    return [
        f"batch {result.batch['id']}: request_counts.{key} is {counts.get(key)!r} but the "
        f"{'output' if key == 'completed' else 'error'} file has {n} line(s)"
        for key, n in got.items()
        if counts.get(key) != n
    ]


def status_is(result: BatchApiResult, wanted: str) -> list[str]:
    if result.status == wanted:
        return []
    errors = result.batch.get("errors")
    return [f"batch {result.batch['id']} ended {result.status!r}, expected {wanted!r}"
            + (f"; its errors: {errors}" if errors else "")]  # fmt: skip


def not_truncated(result: BatchApiResult, custom_id: str, min_tokens: int) -> list[str]:
    """A long prompt was answered whole, or refused with an explicit error."""
    answers = [r for r in result.output if r.get("custom_id") == custom_id]
    errors = [r for r in result.errors if r.get("custom_id") == custom_id]
    if errors:
        message = (errors[0].get("error") or {}).get("message")
        return [] if message else [f"{custom_id}: failed without an error message"]
    if not answers:
        return [f"{custom_id}: neither answered nor reported as an error"]
    usage = ((answers[0]["response"] or {}).get("body") or {}).get("usage") or {}
    counted = usage.get("prompt_tokens")
    if not isinstance(counted, int) or counted < min_tokens:
        return [f"{custom_id}: silently truncated: the prompt had at least {min_tokens} tokens "
                f"but usage.prompt_tokens is {counted!r}, and no error was reported"]  # fmt: skip
    return []


def custom_ids(lines: Iterable[str]) -> list[str]:
    """The custom_ids of input lines (the valid ones: a line that is not JSON has none)."""
    ids = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("custom_id"), str):
            ids.append(record["custom_id"])
    return ids
