"""Significance tests behind baseline verdicts: Mann-Whitney U and a bootstrap ratio interval.

Mann-Whitney U is used because benchmark timings are skewed and have outliers (a GC pause,
a page fault), so a rank test is safer than a t-test. Its exact null distribution is used for
small samples without ties; with ties, or when the samples are large, the normal approximation
with tie correction and continuity correction is used (the textbook rules, also scipy's).

Why the bootstrap exists: the smallest one-sided exact p-value Mann-Whitney can produce is
1 / C(n1 + n2, n1). With 5 vs 5 that is 1/252 ~ 0.004, below the default alpha of 0.01; with
4 vs 4 it is 1/70 ~ 0.014 and the test can never reject. For fewer repeats the comparison falls
back to a percentile bootstrap interval of the ratio of medians.

Only the bootstrap needs numpy, and it is imported there, so importing this module is cheap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

Alternative = Literal["two-sided", "greater", "less"]
Method = Literal["auto", "exact", "asymptotic"]

# Above this many pairs the exact distribution costs more than it is worth and the normal
# approximation is already within a few thousandths of it.
EXACT_MAX_PAIRS = 400


@dataclass(frozen=True)
class MannWhitneyResult:
    """Outcome of a Mann-Whitney U test of sample x against sample y.

    `u` is the statistic of x: the number of pairs (xi, yj) with xi > yj, ties counting half.
    `alternative="greater"` asks whether x tends to be larger than y.
    """

    u: float
    p_value: float
    alternative: Alternative
    method: Literal["exact", "asymptotic"]
    n_x: int
    n_y: int


def rank_with_ties(values: Sequence[float]) -> tuple[list[float], list[int]]:
    """Midranks (1-based) of `values` and the sizes of every group of tied values."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    ties: list[int] = []
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        midrank = (start + end) / 2 + 1
        for k in range(start, end + 1):
            ranks[order[k]] = midrank
        ties.append(end - start + 1)
        start = end + 1
    return ranks, ties


@lru_cache(maxsize=256)
def u_distribution(n_x: int, n_y: int) -> tuple[int, ...]:
    """Counts of the arrangements giving each U = 0..n_x*n_y under H0 (no ties).

    Uses the recurrence f(m, n, u) = f(m-1, n, u-n) + f(m, n-1, u): the largest of the
    m + n values belongs either to x (beating all n of y) or to y (beating nothing).
    The counts sum to C(n_x + n_y, n_x); Python ints keep them exact.
    """
    if n_x == 0 or n_y == 0:
        return (1,)
    from_x = u_distribution(n_x - 1, n_y)
    from_y = u_distribution(n_x, n_y - 1)
    counts = [0] * (n_x * n_y + 1)
    for u, c in enumerate(from_x):
        counts[u + n_y] += c
    for u, c in enumerate(from_y):
        counts[u] += c
    return tuple(counts)


def _exact_p(u: float, n_x: int, n_y: int, alternative: Alternative) -> float:
    counts = u_distribution(n_x, n_y)
    total = math.comb(n_x + n_y, n_x)
    u_int = round(u)  # integral without ties, which is the only case that gets here
    p_greater = sum(counts[u_int:]) / total
    p_less = sum(counts[: u_int + 1]) / total
    if alternative == "greater":
        return p_greater
    if alternative == "less":
        return p_less
    return min(1.0, 2 * min(p_greater, p_less))


def _normal_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2))


def _asymptotic_p(u: float, n_x: int, n_y: int, ties: list[int], alt: Alternative) -> float:
    n = n_x + n_y
    mu = n_x * n_y / 2
    tie_term = sum(t**3 - t for t in ties)
    variance = n_x * n_y / 12 * ((n + 1) - tie_term / (n * (n - 1)))
    if variance <= 0:  # every value tied: no evidence either way
        return 1.0
    sigma = math.sqrt(variance)
    # The 0.5 continuity correction moves the statistic towards the mean, so the
    # approximation errs on the conservative side like the exact test it stands in for.
    if alt == "greater":
        return _normal_sf((u - mu - 0.5) / sigma)
    if alt == "less":
        return _normal_sf((mu - u - 0.5) / sigma)
    return min(1.0, 2 * _normal_sf((abs(u - mu) - 0.5) / sigma))


