"""The report's charts, each built from one section of the payload with `svg.line_chart`.

Cases, limits and history come typed (`harness.results.schema`); a chart without data is not
drawn. The throughput section is read as JSON:
- throughput[]: strategy, size, total_s; extrapolation: target, time_s, time_s_low,
  time_s_high, strategy (which series it continues; default the one with the largest size)
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from harness.report import fmt
from harness.report.svg import Axis, Band, Marker, Series, line_chart
from harness.results.schema import (
    Case,
    Extrapolation,
    Limit,
    Night,
    ThroughputEntry,
)

MAX_SERIES = 10
OK_OUTCOMES = frozenset({"ok", "pass", "passed", "fits"})


@dataclass(frozen=True)
class Chart:
    title: str
    svg: str
    note: str = ""


def _ctx_axis(values: Iterable[float]) -> Axis:
    found = [v for v in values if v > 0]
    wide = bool(found) and max(found) / min(found) >= 8
    return Axis("context (tokens)", "log2" if wide else "linear", fmt.ctx, binary=True)


def _limit_series(groups: Mapping[str, object], what: str) -> tuple[list[str], str]:
    names = list(groups)
    if len(names) <= MAX_SERIES:
        return names, ""
    return names[:MAX_SERIES], f"Showing the first {MAX_SERIES} of {len(names)} {what}."


def _median_by_x(points: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    by_x: dict[float, list[float]] = defaultdict(list)
    for x, y in points:
        by_x[x].append(y)
    return [(x, statistics.median(ys)) for x, ys in sorted(by_x.items())]


def context_charts(cases: Sequence[Case]) -> list[Chart]:
    """Decode tok/s and TTFT against context, one line per model."""
    decode: dict[str, list[tuple[float, float]]] = defaultdict(list)
    ttft: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for case in cases:
        model, ctx = case.model, case.num_ctx
        if not model or ctx is None:
            continue
        tok_s = case.p50("decode_tok_s")
        first = case.p50("ttft_s")
        if tok_s is not None:
            decode[model].append((ctx, tok_s))
        if first is not None:
            ttft[model].append((ctx, first))
    charts: list[Chart] = []
    for title, groups, y_axis in (
        ("Decode speed by context", decode, Axis("decode tok/s (p50)", fmt=_short)),
        ("Time to first token by context", ttft, Axis("TTFT p50", fmt=fmt.seconds)),
    ):
        names, note = _limit_series(groups, "models")
        series = [Series(name, _median_by_x(groups[name])) for name in names]
        x_axis = _ctx_axis(x for name in names for x, _ in groups[name])
        svg = line_chart(title, x_axis, y_axis, series)
        if svg:
            charts.append(Chart(title, svg, note))
    return charts


def _short(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 10 else f"{value:g}"


def _gib(value: float) -> str:
    return f"{value:g}"


def memory_chart(limit: Limit, gpu_bytes: float | None) -> Chart | None:
    """Probed memory against context with the fitted line and the limits found."""
    model = limit.model or "model"
    ok: list[tuple[float, float]] = []
    bad: list[tuple[float, float]] = []
    for probe in limit.probes:
        ctx, mem = probe.num_ctx, probe.memory_bytes
        if ctx is None or mem is None:
            continue
        target = ok if probe.outcome.lower() in OK_OUTCOMES else bad
        target.append((ctx, mem / fmt.GIB))
    max_ctx = limit.max_context
    rec_ctx = limit.recommendations.max_context_tokens
    series = [
        Series("probe ok", sorted(ok), line=False),
        Series("probe failed", sorted(bad), line=False, color="#D55E00"),
    ]
    slope, base = limit.bytes_per_token, limit.base_bytes
    xs = [x for x, _ in ok + bad] + [v for v in (max_ctx, rec_ctx) if v is not None]
    if slope is not None and base is not None and xs:
        r2 = limit.r2
        name = "fit" + (f" (r² {r2:.3f})" if r2 is not None else "")
        lo, hi = 0.0, max(xs) * 1.05
        line = [
            (lo + (hi - lo) * i / 20, (base + slope * (lo + (hi - lo) * i / 20)) / fmt.GIB)
            for i in range(21)
        ]
        series.append(Series(name, line, dots=False, dashed=True, color="#7f7f7f"))
    markers = []
    if max_ctx is not None:
        markers.append(Marker(max_ctx, f"max found {fmt.ctx(max_ctx)}", color="#D55E00"))
    if rec_ctx is not None:
        markers.append(Marker(rec_ctx, f"recommended {fmt.ctx(rec_ctx)}", color="#009E73"))
    if gpu_bytes is not None:
        markers.append(Marker(gpu_bytes / fmt.GIB, "GPU memory", axis="y"))
    title = f"Memory by context: {model}"
    x_axis = Axis("context (tokens)", fmt=fmt.ctx, binary=True)
    svg = line_chart(title, x_axis, Axis("memory (GiB)", fmt=_gib), series, markers=markers)
    return Chart(title, svg) if svg else None


def throughput_chart(
    rows: Sequence[ThroughputEntry], extrapolation: Extrapolation | None
) -> Chart | None:
    """Total time by batch size per strategy, continued to the extrapolation target."""
    groups: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for row in rows:
        if row.size and row.total_s:
            groups[row.strategy or "batch"].append((row.size, row.total_s))
    series = [Series(name, sorted(points)) for name, points in groups.items()]
    bands: list[Band] = []
    markers: list[Marker] = []
    # Every strategy's projection (results.json keeps them under `by_strategy`).
    projections = [] if extrapolation is None else list(extrapolation.by_strategy.values())
    if not projections and extrapolation is not None:
        projections = [extrapolation]
    for ex in projections:
        target = ex.target
        if target is None or ex.time_s is None:
            continue
        time_s, low, high = ex.time_s.value, ex.time_s.low, ex.time_s.high
        strategy = ex.strategy
        anchor = _anchor(groups, strategy)
        start = [anchor] if anchor else []
        name = f"{strategy} extrapolated" if len(projections) > 1 else "extrapolated"
        series.append(
            Series(
                f"{name} to {fmt.count(target)}",
                [*start, (target, time_s)],
                dashed=True,
                color="#000000",
                tips=[
                    *(["measured"] if anchor else []),
                    f"{fmt.count(target)} requests: "
                    f"{fmt.seconds(time_s)} ({fmt.seconds(low)} to {fmt.seconds(high)})",
                ],
            )
        )
        if low is not None and high is not None and anchor:
            bands.append(
                Band(
                    "interval",
                    [(anchor[0], anchor[1], anchor[1]), (target, low, high)],
                    color="#999999",
                )
            )
        if not markers:
            markers.append(Marker(target, f"target {fmt.count(target)}"))
    title = "Batch time by number of requests"
    times = [y for s in series for _, y in s.points] + [
        v for b in bands for _, lo, hi in b.points for v in (lo, hi)
    ]
    positive = [t for t in times if t > 0]
    ticks = fmt.time_ticks(min(positive), max(positive)) if positive else None
    x_axis = Axis("requests", "log10", fmt.compact)
    y_axis = Axis("total time", "log10", fmt.seconds, ticks=ticks)
    svg = line_chart(title, x_axis, y_axis, series, markers=markers, bands=bands)
    return Chart(title, svg) if svg else None


def _anchor(
    groups: Mapping[str, list[tuple[float, float]]], strategy: str
) -> tuple[float, float] | None:
    """The measured point the extrapolation continues from."""
    points = groups.get(strategy) or max(groups.values(), key=lambda p: max(p)[0], default=[])
    return max(points) if points else None


def history_charts(
    history: Sequence[Night],
    current: Mapping[str, Mapping[str, float]],
    current_label: str,
    current_run_id: str = "",
) -> list[Chart]:
    """One chart per metric across nights, one line per case; tonight is the last point."""
    nights: list[tuple[str, Mapping[str, Mapping[str, float | None]]]] = [
        (h.started_at[:10] or h.run_id, h.cases) for h in history
    ]
    known = {m for _, cases in nights for values in cases.values() for m in values}
    tonight = {
        case_id: {m: v for m, v in values.items() if m in known}
        for case_id, values in current.items()
    }
    already = any(h.run_id == current_run_id for h in history)
    if known and not already and any(tonight.values()):
        nights.append((current_label, tonight))
    if len(nights) < 2:
        return []
    by_metric: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for index, (_, cases) in enumerate(nights):
        for case_id, values in cases.items():
            for metric, y in values.items():
                if y is not None:
                    by_metric[metric][case_id].append((float(index), y))
    stride = max(1, len(nights) // 8)
    ticks = [(float(i), label) for i, (label, _) in enumerate(nights) if i % stride == 0]
    charts = []
    for metric in sorted(by_metric, key=_metric_order):
        groups = by_metric[metric]
        names, note = _limit_series(groups, "cases")
        series = [Series(name, groups[name]) for name in names]
        title = f"History: {metric}"
        y_axis = Axis(metric, fmt=_metric_fmt(metric))
        svg = line_chart(title, Axis("night", ticks=ticks), y_axis, series)
        if svg:
            charts.append(Chart(title, svg, note))
    return charts


def _metric_order(metric: str) -> tuple[int, str]:
    for rank, prefix in enumerate(("decode", "ttft", "prompt", "stability")):
        if metric.startswith(prefix):
            return rank, metric
    return 9, metric


def _metric_fmt(metric: str) -> Callable[[float], str]:
    if "bytes" in metric:
        return fmt.size
    if "tok_s" in metric or "req_s" in metric:
        return _short
    if metric.startswith("ttft") or metric.endswith("_s") or "_s_" in metric:
        return fmt.seconds
    return _short
