"""Turning a results payload into the rows and blocks the report shows.

Everything here is plain strings and numbers, computed once, so the templates are loops over
ready values (the matrix of a 10,000-case run is one loop with no per-cell logic).

The typed fields come from `harness.results_model`; the sections it does not type yet are
read from `RunResults.section(name)` through its lenient readers:
- throughput[]: strategy, size, total_s, req_s, plus any other scalar keys (shown as columns)
- concurrency[] and capacity{entries}: see harness/report/capacity.py
- extrapolation: target, time_s, time_s_low, time_s_high, and other scalars shown as text
- history (typed): tonight is added as the last point (unless a history entry has this
  run_id) for the metric names the history uses, taken from cases[].metrics[name].p50
  (`name` or `name_p50`), stability.score (`stability`) and memory.delta_bytes
  (`memory_delta_bytes`)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.report import fmt
from harness.report.capacity import Capacity, capacity_view
from harness.report.charts import (
    Chart,
    context_charts,
    history_charts,
    memory_chart,
    throughput_chart,
)
from harness.report.rows import Problem, Row, Stability, matrix_row, problem, stability
from harness.results_model import (
    Case,
    Gpu,
    JsonObject,
    RunResults,
    as_run,
    mapping,
    number,
    records,
    text,
)
from harness.results_model import Limit as LimitResult


@dataclass(frozen=True)
class Limit:
    model: str
    max_context: str
    bytes_per_token: str
    base: str
    r2: str
    recommended: str
    trim: str
    settings: str


@dataclass(frozen=True)
class Throughput:
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]]
    extrapolation: str


@dataclass(frozen=True)
class Report:
    title: str
    run_id: str
    simulated: bool
    fingerprint: list[tuple[str, str]]
    summary: str
    rows: list[Row]
    problems: list[Problem]
    stability: Stability | None
    limits: list[Limit]
    throughput: Throughput | None
    charts: dict[str, list[Chart]] = field(default_factory=dict)
    capacity: Capacity | None = None


def build(payload: RunResults | JsonObject) -> Report:
    """The whole report view of one payload."""
    run = as_run(payload)
    cases = run.cases
    run_id = run.run_id or "run"
    gpus = run.fingerprint.gpus
    gpu_bytes = gpus[0].memory_bytes if gpus else None
    throughput = records(run.section("throughput"))
    extrapolation = mapping(run.section("extrapolation"))
    charts = {
        "context": context_charts(cases),
        "memory": [c for lim in run.limits if (c := memory_chart(lim, gpu_bytes)) is not None],
        "throughput": [c for c in [throughput_chart(throughput, extrapolation)] if c],
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
        throughput=throughput_view(throughput, extrapolation),
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


def limit(lim: LimitResult) -> Limit:
    recs = lim.recommendations
    return Limit(
        model=lim.model,
        max_context=fmt.ctx(lim.max_context),
        bytes_per_token=fmt.size(lim.bytes_per_token),
        base=fmt.size(lim.base_bytes),
        r2="" if lim.r2 is None else f"{lim.r2:.3f}",
        recommended=fmt.ctx(recs.max_context_tokens),
        trim=fmt.ctx(recs.trim_threshold),
        settings=recs.settings_text,
    )


THROUGHPUT_FORMATS = {
    "size": fmt.count,
    "total_s": fmt.seconds,
    "req_s": fmt.rate,
}


def throughput_view(
    rows: Sequence[Mapping[str, Any]], extrapolation: Mapping[str, Any]
) -> Throughput | None:
    if not rows and not extrapolation:
        return None
    columns: dict[str, None] = {"strategy": None, "size": None, "total_s": None, "req_s": None}
    for row in rows:
        columns.update({k: None for k, v in row.items() if _scalar(v)})
    present = tuple(c for c in columns if any(c in row for row in rows))
    body = [tuple(_cell(row.get(c), c) for c in present) for row in rows]
    return Throughput(present, body, extrapolation_text(extrapolation))


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float)


def _cell(value: Any, column: str) -> str:
    formatter = THROUGHPUT_FORMATS.get(column)
    n = number(value)
    if n is None:
        return text(value) if _scalar(value) else ""
    if formatter is not None:
        return formatter(n)
    if column.endswith("_bytes"):
        return fmt.size(n)
    if column.endswith("_s"):
        return fmt.seconds(n)
    return fmt.general(n)


def extrapolation_text(ex: Mapping[str, Any]) -> str:
    target, time_s = number(ex.get("target")), number(ex.get("time_s"))
    if target is None or time_s is None:
        return ""
    out = f"{fmt.count(target)} requests: about {fmt.seconds(time_s)}"
    low, high = number(ex.get("time_s_low")), number(ex.get("time_s_high"))
    if low is not None and high is not None:
        out += f" (interval {fmt.seconds(low)} to {fmt.seconds(high)})"
    known = {"target", "time_s", "time_s_low", "time_s_high"}
    extra = [f"{k} {_cell(v, k)}" for k, v in ex.items() if k not in known and _scalar(v)]
    return out + ("; " + ", ".join(extra) if extra else "")


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
