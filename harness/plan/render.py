"""The plan package in each output of a run: one call per renderer.

    terminal_lines(payload, run_dir)   the pytest terminal summary and `harness plan`
    markdown_lines(payload)            matrix.md's throughput, projection, capacity, plan and
                                       recommendation sections
    csv_columns / csv_rows(payload)    matrix.csv's extra columns and rows
    throughput_view(payload)           the HTML report's throughput, plan and recommendations
    write_files(payload, out_dir)      job-plan.yaml and presets/*.yaml in the run folder

All of them take the typed run (`harness.results.schema.RunResults`; a payload in memory is
typed first), never the live session, so `harness report` and `harness plan` print what the
run printed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.plan.facts import strategy_runs
from harness.plan.job import plan_job
from harness.plan.model import JobPlan, Projection, Recommendation
from harness.plan.preset import PLAN_FILE, write_presets
from harness.plan.text import (
    TABLE_HEADER,
    TABLE_NOTE,
    pct,
    pick_text,
    plan_lines,
    projection_lines,
    recommendation_lines,
    size_rows,
    throughput_lines,
)
from harness.plan.usecases import recommendations
from harness.report import fmt
from harness.results.schema import CapacityEntry, Interval, JsonObject, RunResults, as_run, count

Run = RunResults | JsonObject  # a typed run, or a payload in memory (typed on the way in)


def stored_or_computed(payload: Run) -> tuple[JobPlan, list[Recommendation]]:
    """The run's plan and recommendations: as results.json stored them, else computed.

    The stored ones are the plan's own typed sections (`harness.plan.model`), whose
    `from_json` names a bad key."""
    run = as_run(payload)
    stored_plan, stored_recs = run.section("job_plan"), run.section("recommendations")
    plan = JobPlan.from_json(stored_plan) if isinstance(stored_plan, dict) else plan_job(run)
    recs = (
        [Recommendation.from_json(r) for r in stored_recs]
        if isinstance(stored_recs, list)
        else recommendations(run)
    )
    return plan, recs


def terminal_lines(
    payload: Run, run_dir: Path | None = None, plan: JobPlan | None = None
) -> list[str]:
    """Seed 000's tables and extrapolation blocks, the job plan, the recommendations."""
    run = as_run(payload)
    stored, recs = stored_or_computed(run)
    plan = plan or stored
    sim = run.simulated
    lines = throughput_lines(strategy_runs(run), sim)
    for p in plan.projections:
        lines += projection_lines(p, sim)
    if plan.measured:
        path = str(run_dir / PLAN_FILE) if run_dir is not None else None
        lines += plan_lines(plan, path)
    lines += recommendation_lines(recs)
    return lines


def _iv(iv: Interval | None, show: Callable[[float], str]) -> str:
    if iv is None:
        return "-"
    out: str = show(iv.value)
    if iv.low is not None and iv.high is not None and not iv.low == iv.high == iv.value:
        out += f" ({show(iv.low)} to {show(iv.high)})"
    return out


def _count(v: float) -> str:
    return f"{v:,.0f}"


def projection_cells(p: Projection) -> tuple[str, ...]:
    rate = "-" if p.req_s is None else f"{p.req_s:.2f}"
    return (
        p.strategy,
        _iv(p.time_s, fmt.seconds),
        rate,
        _iv(p.prompt_tokens, _count),
        _iv(p.token_savings, pct),
        _iv(p.trims, _count),
        _iv(p.peak_memory_bytes, fmt.size),
        "pass" if p.passed else f"fail: {p.reason}",
    )


PROJECTION_HEADER = (
    "Strategy", "Time (95% interval)", "Req/s", "Prompt tokens", "Token savings (range)",
    "Trims", "Peak memory", "Verdict",
)  # fmt: skip
CAPACITY_HEADER = ("Model", "Context", "Slots that fit", "Best setting", "Job hours", "P=1 hours")
RECS_HEADER = ("Use case", "Matrix", "Best", "Runner-up", "Cells passed", "Preset")


def _best_text(c: CapacityEntry) -> str:
    best = c.best
    if best is None or best.num_parallel is None or best.goodput_req_s is None:
        return "none met the targets"
    return (
        f"OLLAMA_NUM_PARALLEL={best.num_parallel}, {best.concurrency} concurrent, "
        f"{best.goodput_req_s:.2f} req/s"
    )


def capacity_rows(run: RunResults) -> list[tuple[str, ...]]:
    return [
        (
            c.model, fmt.ctx(count(c.context) or 0), c.max_parallel_fit or "-", _best_text(c),
            "-" if c.job_hours_best is None else f"{c.job_hours_best:.1f} h",
            "-" if c.job_hours_p1 is None else f"{c.job_hours_p1:.1f} h",
        )
        for c in run.capacity
    ]  # fmt: skip


