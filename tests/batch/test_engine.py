from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness import errors
from harness.batch.executor import RetryPolicy
from harness.batch.fixture import MemorySink, make_batch_engine
from harness.batch.jsonl import iter_lines, read_requests
from harness.batch.output import OutputWriter, trims_path
from tests.batch.fakes import FakeEngine, read_out

FAST_RETRY = RetryPolicy(max_attempts=3, base_delay_s=0.001)


def run(engine: FakeEngine, src: Path, out: Path, **settings: object):  # type: ignore[no-untyped-def]
    with OutputWriter(out) as writer:
        batch = make_batch_engine(engine, retry=FAST_RETRY, **settings)  # type: ignore[arg-type]
        return batch.run(read_requests(iter_lines(src)), writer, writer.done)


def test_every_request_gets_one_openai_output_line(
    fake_engine: FakeEngine, write_batch: Callable[[int], Path], tmp_path: Path
) -> None:
    summary = run(fake_engine, write_batch(5), tmp_path / "out.jsonl")
    records = read_out(tmp_path / "out.jsonl")
    assert summary.succeeded == 5
    assert sorted(r["custom_id"] for r in records) == [f"c{i}" for i in range(5)]
    first = records[0]
    assert first["error"] is None
    assert first["response"]["status_code"] == 200
    body = first["response"]["body"]
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "7"}
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + 1


def test_transient_faults_are_retried_with_backoff(
    fake_engine: FakeEngine, write_batch: Callable[[int], Path], tmp_path: Path
) -> None:
    fake_engine.faults["candidate 1"] = [errors.ServerBusy("busy"), errors.StreamIncomplete("x")]
    fake_engine.faults["candidate 2"] = [errors.RequestTimeout("slow")] * 5
    summary = run(fake_engine, write_batch(3), tmp_path / "out.jsonl")
    by_id = {r["custom_id"]: r for r in read_out(tmp_path / "out.jsonl")}
    assert by_id["c1"]["error"] is None
    assert by_id["c1"]["harness"]["attempts"] == 3
    assert by_id["c2"]["error"]["code"] == "timeout"  # bounded: 3 attempts, then recorded
    assert by_id["c2"]["harness"]["attempts"] == 3
    assert summary.retries == 4
    assert summary.errors == {"timeout": 1}


def test_non_transient_errors_are_not_retried(
    fake_engine: FakeEngine, write_batch: Callable[[int], Path], tmp_path: Path
) -> None:
    fake_engine.faults["candidate 0"] = [errors.ModelNotFound("model 'm' not found")]
    run(fake_engine, write_batch(1), tmp_path / "out.jsonl")
    (record,) = read_out(tmp_path / "out.jsonl")
    assert record["error"]["code"] == "model_not_found"
    assert len(fake_engine.calls) == 1


def test_out_of_memory_trims_aggressively_and_retries_once(
    fake_engine: FakeEngine, write_batch: Callable[[int], Path], tmp_path: Path
) -> None:
    oom = errors.OutOfMemory("cudaMalloc failed: out of memory")
    fake_engine.faults["candidate 9"] = [oom]
    fake_engine.faults["candidate 11"] = [oom, oom]
    out = tmp_path / "out.jsonl"
    summary = run(fake_engine, write_batch(12), out, strategy="conversation", trim_interval=None,
        keep_messages=8,
    )  # fmt: skip
    by_id = {r["custom_id"]: r for r in read_out(out)}
    assert by_id["c9"]["error"] is None
    assert by_id["c9"]["harness"]["context_messages"] <= 3  # system + the pending question
    assert by_id["c11"]["error"]["code"] == "oom"
    trims = read_out(trims_path(out))
    assert [(t["reason"], t["custom_id"]) for t in trims] == [("oom", "c9"), ("oom", "c11")]
    assert summary.trims == 2
    assert len(fake_engine.calls) == 12 + 1 + 1  # one retry each, none after the second OOM


