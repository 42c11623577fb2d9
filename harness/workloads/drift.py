"""Trends over a sustained run: least-squares slope with a 95% interval.

Drift (decode tok/s or TTFT changing over time) and leaks (memory growing) are both a
slope; a slope alone cannot tell a trend from noise, so each comes with its standard error
and a Student-t interval. A threshold in the matrix fails a run only when the slope is past
it *and* the interval excludes zero: a noisy ten-minute run never fails on noise alone.

Pure Python: a run has at most a few thousand points, and the plugin's import path stays
free of numpy and scipy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

SECONDS_PER_HOUR = 3600.0
_T_EXACT = {1: 12.7062, 2: 4.3027, 3: 3.1824, 4: 2.7764}  # two-sided 95%, small df


def t_quantile(p: float, df: int) -> float:
    """Student-t quantile; Cornish-Fisher expansion (error < 0.1% from df 5 on)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    if abs(p - 0.975) < 1e-12 and df in _T_EXACT:
        return _T_EXACT[df]
    z = NormalDist().inv_cdf(p)
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    return z + g1 / df + g2 / df**2 + g3 / df**3


@dataclass(frozen=True)
class Trend:
    """y = intercept + slope x; `low`/`high` bound the slope (None with < 3 points)."""

    n: int
    slope: float
    intercept: float
    stderr: float | None
    low: float | None
    high: float | None
    mean: float
    span: float  # max(x) - min(x)

    @property
    def significant(self) -> bool:
        """The interval excludes zero: a real trend, not noise."""
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)

    def to_json(self, per: float = 1.0) -> dict[str, float | int | bool | None]:
        """The slope (and interval) times `per`, e.g. 3600 for "per hour"."""
        return {
            "n": self.n,
            "slope": self.slope * per,
            "low": None if self.low is None else self.low * per,
            "high": None if self.high is None else self.high * per,
            "stderr": None if self.stderr is None else self.stderr * per,
            "mean": self.mean,
            "significant": self.significant,
        }


def linear_trend(
    xs: Sequence[float], ys: Sequence[float], confidence: float = 0.95
) -> Trend | None:
    """Least-squares fit of ys on xs; None with fewer than 2 points or no spread in x."""
    if len(xs) != len(ys):
        raise ValueError(f"{len(xs)} x values but {len(ys)} y values")
    n = len(xs)
    if n < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx <= 0:
        return None
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    intercept = my - slope * mx
    stderr = low = high = None
    if n >= 3:
        residual = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys, strict=True))
        stderr = math.sqrt(residual / (n - 2) / sxx)
        half = t_quantile(0.5 + confidence / 2, n - 2) * stderr
        low, high = slope - half, slope + half
    return Trend(n, slope, intercept, stderr, low, high, my, max(xs) - min(xs))


def relative_drift_per_hour(trend: Trend | None) -> dict[str, float | int | bool | None] | None:
    """The slope as a fraction of the mean per hour (-0.1 = losing 10% per hour)."""
    if trend is None or trend.mean == 0:
        return None
    return trend.to_json(per=SECONDS_PER_HOUR / abs(trend.mean))
