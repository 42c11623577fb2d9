"""Significance tests behind baseline verdicts: Mann-Whitney U and a bootstrap ratio interval.

Mann-Whitney U is used because benchmark timings are skewed and have outliers (a GC pause,
a page fault), so a rank test is safer than a t-test. Its exact null distribution is used for
small samples without ties; with ties, or when the samples are large, the normal approximation
with tie correction and continuity correction is used. Both are scipy's `mannwhitneyu`.

Why the bootstrap exists: the smallest one-sided exact p-value Mann-Whitney can produce is
1 / C(n1 + n2, n1). With 5 vs 5 that is 1/252 ~ 0.004, below the default alpha of 0.01; with
4 vs 4 it is 1/70 ~ 0.014 and the test can never reject. For fewer repeats the comparison falls
back to a percentile bootstrap interval of the ratio of medians (scipy's `bootstrap`).

numpy and scipy are imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from harness.measure.stats import PERCENTILE_METHOD

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

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


def mann_whitney_u(
    x: Sequence[float],
    y: Sequence[float],
    alternative: Alternative = "two-sided",
    method: Method = "auto",
) -> MannWhitneyResult:
    """Mann-Whitney U test of x against y (`scipy.stats.mannwhitneyu`, continuity corrected).

    `method="auto"` uses the exact distribution when there are no ties and at most
    EXACT_MAX_PAIRS pairs, else the normal approximation with tie and continuity correction.
    This is the harness's own rule, not scipy's "auto" (exact only while a sample has at
    most 8 values), because the baseline gate's verdicts were settled on it.
    `method="exact"` with ties raises ValueError: scipy's exact distribution assumes
    distinct values and says nothing when they are not.
    """
    from scipy.stats import mannwhitneyu  # heavy: only when a baseline is compared

    n_x, n_y = len(x), len(y)
    if n_x == 0 or n_y == 0:
        raise ValueError(f"both samples need values, got {n_x} and {n_y}")
    has_ties = len({*x, *y}) < n_x + n_y
    if method == "exact" and has_ties:
        raise ValueError("the exact Mann-Whitney distribution needs samples without ties")
    exact = method == "exact" or (
        method == "auto" and not has_ties and n_x * n_y <= EXACT_MAX_PAIRS
    )
    result = mannwhitneyu(
        x,
        y,
        use_continuity=True,
        alternative=alternative,
        method="exact" if exact else "asymptotic",
    )
    return MannWhitneyResult(
        u=float(result.statistic),
        p_value=float(result.pvalue),
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

    `scipy.stats.bootstrap` with the percentile method, seeded with a numpy Generator so the
    same inputs always give the same verdict. Raises ValueError on empty samples or a
    non-positive baseline value: a resample could then have a zero median and no ratio.
    """
    import numpy as np  # heavy: only when a baseline is compared with few repeats

    if not baseline or not current:
        raise ValueError("both samples need values for a bootstrap")
    base = np.asarray(baseline, dtype=float)
    cur = np.asarray(current, dtype=float)
    if np.min(base) <= 0:
        raise ValueError("baseline values must be positive to form a ratio of medians")
    ratios = _bootstrap_ratios(base, cur, resamples, np.random.default_rng(seed))
    # The percentile interval exactly as scipy's `confidence_interval` takes it, computed
    # here because the one-value-a-side case never calls scipy.
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(ratios, [tail, 100 - tail], method=PERCENTILE_METHOD)
    # scipy's bootstrap gives no p-value; this one is defined to agree with the interval
    # (RatioInterval's docstring), and the tests check that it does.
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


def _bootstrap_ratios(
    base: NDArray[np.float64],
    cur: NDArray[np.float64],
    resamples: int,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """The resampled ratios of medians (scipy's bootstrap distribution).

    scipy refuses a sample of one value, whose resamples are all that value anyway, so such
    a side enters the statistic as a constant; with one value a side every ratio is the same.
    """
    import numpy as np
    from scipy.stats import bootstrap

    samples = tuple(s for s in (base, cur) if s.size > 1)
    if not samples:
        return np.full(resamples, cur[0] / base[0])

    def ratio(*resampled: NDArray[np.float64], axis: int = -1) -> NDArray[np.float64]:
        drawn = iter(resampled)
        medians = [np.median(next(drawn), axis=axis) if s.size > 1 else s[0] for s in (base, cur)]
        return np.asarray(medians[1] / medians[0], dtype=float)

    result = bootstrap(
        samples,
        ratio,
        n_resamples=resamples,
        vectorized=True,
        paired=False,
        method="percentile",
        rng=rng,
    )
    return np.asarray(result.bootstrap_distribution, dtype=float)
