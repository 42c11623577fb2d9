"""The report's concurrency section: the capacity table and goodput charts.

Reads `concurrency[]` ({model, context, slots, levels: [{concurrency, goodput: {req_s}}],
saturated_at}) and `capacity` ({entries: [{model, context, max_parallel_fit, best: {slots,
concurrency, goodput_req_s}, job_requests, job_hours_best, job_hours_p1, recommendation}]}).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.report import fmt
from harness.report.charts import Chart
from harness.report.svg import Axis, Marker, Series, line_chart
from harness.results_model import RunResults, dig, mapping, number, records, text

COLUMNS = (
    "Model", "Context", "max slots that fit", "best setting", "goodput req/s",
    "job at best", "job at 1 slot", "recommendation",
)  # fmt: skip


@dataclass(frozen=True)
class Capacity:
    rows: list[tuple[str, ...]]
    charts: list[Chart]
    columns: tuple[str, ...] = COLUMNS


def capacity_view(run: RunResults) -> Capacity | None:
    entries = records(mapping(run.section("capacity")).get("entries"))
    sweeps = records(run.section("concurrency"))
    if not entries and not sweeps:
        return None
    return Capacity([_row(e) for e in entries], _charts(sweeps))


def _hours(value: Any) -> str:
    n = number(value)
    return "" if n is None else f"{n:,.1f} h"


def _row(entry: Mapping[str, Any]) -> tuple[str, ...]:
    best = mapping(entry.get("best"))
    clients = best.get("concurrency") or best.get("rate")
    setting = f"P={text(best.get('slots'))}, {text(clients)} clients" if best else ""
    goodput = number(best.get("goodput_req_s"))
    return (
        text(entry.get("model")),
        fmt.ctx(number(entry.get("context")) or 0),
        text(entry.get("max_parallel_fit")),
        setting,
        "" if goodput is None else f"{goodput:,.2f}",
        _hours(entry.get("job_hours_best")),
        _hours(entry.get("job_hours_p1")),
        text(entry.get("recommendation")),
    )


def _charts(sweeps: Sequence[Mapping[str, Any]]) -> list[Chart]:
    groups: dict[tuple[str, float], list[Mapping[str, Any]]] = defaultdict(list)
    for sweep in sweeps:
        groups[(text(sweep.get("model")), number(sweep.get("context")) or 0)].append(sweep)
    charts = []
    for (model, context), members in groups.items():
        series, markers = [], []
        for sweep in members:
            points = [
                (c, g)
                for level in records(sweep.get("levels"))
                if (c := number(level.get("concurrency"))) is not None
                and (g := number(dig(level, "goodput", "req_s"))) is not None
            ]
            name = f"P={text(sweep.get('slots'))}"
            # Measured, but off the GPU: shown, and said, since capacity rejects it.
            series.append(Series(name + (" (spilled)" if sweep.get("spilled") else ""), points))
            saturated = number(sweep.get("saturated_at"))
            if saturated is not None:
                markers.append(Marker(saturated, f"P={text(sweep.get('slots'))} saturated"))
        title = f"Goodput by concurrency: {model} at {fmt.ctx(context)}"
        x_axis = Axis("concurrent clients", "log2", fmt.count)
        svg = line_chart(title, x_axis, Axis("goodput (req/s)"), series, markers=markers)
        if svg:
            charts.append(Chart(title, svg))
    return charts
