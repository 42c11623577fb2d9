"""Sustained agentic workloads (seed 001, Phase 2): does the model hold up for minutes?

Each workload of a matrix's `sustained:` section runs request after request for
`duration_s` wall-clock seconds (`HARNESS_SUSTAINED_DURATION_S` overrides it): `coding`
sends tens of thousands of tokens of code with a refactoring task, `rag` several
documents and a question, `chat` one conversation that grows turn by turn and is trimmed
before it passes num_ctx. PASS: success >= `success_min` (95%) and mean decode tok/s >=
`tok_s_min`. Drift of decode tok/s and TTFT and the growth of memory are reported as slopes
with 95% intervals, and fail only past the matrix's `drift_max_per_hour` /
`memory_growth_max_bytes`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from harness.api import HarnessRun
from harness.errors import ConfigError
from harness.hardware import HardwareSampler
from harness.hardware.case_memory import memory_block
from harness.workloads import SustainedSettings, build_case, duration_s, run_sustained


def test_sustained(
    sustained_case: Any,
    harness_run: HarnessRun,
    engine: Any,
    hardware: HardwareSampler,
    record_case: Callable[[dict[str, Any]], None],
) -> None:
    spec = sustained_case.spec
    harness_run.require_model(spec.model)
    try:
        seconds = duration_s(sustained_case.section)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    settings = SustainedSettings(duration_s=seconds, time_scale=harness_run.time_scale)
    run = run_sustained(engine, spec, settings, mark=lambda phase: hardware.mark(phase))
    hardware.stop()
    summary = hardware.summary()
    memory = memory_block(summary, harness_run.budget)
    case = build_case(
        run,
        matrix=sustained_case.matrix,
        server=engine.base_url,
        engine_kind=engine.kind,
        hardware=summary,
        memory=memory,
        # Growth is fitted from the steady state on: the load and warm-up come before it.
        memory_readings=hardware.readings_since(memory["metric"], "prefill") if memory else (),
    )
    record_case(case)
    if case["verdict"] != "pass":
        pytest.fail(f"{spec.id}: {case['verdict']}: {case['reason']}", pytrace=False)
