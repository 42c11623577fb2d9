"""Concurrency sweeps and the capacity answer (issue 13; seed 002's 170,000-request job).

Per (model, context) and per OLLAMA_NUM_PARALLEL value: a closed-loop sweep of client
concurrency (the section's `levels`) that stops when throughput no longer grows while TTFT
does, then optional open-loop Poisson `rates` timed from each request's scheduled send.
Each level reports TTFT / ITL / end-to-end percentiles, requests/s, output tok/s, errors
and goodput against the section's `slo`. The sweeps join the memory cost of a slot
(/api/ps at two contexts per slot value) into the `capacity` answer: the most slots that
fit, the best setting under the targets, and hours for `job_requests` requests.

Results: `concurrency[]` (one entry per sweep) and `capacity` in results.json, and one
recommended setting per model in the terminal summary. Under `--engine sim` the suite
starts its own simulator per slot value (same profile and speed as the session's).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from harness.api import HarnessRun
from harness.concurrency import CellState, DeviceBudget, ServerSource, run_cell, slot_plan
from harness.concurrency.cell import PROBE_CONTEXTS
from harness.concurrency.report import NOTE_PREFIX, summary_notes
from harness.concurrency.servers import loaded_size
from harness.engines import Engine
from harness.engines.loading import load_model
from harness.errors import ConfigError
from harness.limits.probe import capacity
from harness.results.schema import CapacityEntry


def _budget_reader(harness_run: HarnessRun, model: str) -> Callable[[Engine], DeviceBudget]:
    """The memory budget, less what a loaded runner takes beyond its /api/ps size.

    /api/ps leaves out the runner's own overhead (the CUDA context, ~0.4 GiB on a real
    card), which the device's used memory shows: without it the capacity would promise
    slots that spill.
    """

    def read(engine: Engine) -> DeviceBudget:
        sampler = harness_run.new_sampler(engine)
        sampler.start()
        try:
            load_model(engine, model, {"num_ctx": PROBE_CONTEXTS[0]})
            sampler.mark("after")
            size = loaded_size(engine, model)
        finally:
            sampler.stop()
        summary = sampler.summary()
        cap = capacity(summary, harness_run.budget)
        if cap.available_bytes is None:
            return DeviceBudget(gpu=cap.gpu, available_bytes=None)
        overhead = _runner_overhead(summary, cap.gpu, size)
        return DeviceBudget(gpu=cap.gpu, available_bytes=cap.available_bytes - overhead)

    return read


def _runner_overhead(
    summary: dict[str, Any], gpu: bool, size: tuple[int, int, int | None] | None
) -> int:
    if size is None:
        return 0
    overall = summary.get("overall") or {}
    grown = 0.0
    for metric, stats in overall.items():
        on_device = metric.endswith(".mem_used_bytes") if gpu else "ram_used" in metric
        if on_device and "harness_host" not in metric and isinstance(stats, dict):
            grown += (stats.get("peak") or 0) - (stats.get("baseline") or 0)
    return max(0, int(grown) - (size[1] if gpu else size[0] - size[1]))


def test_concurrency(
    concurrency_case: Any,
    harness_run: HarnessRun,
    engine: Engine,
    capacity_store: Any,
    record_section: Callable[[str, Any], None],
) -> None:
    case = concurrency_case
    harness_run.require_model(case.model)
    try:
        plan = slot_plan(
            case.section,
            simulated=harness_run.simulated,
            sim_parallel=harness_run.option("sim_parallel"),
        )
    except ConfigError as exc:
        pytest.skip(str(exc))
    source = ServerSource(
        engine_kind=harness_run.engine_kind,
        session_engine=engine,
        sim_profile=harness_run.sim_profile,
        sim_speed=harness_run.sim_speed,
        launch=case.section.launch,
    )
    state = capacity_store.states.setdefault((case.matrix, case.model), CellState())
    sweeps, entry = run_cell(
        case.section,
        case.model,
        case.context,
        plan=plan,
        source=source,
        scale=harness_run.time_scale,
        read_budget=_budget_reader(harness_run, case.model),
        state=state,
    )
    for sweep in sweeps:
        record_section("concurrency", sweep)
    capacity_store.entries[(case.model, case.context)] = entry
    whole = {
        "simulated": harness_run.simulated,
        "entries": list(capacity_store.entries.values()),
    }
    record_section("capacity", whole)
    # One line per model in the terminal summary, replaced as later contexts finish.
    entries = [CapacityEntry.from_json(e) for e in capacity_store.entries.values()]
    harness_run.set_notes(NOTE_PREFIX, summary_notes(entries))
    failed = [s for s in sweeps if all(lv["errors"] == lv["requests"] for lv in s["levels"])]
    if failed:
        pytest.fail(f"{case.model} @ {case.context}: every request failed", pytrace=False)
