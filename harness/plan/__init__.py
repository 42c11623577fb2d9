"""The answers a person acts on, computed from a run's results: the job plan and the
use-case recommendations, with their renderers and YAML presets.

    facts.py     accessors: results.json sections -> frozen views (the only raw-dict reader)
    model.py     JobPlan, Projection, Recommendation, ...: typed, to_json / from_json
    job.py       plan_job(payload, requests) -> JobPlan (pure)
    usecases.py  recommendations(payload) -> [Recommendation] (pure)
    text.py      lines for the terminal and `harness plan`
    render.py    matrix.md sections, matrix.csv rows, the HTML report's view
    preset.py    job-plan.yaml and presets/*.yaml; `harness batch run --plan`
    cli.py       `harness plan RUN`

Each renderer of the run (terminal summary, report, matrix.md, matrix.csv) makes one call
into `harness.plan.render`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.plan.job import plan_job
from harness.plan.model import JobPlan, Recommendation
from harness.plan.usecases import recommendations

__all__ = ["JobPlan", "Recommendation", "plan_job", "recommendations", "sections"]


def sections(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The run-level sections this package adds to results.json (`job_plan`, `recommendations`)."""
    plan = plan_job(payload)
    return {
        "job_plan": plan.to_json() if plan.measured else None,
        "recommendations": [r.to_json() for r in recommendations(payload)],
    }
