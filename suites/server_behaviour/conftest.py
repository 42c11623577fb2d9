"""Settings of the server-behaviour suite.

The model: `HARNESS_BEHAVIOUR_MODEL`, else qwen2.5:3b-instruct when the server has it,
else the smallest pulled model of the selected matrices. The server's parallel slots: the
simulator's `--sim-parallel`, or for a real server `OLLAMA_NUM_PARALLEL` in the environment
that runs pytest (set it to the server's value; unset, the slot count is only reported).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from harness.api import HarnessRun
from harness.behaviour_checks import CHECKS, DEFAULT_MODEL, BehaviourSettings, Finding

MODEL_ENV = "HARNESS_BEHAVIOUR_MODEL"


def _model(harness_run: HarnessRun, engine: Any) -> str:
    if os.environ.get(MODEL_ENV):
        return os.environ[MODEL_ENV]
    sizes = {t.name: t.size for t in engine.tags()}
    sizes.update({n.removesuffix(":latest"): s for n, s in list(sizes.items())})
    if DEFAULT_MODEL in sizes:
        return DEFAULT_MODEL
    wanted = {m.name for matrix in harness_run.matrices for m in matrix.models}
    pulled = sorted((sizes[n], n) for n in wanted if n in sizes)
    return pulled[0][1] if pulled else DEFAULT_MODEL


def _num_parallel(harness_run: HarnessRun) -> int | None:
    if harness_run.simulated:
        return int(harness_run.option("sim_parallel"))
    raw = os.environ.get("OLLAMA_NUM_PARALLEL", "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else None


@pytest.fixture
def behaviour_settings(harness_run: HarnessRun, engine: Any) -> BehaviourSettings:
    """Which model the checks drive, and what the server declares about itself."""
    model = _model(harness_run, engine)
    harness_run.require_model(model)
    kv_type = "f16" if harness_run.simulated else os.environ.get("OLLAMA_KV_CACHE_TYPE")
    return BehaviourSettings(
        model=model,
        num_parallel=_num_parallel(harness_run),
        kv_type=kv_type or "f16",
        time_scale=harness_run.time_scale,
    )


@pytest.fixture
def run_check(
    engine: Any,
    behaviour_settings: BehaviourSettings,
    harness_run: HarnessRun,
    record_case: Callable[[dict[str, Any]], None],
) -> Callable[[str], Finding]:
    """Run the named check, record it as a case, and fail or skip the test on its finding."""

    def run(name: str) -> Finding:
        settings = behaviour_settings
        finding = CHECKS[name](engine, settings)
        verdict = {True: "pass", False: "fail", None: "skipped"}[finding.passed]
        record_case(
            {
                "id": f"behaviour:{name}",
                "model": settings.model,
                "num_ctx": settings.num_ctx,
                "options": {"num_parallel": settings.num_parallel, "kv_type": settings.kv_type},
                "server": engine.base_url,
                "engine": engine.kind,
                "time_scale": harness_run.time_scale,
                "use_case": "server behaviour (seed 004)",
                "samples": [],
                "metrics": {},
                "checks": [],
                "details": finding.details,
                "verdict": verdict,
                "reason": finding.message,
            }
        )
        if finding.passed is None:
            pytest.skip(finding.message)
        if not finding.passed:
            pytest.fail(f"{name}: {finding.message}", pytrace=False)
        return finding

    return run
