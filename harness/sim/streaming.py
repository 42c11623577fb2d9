"""Running one generation request: admission, the token stream, faults, the final counters.

Counters: `load_duration` is the wall time from receipt until the job got its slot (queue
wait and model load included, as OLLAMA.md says); `prompt_eval_duration` and
`eval_duration` are the scaled step times the runner slept, so they match what a client
measures; `total_duration` is receipt to final chunk.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from harness.sim.catalog import now_rfc3339
from harness.sim.faults import FaultPlan
from harness.sim.generation import (
    Prepared,
    make_job,
    prepare_chat,
    prepare_generate,
    token_ids,
)
from harness.sim.model_runner import Job
from harness.sim.request_options import ApiError
from harness.sim.wire import CRASH, Format, OllamaChat, OllamaGenerate, OpenAIChat, dumps
from harness.sim.wire import openai_to_ollama as to_native

if TYPE_CHECKING:
    from harness.sim.handler import Handler

# The start of a chunk cut off mid-object: what a client sees as "not JSON".
MALFORMED = b'{"model":"sim","created_at":"2025-10-01T12:00:00Z","message":{"role":"assis\n'


class _Stopped(Exception):
    """The server is shutting down in the middle of a stream."""


def native(h: Handler, kind: str) -> None:
    body = h.read_json()
    h.record["model"] = body.get("model")
    sched = h.app.scheduler
    prep = prepare_chat(body, sched) if kind == "chat" else prepare_generate(body, sched)
    name = str(body["model"])
    if prep.tokens is None:
        _load_or_unload(h, prep, name, kind)
        return
    fmt: Format
    if kind == "chat":
        fmt = OllamaChat(name)
    else:
        fmt = OllamaGenerate(name, None if body.get("raw") else [])
    run(h, prep, fmt, stream=body.get("stream", True) is not False)


def openai(h: Handler) -> None:
    body = h.read_json()
    h.record["model"] = body.get("model")
    prep = prepare_chat(to_native(body), h.app.scheduler)
    if prep.tokens is None:
        raise ApiError(400, "[] is too short - 'messages'")
    usage = bool((body.get("stream_options") or {}).get("include_usage"))
    run(h, prep, OpenAIChat(str(body["model"]), usage), stream=bool(body.get("stream")))


def _load_or_unload(h: Handler, prep: Prepared, name: str, kind: str) -> None:
    sched = h.app.scheduler
    if prep.unload:
        sched.unload(prep.model)
        reason = "unload"
    else:
        plan = h.app.faults.plan(h.index, 0)
        sched.admit(
            None, prep.model, prep.cfg, prep.opts.load_key(), prep.keep_alive_s, plan.load_500
        )
        reason = "load"
    body: dict[str, Any] = {"model": name, "created_at": now_rfc3339()}
    if kind == "chat":
        body["message"] = {"role": "assistant", "content": ""}
    else:
        body["response"] = ""
    h.send_json(200, {**body, "done": True, "done_reason": reason})


def run(h: Handler, prep: Prepared, fmt: Format, stream: bool) -> None:
    app = h.app
    sched = app.scheduler
    job = make_job(h.record["request_id"], prep)
    plan = app.faults.plan(h.index, len(job.text))
    if plan.hang:
        # Hold the connection without a byte until the client gives up (bounded).
        app.pace.stop.wait(app.faults.hang_s)
        h.drop()
        return
    runner = sched.admit(
        job, prep.model, prep.cfg, prep.opts.load_key(), prep.keep_alive_s, plan.load_500
    )
    load_ns = time.perf_counter_ns() - h.record["received_ns"]
    try:
        if stream:
            _stream(h, job, prep, fmt, plan, load_ns)
        else:
            _whole(h, job, prep, fmt, plan, load_ns)
    except (_Stopped, BrokenPipeError, ConnectionResetError):
        h.drop()
    finally:
        with sched.cond:
            job.cancelled = job in runner.active
            sched.cond.notify_all()
        sched.finished(runner, prep.keep_alive_s)


def _tokens(h: Handler, job: Job) -> Iterator[str]:
    while True:
        try:
            kind, value = job.events.get(timeout=0.1)
        except queue.Empty:
            if h.app.stopping:
                raise _Stopped from None
            continue
        if kind == "done":
            return
        yield str(value)


def _counters(h: Handler, job: Job, prep: Prepared, load_ns: int) -> dict[str, Any]:
    """The final counters; a zero is left out, as Ollama's `omitempty` Metrics do (one
    generated token has no eval_duration: it came with the prompt's last batch)."""
    sent = prep.sent_count if h.app.behaviour.silent_truncation_no_sign else len(job.tokens)
    counters = {
        "total_duration": time.perf_counter_ns() - h.record["received_ns"],
        "load_duration": load_ns,
        "prompt_eval_count": sent,
        "prompt_eval_duration": job.prompt_ns,
        "eval_count": job.generated,
        "eval_duration": job.eval_ns,
    }
    return {key: value for key, value in counters.items() if value}


def _finish_context(fmt: Format, job: Job, prep: Prepared) -> None:
    if isinstance(fmt, OllamaGenerate) and fmt.context is not None:
        fmt.context = token_ids(job.tokens + [t.strip() for t in job.text], prep.model.vocab_size)


def _stream(
    h: Handler, job: Job, prep: Prepared, fmt: Format, plan: FaultPlan, load_ns: int
) -> None:
    record = h.record
    started = False
    for i, text in enumerate(_tokens(h, job)):
        if plan.disconnect_at == i:
            h.drop()
            return
        if not started:
            h.start_stream(fmt.content_type)
            started = True
        if plan.error_at == i:
            h.write_chunk(fmt.error(CRASH))
            h.end_stream()
            return
        if plan.malformed_at == i:
            h.write_chunk(MALFORMED)
        if i == 0 and plan.slow_first_token:
            h.app.pace.sleep_modelled(h.app.pace.wall_ns(h.app.faults.slow_first_token_s))
        written = h.write_chunk(fmt.chunk(text))
        record["chunk_ns"].append(written)
        if record["first_content_ns"] is None and text:
            record["first_content_ns"] = written
    if not started:
        h.start_stream(fmt.content_type)
    _finish_context(fmt, job, prep)
    record["done_ns"] = h.write_chunk(fmt.final(job.done_reason, _counters(h, job, prep, load_ns)))
    h.end_stream()


def _whole(
    h: Handler, job: Job, prep: Prepared, fmt: Format, plan: FaultPlan, load_ns: int
) -> None:
    texts = list(_tokens(h, job))
    if plan.disconnect_at is not None:
        h.drop()
        return
    if plan.error_at is not None:
        h.send_error_json(500, CRASH)
        return
    if plan.malformed_at is not None:
        h.send_bytes(200, "application/json; charset=utf-8", MALFORMED)
        return
    _finish_context(fmt, job, prep)
    body = fmt.whole("".join(texts), job.done_reason, _counters(h, job, prep, load_ns))
    h.send_bytes(200, "application/json; charset=utf-8", dumps(body))
