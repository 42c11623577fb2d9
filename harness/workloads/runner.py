"""The sustained loop: load, warm up, then one request after another until time is up.

Each request becomes one sample, in simulated time (durations x `time_scale`, rates divided
by it; `time_scale` is 1 for a real server). The warm-up is a quarter-size request: it loads
the model's caches and measures tokens per word without risking an overflowing first
prompt; it is kept apart from the samples. Out of memory, an unreachable server or a
missing model end the run at once (nothing after them would be a measurement); other
failures count against the success rate and the run goes on, unless they keep coming.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness import errors
from harness.engines.base import NS_PER_S, Engine, StreamMeasurement
from harness.engines.loading import load_model
from harness.measure.samples import sample_record, scaled_s
from harness.measure.stats import import_numpy_now
from harness.workloads.section import WorkloadSpec
from harness.workloads.traffic import Conversation, Request, Traffic, traffic_for

_FATAL = (errors.OutOfMemory, errors.ServerUnreachable, errors.ModelNotFound)
WARMUP_SCALE = 0.25  # a quarter-size first request cannot overflow on a wrong first guess
TRUNCATION_TOLERANCE = 0.10  # generated text varies in tokens per word; a cut is far larger


@dataclass(frozen=True)
class SustainedSettings:
    duration_s: float
    time_scale: float = 1.0
    keep_alive: str = "10m"
    max_consecutive_errors: int = 10


@dataclass
class SustainedRun:
    """What the loop saw; `steady_ns` marks the end of load and warm-up."""

    spec: WorkloadSpec
    settings: SustainedSettings
    load: dict[str, Any] | None = None
    warmup: dict[str, Any] | None = None
    samples: list[dict[str, Any]] = field(default_factory=list)
    stopped: str | None = None  # why the loop ended early
    started_ns: int = 0
    steady_ns: int = 0
    ended_ns: int = 0


Mark = Callable[[str], None]


def run_sustained(
    engine: Engine,
    spec: WorkloadSpec,
    settings: SustainedSettings,
    mark: Mark | None = None,
    clock: Callable[[], int] = time.perf_counter_ns,
) -> SustainedRun:
    """Drive `spec` on `engine` for `settings.duration_s` wall seconds."""
    note: Mark = mark or (lambda phase: None)
    run = SustainedRun(spec, settings, started_ns=clock())
    traffic = traffic_for(
        spec.kind, zlib.crc32(spec.id.encode()), spec.num_ctx, spec.num_predict, spec.fill
    )
    options = {"num_ctx": spec.num_ctx, "num_predict": spec.num_predict}
    import_numpy_now()  # samples take percentiles; numpy's import must not land in the loop
    try:
        note("load")
        loaded = load_model(
            engine, spec.model, {"num_ctx": spec.num_ctx}, keep_alive=settings.keep_alive
        )
        run.load = {
            "load_duration_s": scaled_s(loaded.load_duration_ns, settings.time_scale),
            "wall_s": loaded.wall_ns * settings.time_scale / NS_PER_S,
        }
        run.warmup = _one(engine, spec, traffic, 0, options, settings, warmup=True)
    except errors.EngineError as exc:
        run.stopped = f"{exc.outcome} while loading: {exc}"
        run.ended_ns = run.steady_ns = clock()
        return run
    note("prefill")  # the steady state starts here (memory trends are fitted from it)
    run.steady_ns = clock()
    deadline = run.steady_ns + int(settings.duration_s * NS_PER_S)
    failures_in_a_row = 0
    index = 1
    while clock() < deadline:
        try:
            sample = _one(engine, spec, traffic, index, options, settings)
        except errors.EngineError as exc:
            sample = {"outcome": exc.outcome, "error": str(exc)}
            if isinstance(traffic, Conversation):
                traffic.failed()
            if isinstance(exc, _FATAL):
                run.stopped = f"{exc.outcome}: {exc}"
        sample.update(turn=index, t_s=(clock() - run.steady_ns) * settings.time_scale / NS_PER_S)
        run.samples.append(sample)
        failures_in_a_row = 0 if sample["outcome"] == "ok" else failures_in_a_row + 1
        if run.stopped:
            break
        if failures_in_a_row >= settings.max_consecutive_errors:
            run.stopped = f"{failures_in_a_row} requests in a row failed; last: {sample['error']}"
            break
        index += 1
    note("after")
    run.ended_ns = clock()
    return run


def _one(
    engine: Engine,
    spec: WorkloadSpec,
    traffic: Traffic,
    index: int,
    options: dict[str, Any],
    settings: SustainedSettings,
    warmup: bool = False,
) -> dict[str, Any]:
    request = traffic.next_request(index, WARMUP_SCALE if warmup else 1.0)
    got = engine.chat(spec.model, request.messages, options=options, keep_alive=settings.keep_alive)
    sample = _sample(got, request, settings)
    counted = got.counters.prompt_eval_count or 0
    if warmup and 0 < counted < spec.num_ctx * WARMUP_SCALE * 2:
        # The warm-up measures tokens per word: its count differing from the first guess
        # is the calibration, not a truncation (the prompt is far below num_ctx).
        sample.update(outcome="ok", error=None, calibrated_from=sample["expected_prompt_tokens"])
    if sample["outcome"] == "ok":
        traffic.answered(request, got.text, counted, got.counters.eval_count or 0)
    elif isinstance(traffic, Conversation):
        traffic.failed()
    return sample


def _sample(
    got: StreamMeasurement, request: Request, settings: SustainedSettings
) -> dict[str, Any]:
    sample = sample_record(
        got,
        time_scale=settings.time_scale,
        expected_tokens=request.expected_tokens,
        truncation_tolerance=TRUNCATION_TOLERANCE,
    )
    sample.update(messages=len(request.messages), trimmed=request.trimmed)
    return sample
