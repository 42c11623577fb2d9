"""Summary statistics, the harness's one percentile and one linear fit, and the stability score.

Percentiles are numpy's `method="linear"` (type 7 of Hyndman and Fan, numpy's and R's
default) everywhere: latency summaries, the batch and concurrency tables, the benchmarks'
own timing figures. The linear fit is scipy's `linregress`, shared by the context-limits
memory fit, the batch extrapolation and the sustained run's drift. numpy and scipy are
imported inside the functions that use them, so loading the plugin does not import them.

Stability score, in [0, 1] (also in the README):

    score = success_rate x weighted mean of the available components
            decode_consistency  weight 0.4   = 1 - min(1, CV(decode tok/s) / 0.5)
            ttft_consistency    weight 0.3   = 1 - min(1, CV(TTFT) / 0.5)
            headroom            weight 0.3   = min(1, (1 - peak / budget) / 0.25), floored at 0
            drift (sustained)   weight 0.2   = 1 - min(1, |relative slope per hour| / 0.5)

A component that could not be measured (one sample, no memory reading) is left out and the
remaining weights renormalised; the result records which components were used. Success
multiplies rather than averages in because a failing cell is unstable however steady its
successful runs were.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

STABILITY_FORMULA = (
    "score = success_rate x weighted mean of available components; "
    "decode_consistency (0.4) = 1 - min(1, CV(decode tok/s)/0.5); "
    "ttft_consistency (0.3) = 1 - min(1, CV(TTFT)/0.5); "
    "headroom (0.3) = clamp((1 - peak/budget)/0.25, 0, 1); "
    "drift (0.2) = 1 - min(1, |slope per hour|/0.5)"
)
_WEIGHTS: Mapping[str, float] = {
    "decode_consistency": 0.4,
    "ttft_consistency": 0.3,
    "headroom": 0.3,
    "drift": 0.2,
}
_CV_ZERO_AT = 0.5  # a CV of 50% or more is "not consistent at all"
_HEADROOM_FULL_AT = 0.25  # a quarter of the budget free earns the full headroom score


PERCENTILE_METHOD: Final = "linear"  # numpy's default, stated so no caller drifts from it


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) of `values`, interpolated linearly between ranks.

    The harness's one percentile definition: `numpy.percentile(..., method="linear")`.
    """
    import numpy as np  # only when a percentile is taken: keeps plugin import cheap

    if len(values) == 0:
        raise ValueError("percentile of no values")
    return float(np.percentile(np.asarray(values, dtype=float), q, method=PERCENTILE_METHOD))


def import_numpy_now() -> None:
    """Import numpy before a timed loop, so its first import (0.1-0.5 s) is not inside it.

    `percentile` imports numpy on first use to keep plugin load cheap; a sustained run takes
    ITL percentiles of every sample, and without this the first one would stall the loop.
    """
    import numpy  # noqa: F401


def coefficient_of_variation(values: Sequence[float]) -> float | None:
    """Sample standard deviation over mean; None with fewer than two values or a zero mean."""
    if len(values) < 2:
        return None
    mean = statistics.fmean(values)
    if mean == 0:
        return None
    return statistics.stdev(values, mean) / abs(mean)


def summarize(values: Sequence[float]) -> dict[str, float | int | None]:
    """n, mean, p50, p90, p99, min, max and cv of `values` (empty dict-like Nones if none)."""
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "mean": statistics.fmean(values),
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "min": min(values),
        "max": max(values),
        "cv": coefficient_of_variation(values),
    }


@dataclass(frozen=True)
class LineFit:
    """Least-squares line y = intercept + slope x through n points."""

    slope: float
    intercept: float
    r2: float  # 1.0 when y does not vary: the flat line then fits every point
    stderr: float | None  # standard error of the slope; None with two points (no residual)
    n: int

    def at(self, x: float) -> float:
        return self.intercept + self.slope * x


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> LineFit:
    """Ordinary least squares of ys on xs (`scipy.stats.linregress`).

    Raises ValueError with fewer than two points, unequal lengths or no spread in x: there
    is no line then, and each caller decides what that means (no fit, no trend).
    """
    if len(xs) != len(ys):
        raise ValueError(f"a linear fit needs as many y as x values: {len(xs)} x, {len(ys)} y")
    if len(set(xs)) < 2:
        got = f"every x is {xs[0]!r}" if xs else "no points"
        raise ValueError(f"a linear fit needs two or more different x values; {got}")
    from scipy.stats import linregress  # heavy: only when a line is fitted

    result = linregress(xs, ys)
    flat = len(set(ys)) == 1  # linregress returns NaN for r and stderr when y is constant
    stderr = None
    if len(xs) >= 3:
        stderr = 0.0 if flat else float(result.stderr)
    return LineFit(
        slope=float(result.slope),
        intercept=float(result.intercept),
        r2=1.0 if flat else float(result.rvalue) ** 2,
        stderr=stderr,
        n=len(xs),
    )


@dataclass(frozen=True)
class StabilityScore:
    score: float
    components: Mapping[str, float | None]

    def to_json(self) -> dict[str, object]:
        return {
            "score": round(self.score, 4),
            "components": {
                k: None if v is None else round(v, 4) for k, v in self.components.items()
            },
            "formula": STABILITY_FORMULA,
        }


def _consistency(cv: float | None) -> float | None:
    return None if cv is None else 1.0 - min(1.0, cv / _CV_ZERO_AT)


def stability_score(
    *,
    attempts: int,
    successes: int,
    decode_tok_s: Sequence[float],
    ttft_s: Sequence[float],
    memory_fraction_of_budget: float | None,
    drift_per_hour: float | None = None,
) -> StabilityScore:
    """Combine success, consistency, headroom (and drift) into one number; see module doc."""
    success_rate = successes / attempts if attempts else 0.0
    headroom = None
    if memory_fraction_of_budget is not None:
        headroom = max(0.0, min(1.0, (1.0 - memory_fraction_of_budget) / _HEADROOM_FULL_AT))
    drift = None if drift_per_hour is None else 1.0 - min(1.0, abs(drift_per_hour) / 0.5)
    parts: dict[str, float | None] = {
        "decode_consistency": _consistency(coefficient_of_variation(decode_tok_s)),
        "ttft_consistency": _consistency(coefficient_of_variation(ttft_s)),
        "headroom": headroom,
        "drift": drift,
    }
    present = {k: v for k, v in parts.items() if v is not None}
    if present:
        total_weight = sum(_WEIGHTS[k] for k in present)
        blended = sum(_WEIGHTS[k] * v for k, v in present.items()) / total_weight
    else:
        blended = 1.0 if successes else 0.0
    return StabilityScore(
        score=success_rate * blended, components={"success_rate": success_rate, **parts}
    )