def test_conversation_grows_and_trims_on_interval(
    fake_engine: FakeEngine, write_batch: Callable[[int], Path], tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    summary = run(
        fake_engine, write_batch(30), out, strategy="conversation", trim_interval=10,
        keep_messages=4,
    )  # fmt: skip
    sizes = [len(call) for call in fake_engine.calls]
    assert sizes[:3] == [2, 4, 6]  # system + growing history + the new question
    assert max(sizes) <= 1 + 2 * 10 + 1
    trims = read_out(trims_path(out))
    assert summary.trims == len(trims) == 2
    assert all(t["reason"] == "interval" and t["messages_after"] <= 5 for t in trims)
    assert [t["request_index"] for t in trims] == [10, 20]


def test_concurrency_runs_requests_in_parallel(
    write_batch: Callable[[int], Path], tmp_path: Path
) -> None:
    engine = FakeEngine(delay_s=0.02)
    summary = run(engine, write_batch(16), tmp_path / "out.jsonl", concurrency=4)
    assert summary.succeeded == 16
    assert engine.max_active >= 3


def test_conversation_stays_sequential_under_concurrency(
    write_batch: Callable[[int], Path], tmp_path: Path
) -> None:
    engine = FakeEngine(delay_s=0.005)
    run(engine, write_batch(10), tmp_path / "out.jsonl", concurrency=4, strategy="conversation")
    assert engine.max_active == 1  # one system prompt: one conversation, in order
    assert [len(c) for c in engine.calls] == [2 * i + 2 for i in range(10)]


def test_resume_skips_finished_ids_and_cuts_a_torn_line(
    fake_engine: FakeEngine, write_batch: Callable[[int], Path], tmp_path: Path
) -> None:
    src, out = write_batch(10), tmp_path / "out.jsonl"
    run(fake_engine, src, out)
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:4]) + lines[4][:25])  # four done, the fifth torn by a kill
    fake_engine.calls.clear()
    summary = run(fake_engine, src, out)
    assert summary.skipped == 4
    assert summary.succeeded == 6
    ids = [r["custom_id"] for r in read_out(out)]
    assert sorted(ids) == sorted(f"c{i}" for i in range(10))


def test_invalid_lines_are_recorded_once_across_resumes(
    fake_engine: FakeEngine, tmp_path: Path
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"bad json\n' + '{"custom_id": "z", "url": "/v1/x", "body": {}}\n')
    out = tmp_path / "out.jsonl"
    first = run(fake_engine, src, out)
    second = run(fake_engine, src, out)
    records = read_out(out)
    assert first.invalid == 2
    assert second.invalid == 0
    assert [r["error"]["line"] for r in records] == [1, 2]
    assert records[1]["custom_id"] == "z"


def test_memory_sink_and_latencies(
    fake_engine: FakeEngine, write_batch: Callable[[int], Path]
) -> None:
    sink = MemorySink()
    batch = make_batch_engine(
        fake_engine,  # type: ignore[arg-type]
        keep_latencies=True,
        uncached_prompt_tok_s=1e9,
    )
    summary = batch.run(read_requests(iter_lines(write_batch(7))), sink)
    assert sink.count == 7
    assert len(summary.latencies_s) == len(summary.request_prompt_tokens) == 7
    assert summary.tokens_evaluated == summary.prompt_tokens


def test_an_unexpected_exception_costs_one_request_not_the_run(
    fake_engine: FakeEngine, write_batch: Callable[[int], Path], tmp_path: Path
) -> None:
    fake_engine.faults["candidate 2"] = [RuntimeError("bug")]  # not an EngineError
    summary = run(fake_engine, write_batch(6), tmp_path / "out.jsonl", concurrency=2)
    by_id = {r["custom_id"]: r for r in read_out(tmp_path / "out.jsonl")}
    assert by_id["c2"]["error"]["code"] == "internal_error"
    assert summary.succeeded == 5


def test_ctrl_c_while_the_queues_are_being_ended_still_writes_the_requests_in_flight(
    write_batch: Callable[[int], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Ctrl-C after the last request was queued, as the queues get their end markers: the
    requests already sent are still awaited and written, and the run says it was stopped."""
    engine = FakeEngine(delay_s=0.5)
    batch = make_batch_engine(engine, retry=FAST_RETRY, concurrency=2)  # type: ignore[arg-type]
    put = batch._put
    fired: list[bool] = []

    def put_then_interrupt(q: Any, item: Any, *, force: bool = False) -> None:
        if item is None and not fired:
            fired.append(True)
            # Both requests are in flight (however slowly the workers got to them): a job a
            # worker had not taken yet would rightly be skipped by the stop.
            deadline = time.monotonic() + 30
            while engine.active < 2 and time.monotonic() < deadline:
                time.sleep(0.001)
            raise KeyboardInterrupt
        put(q, item, force=force)

    monkeypatch.setattr(batch, "_put", put_then_interrupt)
    out = tmp_path / "out.jsonl"
    with OutputWriter(out) as writer:
        summary = batch.run(read_requests(iter_lines(write_batch(2))), writer, writer.done)
    assert fired
    assert summary.interrupted
    assert sorted(r["custom_id"] for r in read_out(out)) == ["c0", "c1"]
