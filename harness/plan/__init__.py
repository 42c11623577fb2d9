"""The answers a person acts on, computed from a run's results: the job plan and the
use-case recommendations, with their renderers and YAML presets.

    facts.py     the typed run's throughput strategies and use-case cells, grouped for the plan
    model.py     JobPlan, Projection, Recommendation, ...: typed, to_json / from_json
    job.py       plan_job(run, requests) -> JobPlan (pure)
    usecases.py  recommendations(run) -> [Recommendation] (pure)
    text.py      lines for the terminal and `harness plan`
    render.py    matrix.md sections, matrix.csv rows, the HTML report's view
    preset.py    job-plan.yaml and presets/*.yaml; `harness batch run --plan`
    cli.py       `harness plan RUN`

Each renderer of the run (terminal summary, report, matrix.md, matrix.csv) makes one call
into `harness.plan.render`. Every entry point takes the typed run
(`harness.results.schema.RunResults`) or a payload in memory, which it types first.
"""

from __future__ import annotations

from typing import Any

from harness.plan.job import plan_job
from harness.plan.model import JobPlan, Recommendation
from harness.plan.usecases import recommendations
from harness.results.schema import JsonObject, RunResults, as_run

__all__ = ["JobPlan", "Recommendation", "plan_job", "recommendations", "sections"]


def sections(payload: RunResults | JsonObject) -> dict[str, Any]:
    """The run-level sections this package adds to results.json (`job_plan`, `recommendations`)."""
    run = as_run(payload)
    plan = plan_job(run)
    return {
        "job_plan": plan.to_json() if plan.measured else None,
        "recommendations": [r.to_json() for r in recommendations(run)],
    }
