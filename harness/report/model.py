"""Turning a results payload into the rows and blocks the report shows.

Everything here is plain strings and numbers, computed once, so the templates are loops over
ready values (the matrix of a 10,000-case run is one loop with no per-cell logic).

Keys read, besides the ones docs/results-schema.md fixes (all optional below the envelope):
- run: run_id, started_at, finished_at, duration_s, simulated, fingerprint{host, cpu,
  cpu_count, ram_bytes, gpus[{name, memory_bytes, driver}], engine, server_url,
  server_version, sim{profile}, matrices, harness_version, git_sha, platform, python},
  baseline{name, path, verdicts{verdict: count}}
- cases[]: id, model, num_ctx, matrix, outcome, verdict, reason, use_case, checks[{metric,
  stat, op, required, measured, passed}], thresholds{metric: {min|max: value}},
  metrics{ttft_s, prompt_tok_s, decode_tok_s: {p50, p90}}, memory.delta_bytes,
  stability{score, components{name: value}, formula}, samples[].error (first distinct
  errors shown with failures)
- cases[].baseline (the per-case comparison, harness.baseline.CaseComparison.to_json()):
  {verdict, messages, metrics: [{metric, change (positive = worse), verdict, ...}]}; shown
  as "verdict (metric worse by x%)" with the messages on hover
- limits[]: model, max_context, bytes_per_token, base_bytes, r2, probes (see charts),
  recommendations{max_context_tokens, trim_threshold, settings_text}
- throughput[], extrapolation, capacity, limits, job_plan, recommendations: read by
  harness.plan (its `throughput_view`: seed 000's tables, projections, plan, use cases)
- concurrency[] and capacity{entries}: see harness/report/capacity.py
- history[]: run_id, started_at, cases{case_id: {metric: value}}; tonight is added as the
  last point (unless a history entry has this run_id) for the metric names the history
  uses, taken from cases[].metrics[name].p50 (`name` or `name_p50`), stability.score
  (`stability`) and memory.delta_bytes (`memory_delta_bytes`)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.plan.render import PlanView
from harness.plan.render import throughput_view as plan_view
from harness.report import fmt
from harness.report.capacity import Capacity, capacity_view
from harness.report.charts import (
    Chart,
    context_charts,
    history_charts,
    memory_chart,
    throughput_chart,
)
from harness.report.payload import dig, mapping, number, records, text
from harness.report.rows import Problem, Row, Stability, matrix_row, problem, stability


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
    throughput: PlanView | None
    charts: dict[str, list[Chart]] = field(default_factory=dict)
    capacity: Capacity | None = None


def build(payload: Mapping[str, Any]) -> Report:
    """The whole report view of one payload."""
    cases = records(payload.get("cases"))
    simulated = payload.get("simulated") is True
    run_id = text(payload.get("run_id")) or "run"
    fp = mapping(payload.get("fingerprint"))
    gpus = records(fp.get("gpus"))
    gpu_bytes = number(gpus[0].get("memory_bytes")) if gpus else None
    history = records(payload.get("history"))
    throughput = records(payload.get("throughput"))
    extrapolation = mapping(payload.get("extrapolation"))
    limits = records(payload.get("limits"))
    charts = {
        "context": context_charts(cases),
        "memory": [c for lim in limits if (c := memory_chart(lim, gpu_bytes)) is not None],
        "throughput": [c for c in [throughput_chart(throughput, extrapolation)] if c],
        "history": history_charts(
            history,
            current_metrics(cases) if history else {},
            text(payload.get("started_at"))[:10] or run_id,
            run_id,
        ),
    }
    prefix = "SIMULATED " if simulated else ""
    return Report(
        title=f"{prefix}Harness report {run_id}",
        run_id=run_id,
        simulated=simulated,
        fingerprint=fingerprint(payload),
        summary=summary(cases),
        rows=[matrix_row(case) for case in cases],
        problems=[p for case in cases if (p := problem(case)) is not None],
        stability=stability(cases),
        limits=[limit(lim) for lim in limits],
        throughput=plan_view(payload),  # throughput, projections, job plan, use cases
        charts=charts,
        capacity=capacity_view(payload),
    )


def fingerprint(payload: Mapping[str, Any]) -> list[tuple[str, str]]:
    fp = mapping(payload.get("fingerprint"))
    gpus = "; ".join(gpu_text(g) for g in records(fp.get("gpus")))
    cpu = text(fp.get("cpu"))
    if number(fp.get("cpu_count")) is not None:
        cpu += f" ({fmt.count(number(fp.get('cpu_count')))} threads)"
    server = " ".join(
        part for part in (text(fp.get("engine")), text(fp.get("server_version"))) if part
    )
    if fp.get("server_url"):
        server += f" at {text(fp.get('server_url'))}"
    harness = text(fp.get("harness_version"))
    if fp.get("git_sha"):
        harness += f" ({text(fp.get('git_sha'))[:12]})"
    baseline = mapping(payload.get("baseline"))
    verdicts = ", ".join(f"{n} {text(v)}" for v, n in mapping(baseline.get("verdicts")).items())
    matrices = fp.get("matrices")
    items = [
        ("Host", text(fp.get("host"))),
        ("GPU", gpus or ("none" if "gpus" in fp else "")),
        ("CPU", cpu),
        ("RAM", fmt.size(number(fp.get("ram_bytes")))),
        ("Server", server),
        ("Simulator profile", text(dig(fp, "sim", "profile"))),
        ("Matrices", ", ".join(map(text, matrices)) if isinstance(matrices, list) else ""),
        ("Started", text(payload.get("started_at"))),
        ("Duration", fmt.seconds(number(payload.get("duration_s")))),
        (
            "Platform",
            " / ".join(p for p in (text(fp.get("platform")), text(fp.get("python"))) if p),
        ),
        ("Harness", harness),
        (
            "Baseline",
            " ".join(
                p for p in (text(baseline.get("name")), f"({verdicts})" if verdicts else "") if p
            ),
        ),
    ]
    return [(k, v) for k, v in items if v]


def gpu_text(gpu: Mapping[str, Any]) -> str:
    details = [fmt.size(number(gpu.get("memory_bytes")))]
    if gpu.get("driver"):
        details.append(f"driver {text(gpu.get('driver'))}")
    shown = ", ".join(d for d in details if d)
    return text(gpu.get("name")) + (f" ({shown})" if shown else "")


def summary(cases: Sequence[Mapping[str, Any]]) -> str:
    counts = Counter(text(c.get("verdict")) or text(c.get("outcome")) or "?" for c in cases)
    parts = ", ".join(f"{n:,} {v}" for v, n in counts.most_common())
    noun = "case" if len(cases) == 1 else "cases"
    return f"{len(cases):,} {noun}" + (f": {parts}" if parts else "")


def limit(lim: Mapping[str, Any]) -> Limit:
    recs = mapping(lim.get("recommendations"))
    r2 = number(lim.get("r2"))
    return Limit(
        model=text(lim.get("model")),
        max_context=fmt.ctx(number(lim.get("max_context"))),
        bytes_per_token=fmt.size(number(lim.get("bytes_per_token"))),
        base=fmt.size(number(lim.get("base_bytes"))),
        r2="" if r2 is None else f"{r2:.3f}",
        recommended=fmt.ctx(number(recs.get("max_context_tokens"))),
        trim=fmt.ctx(number(recs.get("trim_threshold"))),
        settings=text(recs.get("settings_text")),
    )


def current_metrics(cases: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """Tonight's values in the history's shape {case_id: {metric: value}}."""
    out: dict[str, dict[str, float]] = {}
    for case in cases:
        values: dict[str, float] = {}
        for metric, summary_ in mapping(case.get("metrics")).items():
            p50 = number(dig(summary_, "p50"))
            if p50 is not None:
                values[metric] = p50
                values[f"{metric}_p50"] = p50
        score = number(dig(case, "stability", "score"))
        if score is not None:
            values["stability"] = score
        delta = number(dig(case, "memory", "delta_bytes"))
        if delta is not None:
            values["memory_delta_bytes"] = delta
        if values:
            out[text(case.get("id"))] = values
    return out
