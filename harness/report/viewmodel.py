"""Turning a results payload into the rows and blocks the report shows.

Everything here is plain strings and numbers, computed once, so the templates are loops over
ready values (the matrix of a 10,000-case run is one loop with no per-cell logic).

Every section comes typed from `harness.results.schema`:
- throughput[], extrapolation, capacity, limits, job_plan, recommendations: read by
  harness.plan (its `plan_view`: seed 000's tables, projections, plan, use cases)
- concurrency[] and capacity{entries}: see harness/report/concurrency.py
- history (typed): tonight is added as the last point (unless a history entry has this
  run_id) for the metric names the history uses, taken from cases[].metrics[name].p50
  (`name` or `name_p50`), stability.score (`stability`) and memory.delta_bytes
  (`memory_delta_bytes`)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from harness.plan.render import PlanView
from harness.plan.render import throughput_view as plan_view
from harness.report import fmt
from harness.report.charts import (
    Chart,
    context_charts,
    history_charts,
    memory_chart,
    throughput_chart,
)
from harness.report.concurrency import CapacityView, capacity_view
from harness.report.rows import Problem, Row, StabilityTable, matrix_row, problem, stability
from harness.results.schema import (
    Case,
    Gpu,
    JsonObject,
    Limit,
    RunResults,
    as_run,
    text,
)


@dataclass(frozen=True)
class LimitView:
    model: str
    max_context: str
    bytes_per_token: str
    base: str
    r2: str
    recommended: str
    trim: str
    settings: str


@dataclass(frozen=True)
class Report:
    title: str
    run_id: str
    simulated: bool
    fingerprint: list[tuple[str, str]]
    summary: str
    rows: list[Row]
    problems: list[Problem]
    stability: StabilityTable | None
    limits: list[LimitView]
    throughput: PlanView | None
    charts: dict[str, list[Chart]] = field(default_factory=dict)
    capacity: CapacityView | None = None


def build(payload: RunResults | JsonObject) -> Report:
    """The whole report view of one payload."""
    run = as_run(payload)
    cases = run.cases
    run_id = run.run_id or "run"
    gpus = run.fingerprint.gpus
    gpu_bytes = gpus[0].memory_bytes if gpus else None
    charts = {
        "context": context_charts(cases),
        "memory": [c for lim in run.limits if (c := memory_chart(lim, gpu_bytes)) is not None],
        "throughput": [c for c in [throughput_chart(run.throughput, run.extrapolation)] if c],
        "history": history_charts(
            run.history,
            current_metrics(cases) if run.history else {},
            (run.started_at or "")[:10] or run_id,
            run_id,
        ),
    }
    prefix = "SIMULATED " if run.simulated else ""
    return Report(
        title=f"{prefix}Harness report {run_id}",
        run_id=run_id,
        simulated=run.simulated,
        fingerprint=fingerprint(run),
        summary=summary(cases),
        rows=[matrix_row(case) for case in cases],
        problems=[p for case in cases if (p := problem(case)) is not None],
        stability=stability(cases),
        limits=[limit(lim) for lim in run.limits],
        throughput=plan_view(run),  # throughput, projections, job plan, use cases
        charts=charts,
        capacity=capacity_view(run),
    )


def fingerprint(run: RunResults) -> list[tuple[str, str]]:
    fp = run.fingerprint
    gpus = "; ".join(gpu_text(g) for g in fp.gpus or ())
    cpu = text(fp.cpu)
    if fp.cpu_count is not None:
        cpu += f" ({fmt.count(fp.cpu_count)} threads)"
    server = " ".join(part for part in (text(fp.engine), fp.server_version) if part)
    if fp.server_url:
        server += f" at {fp.server_url}"
    harness = fp.harness_version
    if fp.git_sha:
        harness += f" ({fp.git_sha[:12]})"
    baseline = run.baseline
    verdicts = ", ".join(f"{n} {v}" for v, n in baseline.verdicts.items())
    sim = fp.sim
    items = [
        ("Host", fp.host),
        ("GPU", gpus or ("none" if fp.gpus is not None else "")),
        ("CPU", cpu),
        ("RAM", fmt.size(fp.ram_bytes)),
        ("Server", server),
        ("Simulator profile", text(sim.profile) if sim else ""),
        ("Matrices", ", ".join(fp.matrices) if fp.matrices is not None else ""),
        ("Started", run.started_at or ""),
        ("Duration", fmt.seconds(run.duration_s)),
        ("Platform", " / ".join(p for p in (fp.platform, fp.python) if p)),
        ("Harness", harness),
        (
            "Baseline",
            " ".join(p for p in (baseline.name, f"({verdicts})" if verdicts else "") if p),
        ),
    ]
    return [(k, v) for k, v in items if v]


def gpu_text(gpu: Gpu) -> str:
    details = [fmt.size(gpu.memory_bytes)]
    if gpu.driver:
        details.append(f"driver {gpu.driver}")
    shown = ", ".join(d for d in details if d)
    return gpu.name + (f" ({shown})" if shown else "")


def summary(cases: Sequence[Case]) -> str:
    counts = Counter(c.verdict or c.outcome or "?" for c in cases)
    parts = ", ".join(f"{n:,} {v}" for v, n in counts.most_common())
    noun = "case" if len(cases) == 1 else "cases"
    return f"{len(cases):,} {noun}" + (f": {parts}" if parts else "")


def limit(lim: Limit) -> LimitView:
    recs = lim.recommendations
    return LimitView(
        model=lim.model,
        max_context=fmt.ctx(lim.max_context),
        bytes_per_token=fmt.size(lim.bytes_per_token),
        base=fmt.size(lim.base_bytes),
        r2="" if lim.r2 is None else f"{lim.r2:.3f}",
        recommended=fmt.ctx(recs.max_context_tokens),
        trim=fmt.ctx(recs.trim_threshold),
        settings=recs.settings_text,
    )


def current_metrics(cases: Sequence[Case]) -> dict[str, dict[str, float]]:
    """Tonight's values in the history's shape {case_id: {metric: value}}."""
    out: dict[str, dict[str, float]] = {}
    for case in cases:
        values: dict[str, float] = {}
        for metric, summary_ in case.metrics.items():
            if summary_.p50 is not None:
                values[metric] = summary_.p50
                values[f"{metric}_p50"] = summary_.p50
        if case.stability is not None and case.stability.score is not None:
            values["stability"] = case.stability.score
        if case.memory is not None and case.memory.delta_bytes is not None:
            values["memory_delta_bytes"] = case.memory.delta_bytes
        if values:
            out[case.id] = values
    return out
