"""memory = base + bytes_per_token x context, fitted by least squares over the good probes.

Only probes in the linear regime count: Gemma 3's sliding-window layers stop growing once
the context passes the window (plus a batch), so below a few windows the curve bends and
would inflate the slope. The fit uses probes at >= 4 x the sliding window (and at least
one resolution step); the fit block says which regime it used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.limits.probe import ContextProbe
from harness.measure.stats import linear_fit

WINDOW_MULTIPLE = 4  # contexts >= 4 x the sliding window are in the linear regime
MIN_POINTS = 3  # two points always give R^2 = 1; three can show a bend


@dataclass(frozen=True)
class LinearFit:
    """Least-squares line through (context, bytes) points."""

    base: float
    slope: float
    r2: float
    xs: tuple[int, ...]
    residuals: tuple[float, ...]  # measured - fitted, bytes

    def at(self, context: float) -> float:
        return self.base + self.slope * context

    def as_dict(self) -> dict[str, Any]:
        return {
            "base_bytes": round(self.base),
            "bytes_per_token": round(self.slope, 3),
            "r2": round(self.r2, 6),
            "contexts": list(self.xs),
            "residuals": [round(r) for r in self.residuals],
            "points": len(self.xs),
        }


def fit_line(points: Sequence[tuple[int, float]]) -> LinearFit | None:
    """The least-squares line (`measure.stats.linear_fit`); None with < 2 distinct contexts."""
    xs = [x for x, _ in points]
    if len(set(xs)) < 2:
        return None
    line = linear_fit(xs, [y for _, y in points])
    residuals = tuple(y - line.at(x) for x, y in points)
    return LinearFit(
        base=line.intercept, slope=line.slope, r2=line.r2, xs=tuple(xs), residuals=residuals
    )


def linear_from(sliding_window: int | None, resolution: int) -> int:
    """The smallest context counted as linear for a model with this window."""
    return max(WINDOW_MULTIPLE * (sliding_window or 0), resolution)


def fit_points(probes: Sequence[ContextProbe], start: int) -> list[tuple[int, float]]:
    """(context, memory) of the good probes at or above `start`, one per context."""
    seen: dict[int, float] = {}
    for p in probes:
        if p.good and p.memory_bytes is not None and p.num_ctx >= start:
            seen[p.num_ctx] = float(p.memory_bytes)
    return sorted(seen.items())


def extra_contexts(
    probes: Sequence[ContextProbe], max_context: int, start: int, resolution: int, room: int
) -> list[int]:
    """Contexts to probe so the fit has MIN_POINTS + 1 spread points (at most `room`).

    The search's good probes crowd near the maximum; points at a quarter and a half of it
    give the line its leverage.
    """
    have = [x for x, _ in fit_points(probes, start)]
    wanted = MIN_POINTS + 1 - len(have)
    out: list[int] = []
    for fraction in (0.25, 0.5, 0.75):
        ctx = int(max_context * fraction) // resolution * resolution
        near = any(abs(ctx - x) < resolution for x in (*have, *out))
        if ctx >= start and not near and len(out) < min(wanted, room):
            out.append(ctx)
    return out
