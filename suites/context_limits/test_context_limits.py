"""Context limits (seed 000, Test 1): the largest context each model can use on this machine.

For every model of the selected matrices' `limits:` sections: predict the memory from
/api/show and /api/tags, probe loads at chosen contexts from the prediction down to a
resolution step, fit memory = base + bytes/token x context, and recommend the settings to
paste (MAX_CONTEXT_TOKENS, CONTEXT_TRIM_THRESHOLD, TRIM_INTERVAL, KEEP_MESSAGES, num_ctx).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from harness.api import HarnessRun
from harness.engines import Engine
from harness.engines.base import LoadControl
from harness.limits import Discovery, discover
from harness.limits.recovery import Backoff


def _case(limit: dict[str, Any], matrix: str) -> dict[str, Any]:
    """The search as a case, so it appears in the matrix table and the summary."""
    return {
        "id": f"limits:{limit['model']}",
        "matrix": matrix,
        "model": limit["model"],
        "num_ctx": limit["max_context"],
        "options": {},
        "samples": [],
        "metrics": {},
        "checks": [],
        "verdict": limit["verdict"],
        "reason": limit["reason"],
        "use_case": "Context limits",
    }


def test_context_limits(
    limit_case: Any,
    harness_run: HarnessRun,
    engine: Engine,
    hardware_name: str,
    record_section: Callable[[str, Any], None],
    record_case: Callable[[dict[str, Any]], None],
) -> None:
    spec = limit_case.model
    if not isinstance(engine, LoadControl):
        pytest.skip(
            f"limits:{spec.name}: this {engine.kind} server cannot load a model at a chosen "
            "context (no LoadControl), which every probe of the search does; run it on "
            "Ollama, or let the harness start the server with --launch"
        )
    harness_run.require_model(spec.name, engine)
    job = Discovery(
        model=spec.name,
        hardware=hardware_name,
        new_sampler=lambda: harness_run.new_sampler(engine),
        budget=harness_run.budget,
        policy=spec.policy,
        options=spec.options,
        resolution=limit_case.section.resolution,
        recovery=Backoff(total_s=limit_case.section.recovery_s),
        verify_fill=bool(harness_run.option("verify_fill")),
        time_scale=harness_run.time_scale,
        max_context=spec.max_context,
    )
    limit = {"matrix": limit_case.matrix, **discover(engine, job)}
    record_section("limits", limit)
    record_case(_case(limit, limit_case.matrix))
    if limit["verdict"] != "pass":
        pytest.fail(f"limits:{spec.name}: {limit['reason']}", pytrace=False)
