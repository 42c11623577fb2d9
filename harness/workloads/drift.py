"""Trends over a sustained run: least-squares slope with a 95% interval.

Drift (decode tok/s or TTFT changing over time) and leaks (memory growing) are both a
slope; a slope alone cannot tell a trend from noise, so each comes with its standard error
and a Student-t interval. A threshold in the matrix fails a run only when the slope is past
it *and* the interval excludes zero: a noisy ten-minute run never fails on noise alone.

The line is `harness.measure.stats.linear_fit` (scipy's `linregress`) and the t quantile is
`scipy.stats.t`, both imported only when a trend is computed, so loading the plugin does not
import scipy.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from harness.measure.stats import linear_fit

SECONDS_PER_HOUR = 3600.0


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
    if len(set(xs)) < 2:
        return None
    line = linear_fit(xs, ys)
    low = high = None
    if line.stderr is not None:  # three or more points: n - 2 degrees of freedom
        from scipy.stats import t  # heavy: only when an interval is drawn

        half = float(t.ppf(0.5 + confidence / 2, line.n - 2)) * line.stderr
        low, high = line.slope - half, line.slope + half
    mean = statistics.fmean(ys)
    return Trend(
        line.n, line.slope, line.intercept, line.stderr, low, high, mean, max(xs) - min(xs)
    )


def relative_drift_per_hour(trend: Trend | None) -> dict[str, float | int | bool | None] | None:
    """The slope as a fraction of the mean per hour (-0.1 = losing 10% per hour)."""
    if trend is None or trend.mean == 0:
        return None
    return trend.to_json(per=SECONDS_PER_HOUR / abs(trend.mean))