def mann_whitney_u(
    x: Sequence[float],
    y: Sequence[float],
    alternative: Alternative = "two-sided",
    method: Method = "auto",
) -> MannWhitneyResult:
    """Mann-Whitney U test of x against y.

    `method="auto"` uses the exact distribution when there are no ties and at most
    EXACT_MAX_PAIRS pairs, else the normal approximation with tie and continuity correction.
    `method="exact"` with ties raises ValueError: the exact table assumes distinct values.
    """
    n_x, n_y = len(x), len(y)
    if n_x == 0 or n_y == 0:
        raise ValueError(f"both samples need values, got {n_x} and {n_y}")
    ranks, ties = rank_with_ties([*x, *y])
    u = sum(ranks[:n_x]) - n_x * (n_x + 1) / 2
    has_ties = any(t > 1 for t in ties)
    if method == "exact" and has_ties:
        raise ValueError("the exact Mann-Whitney distribution needs samples without ties")
    exact = method == "exact" or (
        method == "auto" and not has_ties and n_x * n_y <= EXACT_MAX_PAIRS
    )
    if exact:
        p = _exact_p(u, n_x, n_y, alternative)
    else:
        p = _asymptotic_p(u, n_x, n_y, ties, alternative)
    return MannWhitneyResult(
        u=u,
        p_value=p,
        alternative=alternative,
        method="exact" if exact else "asymptotic",
        n_x=n_x,
        n_y=n_y,
    )


def min_exact_p(n_x: int, n_y: int) -> float:
    """The smallest one-sided exact p-value reachable with these sample sizes."""
    return 1 / math.comb(n_x + n_y, n_x)


@dataclass(frozen=True)
class RatioInterval:
    """Percentile bootstrap interval of median(current) / median(baseline).

    `p_value` is the two-sided bootstrap p-value for "ratio == 1": twice the share of
    resampled ratios on the far side of 1, so `p_value < alpha` agrees with a 1 - alpha
    interval that excludes 1.
    """

    ratio: float
    low: float
    high: float
    confidence: float
    p_value: float
    resamples: int

    def excludes_one(self) -> bool:
        return self.low > 1.0 or self.high < 1.0


def bootstrap_ratio_of_medians(
    baseline: Sequence[float],
    current: Sequence[float],
    *,
    confidence: float = 0.99,
    resamples: int = 2000,
    seed: int = 0,
) -> RatioInterval:
    """Bootstrap interval of median(current) / median(baseline), resampling each side.

    Seeded with a numpy Generator so the same inputs always give the same verdict.
    Raises ValueError on empty samples or a non-positive baseline value: a resample could
    then have a zero median and no ratio.
    """
    import numpy as np  # only the bootstrap needs it; keep plugin import cheap

    if not baseline or not current:
        raise ValueError("both samples need values for a bootstrap")
    base = np.asarray(baseline, dtype=float)
    cur = np.asarray(current, dtype=float)
    if np.min(base) <= 0:
        raise ValueError("baseline values must be positive to form a ratio of medians")
    rng = np.random.default_rng(seed)
    base_medians = np.median(base[rng.integers(0, base.size, (resamples, base.size))], axis=1)
    cur_medians = np.median(cur[rng.integers(0, cur.size, (resamples, cur.size))], axis=1)
    ratios = cur_medians / base_medians
    tail = (1 - confidence) / 2
    low, high = np.quantile(ratios, [tail, 1 - tail])
    share_at_or_below = float(np.mean(ratios <= 1.0))
    share_at_or_above = float(np.mean(ratios >= 1.0))
    return RatioInterval(
        ratio=float(np.median(cur) / np.median(base)),
        low=float(low),
        high=float(high),
        confidence=confidence,
        p_value=min(1.0, 2 * min(share_at_or_below, share_at_or_above)),
        resamples=resamples,
    )