def recommendation_rows(recs: Sequence[Recommendation]) -> list[tuple[str, ...]]:
    return [
        (
            r.use_case,
            r.matrix,
            pick_text(r),
            "-"
            if r.runner_up is None
            else f"{r.runner_up.model} at {fmt.ctx(r.runner_up.num_ctx)}",
            f"{r.passed} of {r.candidates}",
            r.preset or "-",
        )
        for r in recs
    ]


def markdown_lines(payload: Run) -> list[str]:
    """matrix.md's sections from this package (empty when the run measured none of it)."""
    from harness.report.markdown import cell, preformatted, table

    run = as_run(payload)
    plan, recs = stored_or_computed(run)
    runs = strategy_runs(run)
    lines: list[str] = []
    if runs:
        lines += ["", "## Batch throughput", "", TABLE_NOTE + "."]
        for strategy in runs:
            verdict = "pass" if strategy.passed else f"FAIL: {strategy.reason}"
            lines += ["", cell(f"**{strategy.model}, {strategy.strategy}**: {verdict}"), ""]
            lines += table(TABLE_HEADER, size_rows(strategy))
    if plan.projections:
        lines += ["", f"## Extrapolation to {plan.requests:,} requests", ""]
        basis = "SIMULATED" if plan.simulated else "measured"
        lines += [f"Projected from {basis} sizes (time = a + b x N, 95% bootstrap interval).", ""]
        lines += table(PROJECTION_HEADER, (projection_cells(p) for p in plan.projections))
    caps = capacity_rows(run)
    if caps:
        lines += ["", "## Capacity", "", *table(CAPACITY_HEADER, caps)]
    if plan.measured:
        lines += ["", "## Job plan", "", *preformatted("\n".join(plan_lines(plan)))]
    if recs:
        lines += ["", "## Use-case recommendations", ""]
        lines += table(RECS_HEADER, recommendation_rows(recs))
    return lines


# matrix.csv: the case columns stay first; these follow, empty on case rows.
CSV_COLUMNS: tuple[str, ...] = (
    "section", "strategy", "size", "total_s", "req_s", "tokens_s", "token_savings", "trims",
    "peak_memory_bytes", "requests", "time_s", "time_s_low", "time_s_high", "max_context",
    "trim_threshold", "trim_interval", "keep_messages", "num_parallel", "concurrency",
    "goodput_req_s", "job_hours", "memory_budget_bytes", "use_case",
)  # fmt: skip


