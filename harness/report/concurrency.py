"""The report's concurrency section: the capacity table and goodput charts.

Reads `concurrency[]` ({model, context, slots, levels: [{concurrency, goodput: {req_s}}],
saturated_at}) and `capacity` ({entries: [{model, context, max_parallel_fit, best: {slots,
concurrency, goodput_req_s}, job_requests, job_hours_best, job_hours_p1, recommendation}]}).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from harness.report import fmt
from harness.report.charts import Chart
from harness.report.svg import Axis, Marker, Series, line_chart
from harness.results.schema import CapacityEntry, RunResults, Sweep

COLUMNS = (
    "Model", "Context", "max slots that fit", "best setting", "goodput req/s",
    "job at best", "job at 1 slot", "recommendation",
)  # fmt: skip


@dataclass(frozen=True)
class CapacityView:
    rows: list[tuple[str, ...]]
    charts: list[Chart]
    columns: tuple[str, ...] = COLUMNS


def capacity_view(run: RunResults) -> CapacityView | None:
    if not run.capacity and not run.concurrency:
        return None
    return CapacityView([_row(e) for e in run.capacity], _charts(run.concurrency))


def _hours(n: float | None) -> str:
    return "" if n is None else f"{n:,.1f} h"


def _row(entry: CapacityEntry) -> tuple[str, ...]:
    best = entry.best
    goodput = best.goodput_req_s if best else None
    return (
        entry.model,
        fmt.ctx(entry.context or 0),
        entry.max_parallel_fit,
        f"P={best.slots}, {best.clients} clients" if best else "",
        "" if goodput is None else f"{goodput:,.2f}",
        _hours(entry.job_hours_best),
        _hours(entry.job_hours_p1),
        entry.recommendation,
    )


def _charts(sweeps: Sequence[Sweep]) -> list[Chart]:
    groups: dict[tuple[str, float], list[Sweep]] = defaultdict(list)
    for sweep in sweeps:
        groups[(sweep.model, sweep.context or 0)].append(sweep)
    charts = []
    for (model, context), members in groups.items():
        series, markers = [], []
        for sweep in members:
            points = [
                (level.concurrency, level.goodput_req_s)
                for level in sweep.levels
                if level.concurrency is not None and level.goodput_req_s is not None
            ]
            name = f"P={sweep.slots}"
            # Measured, but off the GPU: shown, and said, since capacity rejects it.
            series.append(Series(name + (" (spilled)" if sweep.spilled else ""), points))
            if sweep.saturated_at is not None:
                markers.append(Marker(sweep.saturated_at, f"P={sweep.slots} saturated"))
        title = f"Goodput by concurrency: {model} at {fmt.ctx(context)}"
        x_axis = Axis("concurrent clients", "log2", fmt.count)
        svg = line_chart(title, x_axis, Axis("goodput (req/s)"), series, markers=markers)
        if svg:
            charts.append(Chart(title, svg))
    return charts
