"""Turning raw readings into the JSON block a case stores: per phase, overall, a chart series.

Pure functions over `Reading`s and `Mark`s, so they are tested without threads.
A reading belongs to the phase of the last mark at or before its time; a mark may be
placed after the fact (`at_ns`), which is how the measuring code can put the
prefill/decode boundary at the first content chunk it only learns about later.
"""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from harness.hardware.config import PHASES

NS_PER_S = 1_000_000_000

# Constant or bit-mask metrics are useless as chart lines; their stats remain.
_NOT_CHARTED = ("_total_bytes", ".throttle_mask")


@dataclass(frozen=True)
class Reading:
    """One backend's values at one moment (perf_counter_ns)."""

    t_ns: int
    backend: str
    values: dict[str, float]


@dataclass(frozen=True)
class Mark:
    """The start of a phase (perf_counter_ns)."""

    t_ns: int
    phase: str


class PhaseClock:
    """Which phase a time falls in, given the marks (in any order)."""

    def __init__(self, marks: Iterable[Mark]) -> None:
        ordered = sorted(marks, key=lambda m: m.t_ns)
        self._times = [m.t_ns for m in ordered]
        self._phases = [m.phase for m in ordered]

    def phase_at(self, t_ns: int) -> str:
        i = bisect.bisect_right(self._times, t_ns)
        return self._phases[i - 1] if i else "idle"


def number(metric: str, value: float) -> float | int:
    """Bytes as whole numbers, everything else to 3 decimals: stable, JSON-friendly."""
    if metric.endswith("_bytes"):
        return round(value)
    return round(value, 3)


def _stats(metric: str, values: Sequence[float], baseline: float) -> dict[str, float | int]:
    peak = max(values)
    return {
        "baseline": number(metric, baseline),
        "peak": number(metric, peak),
        "mean": number(metric, statistics.fmean(values)),
        "delta": number(metric, peak - baseline),
    }


def summarize_metrics(
    readings: Sequence[Reading], marks: Sequence[Mark]
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """(phases, overall): baseline, peak, mean and delta of every metric.

    The baseline is the median of the metric's idle readings (before the first mark),
    or its first reading when it has none; every phase is compared to that one
    baseline, so deltas of different phases and cases line up.
    """
    clock = PhaseClock(marks)
    by_phase: dict[str, dict[str, list[float]]] = {}
    overall: dict[str, list[float]] = {}
    for reading in sorted(readings, key=lambda r: r.t_ns):
        bucket = by_phase.setdefault(clock.phase_at(reading.t_ns), {})
        for metric, value in reading.values.items():
            bucket.setdefault(metric, []).append(value)
            overall.setdefault(metric, []).append(value)
    idle = by_phase.get("idle", {})
    baselines = {
        metric: statistics.median(idle[metric]) if metric in idle else values[0]
        for metric, values in overall.items()
    }
    order = [p for p in PHASES if p in by_phase] + sorted(set(by_phase) - set(PHASES))
    phases = {
        phase: {
            metric: _stats(metric, values, baselines[metric])
            for metric, values in sorted(by_phase[phase].items())
        }
        for phase in order
    }
    totals = {m: _stats(m, v, baselines[m]) for m, v in sorted(overall.items())}
    return phases, totals


def build_series(
    readings: Sequence[Reading], start_ns: int, points: int
) -> dict[str, list[float | int | None]]:
    """At most `points` time buckets; each holds a metric's peak within it.

    Peaks, not samples, so a short spike survives the downsampling; a metric read less
    often than the bucket width carries its last value forward (None before its first).
    """
    ordered = sorted(readings, key=lambda r: r.t_ns)
    if not ordered:
        return {"t_s": []}
    end_ns = max(ordered[-1].t_ns, start_ns + 1)
    width = (end_ns - start_ns) / points
    buckets: dict[int, dict[str, float]] = {}
    for reading in ordered:
        index = min(points - 1, max(0, int((reading.t_ns - start_ns) / width)))
        peaks = buckets.setdefault(index, {})
        for metric, value in reading.values.items():
            peaks[metric] = max(value, peaks.get(metric, value))
    metrics = sorted({m for r in ordered for m in r.values if not m.endswith(_NOT_CHARTED)})
    series: dict[str, list[float | int | None]] = {"t_s": []}
    last: dict[str, float | int | None] = dict.fromkeys(metrics)
    for index in sorted(buckets):
        series["t_s"].append(round((index + 0.5) * width / NS_PER_S, 3))
        for metric in metrics:
            if metric in buckets[index]:
                last[metric] = number(metric, buckets[index][metric])
            series.setdefault(metric, []).append(last[metric])
    return series