def _n(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def csv_rows(payload: Run) -> list[dict[str, str]]:
    """Rows keyed by column name (the case columns `id`, `model`, `num_ctx`, `verdict`,
    `simulated`, `reason`, and CSV_COLUMNS): throughput sizes, projections, limits,
    capacity, the job plan and the recommendations."""
    run = as_run(payload)
    plan, recs = stored_or_computed(run)
    sim = "true" if run.simulated else "false"
    rows: list[dict[str, str]] = []
    for strategy in strategy_runs(run):
        for r in strategy.rows:
            rows.append({
                "id": f"throughput/{strategy.strategy}/{r.size}", "section": "throughput",
                "model": strategy.model, "strategy": strategy.strategy, "size": _n(r.size),
                "total_s": _n(r.total_s), "req_s": _n(r.req_s), "tokens_s": _n(r.tokens_s),
                "token_savings": _n(r.token_savings), "trims": _n(r.trims),
                "peak_memory_bytes": _n(r.peak_memory_bytes),
                "verdict": "pass" if strategy.passed else "fail",
                "reason": strategy.reason or "",
            })  # fmt: skip
    for p in plan.projections:
        rows.append({
            "id": f"projection/{p.strategy}/{p.requests}", "section": "projection",
            "model": plan.model or "", "strategy": p.strategy, "requests": _n(p.requests),
            "time_s": _n(p.time_s.value), "time_s_low": _n(p.time_s.low),
            "time_s_high": _n(p.time_s.high), "req_s": _n(p.req_s),
            "token_savings": _n(p.token_savings.value if p.token_savings else None),
            "trims": _n(p.trims.value if p.trims else None),
            "peak_memory_bytes": _n(p.peak_memory_bytes.value if p.peak_memory_bytes else None),
            "verdict": "pass" if p.passed else "fail", "reason": p.reason or "",
        })  # fmt: skip
    for lim in run.limits:
        recommended = count(lim.recommendations.max_context_tokens)
        rows.append({
            "id": f"limits/{lim.model}", "section": "limits", "model": lim.model,
            "max_context": _n(recommended), "num_ctx": _n(recommended),
            "trim_threshold": _n(count(lim.recommendations.trim_threshold)),
            "memory_budget_bytes": _n(count(lim.budget_bytes)),
            "verdict": "pass" if lim.verdict == "pass" else "fail", "reason": lim.reason,
        })  # fmt: skip
    for c in run.capacity:
        setting, context = c.best, count(c.context) or 0
        rows.append({
            "id": f"capacity/{c.model}/{context}", "section": "capacity", "model": c.model,
            "num_ctx": _n(context), "num_parallel": _n(setting.num_parallel if setting else None),
            "concurrency": _n(setting.concurrency if setting else None),
            "goodput_req_s": _n(setting.goodput_req_s if setting else None),
            "requests": _n(c.job_requests), "job_hours": _n(c.job_hours_best),
            "reason": c.recommendation,
        })  # fmt: skip
    if plan.measured:
        rows.append(_plan_row(plan))
    for rec in recs:
        best = rec.best
        rows.append({
            "id": f"recommendation/{rec.matrix}/{rec.use_case}", "section": "recommendation",
            "use_case": rec.use_case, "model": best.model if best else "",
            "num_ctx": _n(best.num_ctx if best else None),
            "verdict": "pass" if best else "fail", "reason": rec.reason,
        })  # fmt: skip
    for row in rows:
        row["simulated"] = sim
    return rows


def _plan_row(plan: JobPlan) -> dict[str, str]:
    t, m = plan.trim, plan.memory
    missing = "; ".join(f"{x.what}: {x.why}" for x in plan.missing if x.blocking)
    return {
        "id": "job_plan", "section": "job_plan", "model": plan.model or "",
        "strategy": plan.strategy or "", "num_ctx": _n(plan.num_ctx),
        "requests": _n(plan.requests),
        "time_s": _n(plan.time_s.value if plan.time_s else None),
        "time_s_low": _n(plan.time_s.low if plan.time_s else None),
        "time_s_high": _n(plan.time_s.high if plan.time_s else None),
        "trim_threshold": _n(t.trim_threshold if t else None),
        "trim_interval": _n(t.trim_interval if t else None),
        "keep_messages": _n(t.keep_messages if t else None),
        "num_parallel": _n(plan.num_parallel), "concurrency": _n(plan.concurrency),
        "peak_memory_bytes": _n(m.peak_bytes.value if m else None),
        "memory_budget_bytes": _n(m.budget_bytes if m else None),
        "token_savings": _n(plan.token_savings.value if plan.token_savings else None),
        "verdict": "ready" if plan.ready else "not ready", "reason": missing,
    }  # fmt: skip


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]]


@dataclass(frozen=True)
class PlanView:
    """What the report's throughput, plan and recommendations sections show."""

    note: str
    sizes: list[Table]
    projections: Table | None
    plan: str  # the job plan's lines (a <pre>), empty when the run measured none of it
    plan_ready: bool
    recommendations: Table | None


def throughput_view(payload: Run) -> PlanView | None:
    """The HTML report's view; None when the run has neither throughput nor recommendations."""
    run = as_run(payload)
    plan, recs = stored_or_computed(run)
    runs = strategy_runs(run)
    if not runs and not plan.measured and not recs:
        return None
    sizes = [
        Table(
            f"{r.model}, {r.strategy}: " + ("pass" if r.passed else f"FAIL: {r.reason}"),
            TABLE_HEADER,
            size_rows(r),
        )
        for r in runs
    ]
    projections = None
    if plan.projections:
        title = f"Extrapolation to {plan.requests:,} requests (projected from " + (
            "SIMULATED" if plan.simulated else "measured") + " sizes)"  # fmt: skip
        projections = Table(title, PROJECTION_HEADER,
                            [projection_cells(p) for p in plan.projections])  # fmt: skip
    rec_table = Table("", RECS_HEADER, recommendation_rows(recs)) if recs else None
    return PlanView(
        note=TABLE_NOTE,
        sizes=sizes,
        projections=projections,
        plan="\n".join(plan_lines(plan)) if plan.measured else "",
        plan_ready=plan.ready,
        recommendations=rec_table,
    )


def write_files(payload: Run, out_dir: Path) -> list[Path]:
    """job-plan.yaml and presets/*.yaml for the run in `out_dir`."""
    run = as_run(payload)
    plan, recs = stored_or_computed(run)
    return write_presets(out_dir, plan, recs, run.run_id or out_dir.name)


def plan_has_trim(payload: Run) -> bool:
    """Whether the job plan gives trim settings (then a case's own trim_plan is not shown)."""
    plan, _ = stored_or_computed(payload)
    return plan.ready and plan.trim is not None
