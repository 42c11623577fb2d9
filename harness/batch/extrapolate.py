"""From 100 / 1,000 / 10,000 measured requests to the 170,000-request job, with intervals.

Time: least squares `time = a + b x N` over the measured sizes, evaluated at the target.
Its 95% interval comes from a bootstrap (scipy's): each replicate resamples every size's
per-request times (and, paired with them, prompt and completion tokens) with replacement,
rescales the sum to that size's wall time (concurrency makes wall time smaller than the sum),
refits and projects; the 2.5th and 97.5th percentiles bound the answer. Tokens are
projected from the per-request means the same way, trims from the trim rate of the largest
size (binomial replicates), memory from its peak: flat when trimming holds it, else the
linear growth of the two largest sizes carried on to the target (the high bound).

A warning is set when req/s at the largest size is more than 10% below the smallest, or the
linear fit explains less than 90% of the variance: then the projection is optimistic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.measure.stats import LineFit, linear_fit, percentile

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

DEFAULT_TARGET = 170_000


@dataclass(frozen=True)
class SizeRun:
    """One measured size: wall time plus per-request samples for the bootstrap."""

    size: int
    total_s: float
    request_s: tuple[float, ...]
    prompt_tokens: tuple[int, ...]
    completion_tokens: tuple[int, ...]
    trims: int = 0
    peak_memory_bytes: int | None = None

    @property
    def req_s(self) -> float:
        return self.size / self.total_s if self.total_s > 0 else 0.0


def extrapolate(
    runs: Sequence[SizeRun],
    *,
    strategy: str,
    target: int = DEFAULT_TARGET,
    replicates: int = 400,
    seed: int = 0,
) -> dict[str, Any]:
    """The `extrapolation` section for one strategy; needs two or more sizes."""
    import numpy as np  # heavy: only here, when a projection is made

    runs = sorted(runs, key=lambda r: r.size)
    sizes = [float(r.size) for r in runs]
    fit = linear_fit(sizes, [r.total_s for r in runs])
    rng = np.random.default_rng(seed)
    boot_time, boot_prompt, boot_completion = _replicates(runs, target, replicates, rng)
    time_s = fit.at(target)
    prompt = _mean_rate(runs, "prompt_tokens") * target
    completion = _mean_rate(runs, "completion_tokens") * target
    largest = runs[-1]
    p_trim = largest.trims / largest.size if largest.size else 0.0
    boot_trims = rng.binomial(largest.size, p_trim, replicates) / largest.size * target
    return {
        "target": target,
        "strategy": strategy,
        "sizes": [r.size for r in runs],
        "time_s": round(time_s, 3),
        **_bounds("time_s", boot_time),
        "req_s": round(target / time_s, 4) if time_s > 0 else None,
        "prompt_tokens": round(prompt),
        **_bounds("prompt_tokens", boot_prompt, digits=0),
        "completion_tokens": round(completion),
        **_bounds("completion_tokens", boot_completion, digits=0),
        "trims": round(p_trim * target),
        **_bounds("trims", [float(t) for t in boot_trims], digits=0),
        **_memory(runs, target),
        "warning": throughput_warning(runs, fit),
        "fit": {"a": fit.intercept, "b": fit.slope, "r2": fit.r2},
        "method": "OLS time = a + b*N; 95% bootstrap over per-request times "
        f"({replicates} replicates, seed {seed})",
    }


def _mean_rate(runs: Sequence[SizeRun], attr: str) -> float:
    total = sum(sum(getattr(r, attr)) for r in runs)
    count = sum(len(getattr(r, attr)) for r in runs)
    return total / count if count else 0.0


def _replicates(
    runs: Sequence[SizeRun], target: int, replicates: int, rng: np.random.Generator
) -> tuple[list[float], list[float], list[float]]:
    """Bootstrapped projections at `target`: time, prompt tokens, completion tokens.

    `scipy.stats.bootstrap` resamples each size's request indices, so a request's time and
    tokens stay together; the statistic rescales each size's resampled times to its wall
    time, refits the line and projects. scipy needs two or more values in a sample: a size
    with fewer requests has nothing to resample and enters every replicate as measured.
    """
    import numpy as np
    from scipy.stats import bootstrap

    sizes = [float(r.size) for r in runs]
    columns = [
        tuple(
            np.asarray(v, dtype=float) for v in (r.request_s, r.prompt_tokens, r.completion_tokens)
        )
        for r in runs
    ]
    drawn = [k for k, r in enumerate(runs) if len(r.request_s) >= 2]

    def projections(*indices: NDArray[np.int64]) -> NDArray[np.float64]:
        chosen = dict(zip(drawn, indices, strict=True))
        totals, prompt, completion = [], [], []
        for k, (r, (times, prompts, completions)) in enumerate(zip(runs, columns, strict=True)):
            idx = chosen.get(k, np.arange(times.size))
            scale = r.total_s / times.sum() if times.sum() > 0 else 0.0
            totals.append(float(times[idx].sum() * scale))
            prompt.append(float(prompts[idx].mean()))
            completion.append(float(completions[idx].mean()))
        return np.array([
            linear_fit(sizes, totals).at(target),
            float(np.average(prompt, weights=sizes)) * target,
            float(np.average(completion, weights=sizes)) * target,
        ])  # fmt: skip

    if not drawn:
        time_s, prompt_tokens, completion_tokens = projections()
        return [time_s] * replicates, [prompt_tokens] * replicates, [completion_tokens] * replicates
    result = bootstrap(
        tuple(np.arange(len(runs[k].request_s)) for k in drawn),
        projections,
        n_resamples=replicates,
        batch=50,  # bounds the index arrays of a 10,000-request size to a few MB
        vectorized=False,
        paired=False,
        method="percentile",
        rng=rng,
    )
    time_s, prompt_tokens, completion_tokens = (
        [float(v) for v in row] for row in result.bootstrap_distribution
    )
    return time_s, prompt_tokens, completion_tokens


def _bounds(name: str, values: Sequence[float], digits: int = 3) -> dict[str, float]:
    """The 2.5th and 97.5th percentiles: the 95% percentile-bootstrap interval."""
    low, high = percentile(values, 2.5), percentile(values, 97.5)
    return {f"{name}_low": round(low, digits), f"{name}_high": round(high, digits)}


def _memory(runs: Sequence[SizeRun], target: int) -> dict[str, int | None]:
    known = [r for r in runs if r.peak_memory_bytes is not None]
    if not known:
        return {"peak_memory_bytes": None, "peak_memory_bytes_low": None,
                "peak_memory_bytes_high": None}  # fmt: skip
    peak = max(r.peak_memory_bytes or 0 for r in known)
    high = peak
    if len(known) >= 2:
        a, b = known[-2], known[-1]
        growth = ((b.peak_memory_bytes or 0) - (a.peak_memory_bytes or 0)) / (b.size - a.size)
        high = max(peak, round(peak + max(growth, 0.0) * (target - b.size)))
    return {"peak_memory_bytes": peak, "peak_memory_bytes_low": peak,
            "peak_memory_bytes_high": high}  # fmt: skip


def throughput_warning(runs: Sequence[SizeRun], fit: LineFit) -> str | None:
    first, last = runs[0], runs[-1]
    problems = []
    if first.req_s > 0 and last.req_s < 0.9 * first.req_s:
        drop = 1 - last.req_s / first.req_s
        problems.append(
            f"throughput falls with size: {first.req_s:.2f} req/s at {first.size} vs "
            f"{last.req_s:.2f} at {last.size} ({drop:.0%} lower)"
        )
    if fit.r2 < 0.9:
        problems.append(f"time is not linear in N (r2 {fit.r2:.2f})")
    if not problems:
        return None
    return "; ".join(problems) + ": the projection is likely optimistic"
