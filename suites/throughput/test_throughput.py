"""Batch throughput at growing sizes, per strategy, projected to the 170,000-request job.

For each matrix with a `throughput` section and each of its strategies: the model is loaded,
the uncached prompt rate measured, then every size runs a deterministic synthetic batch
(one shared system prompt, varying candidates). PASS when every size finishes without
errors, memory stays under the safe limit and req/s varies by at most `max_spread`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from harness.batch.extrapolate import extrapolate
from harness.batch.fixture import uncached_prompt_rate
from harness.batch.memory import SimProbe, close_probe, nvml_probe
from harness.batch.synthetic import system_prompt
from harness.batch.throughput import (
    SizeResult,
    case_dict,
    conversation_trim_plan,
    judge,
    run_size,
    throughput_case_settings,
)
from harness.batchapi.suite import batch_api_option
from harness.engines.loading import load_model


def test_throughput(
    throughput_case: Any,
    batch_engine: Callable[..., Any],
    harness_run: Any,
    engine: Any,
    record_case: Callable[[dict[str, Any]], None],
    run_sections: Callable[[str, Any], None],
) -> None:
    case, section = throughput_case, throughput_case.section
    harness_run.require_model(case.model)
    options = {"num_ctx": section.num_ctx} if section.num_ctx else {}
    load_model(engine, case.model, options, keep_alive=-1)  # load time is not batch time
    probe = SimProbe(engine.base_url) if harness_run.simulated else nvml_probe()
    try:
        _run(case, section, batch_engine, harness_run, engine, record_case, run_sections,
             probe, options)  # fmt: skip
    finally:
        close_probe(probe)


def _run(
    case: Any, section: Any, batch_engine: Callable[..., Any], harness_run: Any,
    engine: Any, record_case: Callable[[dict[str, Any]], None],
    run_sections: Callable[[str, Any], None], probe: Any, options: dict[str, Any],
) -> None:  # fmt: skip
    first = probe() if probe else None
    total = first.total_bytes if first else None
    rate = uncached_prompt_rate(engine, case.model, system_prompt(section.system_prompt_tokens),
                                options)  # fmt: skip
    settings = {
        "concurrency": section.concurrency, "options": options, "memory": probe,
        "uncached_prompt_tok_s": rate, "trim_strategy": section.trim_strategy,
        "trim_interval": section.trim_interval, "trim_threshold": section.trim_threshold,
        "keep_messages": section.keep_messages,
        # The simulator's own clock (or the client's for a real server): durations come out
        # in the profiled machine's time with nothing else multiplied by --sim-speed.
        "clock_ns": harness_run.clock_ns,
    }  # fmt: skip
    results: list[SizeResult] = []
    for size in section.sizes:
        result = run_size(
            batch_engine, section, model=case.model, strategy=case.strategy, size=size,
            simulated=harness_run.simulated,
            settings=settings, memory_total=total,
        )  # fmt: skip
        results.append(result)
        run_sections("throughput", result.entry)
    projection = extrapolate([r.run for r in results], strategy=case.strategy,
                             target=section.extrapolate_to)  # fmt: skip
    run_sections("extrapolation", projection)
    failures = judge(results, section)
    entries = [r.entry for r in results]
    # Conversation batching: the trim settings its measured growth calls for (issue 18).
    plan = conversation_trim_plan(results, section) if case.strategy == "conversation" else None
    record_case({
        **case_dict(case.matrix, case.model, case.strategy, entries, failures, projection, plan),
        **throughput_case_settings(section, total),  # what the job plan needs (issue 18)
    })  # fmt: skip
    if failures:
        pytest.fail(f"{case.model} {case.strategy}: " + "; ".join(failures), pytrace=False)


def test_throughput_batch_api(
    throughput_case: Any,
    request: pytest.FixtureRequest,
    harness_run: Any,
    record_case: Callable[[dict[str, Any]], None],
    run_sections: Callable[[str, Any], None],
) -> None:
    """The same sizes sent as batches to the --batch-api server (it picks the strategy)."""
    from harness.batchapi.client import BatchApiClient
    from harness.batchapi.throughput import STRATEGY, run_size_via_api

    case, section = throughput_case, throughput_case.section
    if case.strategy != section.strategies[0]:
        pytest.skip(f"the batch server runs its own strategy; measured once, as {STRATEGY!r}")
    with BatchApiClient(str(batch_api_option(request.config, "batch_api"))) as client:
        results = [
            run_size_via_api(client, section, model=case.model, size=size,
                             time_scale=harness_run.time_scale,
                             simulated=harness_run.simulated)
            for size in section.sizes
        ]  # fmt: skip
    for result in results:
        run_sections("throughput", result.entry)
    projection = extrapolate([r.run for r in results], strategy=STRATEGY,
                             target=section.extrapolate_to)  # fmt: skip
    run_sections("extrapolation", projection)
    failures = judge(results, section)
    entries = [r.entry for r in results]
    record_case(case_dict(case.matrix, case.model, STRATEGY, entries, failures, projection))
    if failures:
        pytest.fail(f"{case.model} via {STRATEGY}: " + "; ".join(failures), pytrace=False)
