"""One level of a sweep as a results.json dict, and the rule that says the server saturated.

Every figure is in simulated time when `scale` (the session's time_scale) is not 1:
durations are multiplied by it, rates divided by it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness.concurrency.load import LoadSample
from harness.concurrency.slo import Slo, goodput
from harness.measure.stats import percentile

# Doubling the clients should nearly double throughput while the server has headroom; a
# doubling that buys less than 20% of that is "no longer grows" (measurement noise on a
# busy 2-core machine is a few percent, so smaller thresholds stop too early).
MIN_GAIN = 0.20
# ... and it counts as saturation only when the requests also waited longer for it.
TTFT_GROWTH = 0.25
MAX_ERROR_SHARE = 0.5
QUEUE_GROWTH = 2.0  # open loop: latency doubling along the schedule means a growing queue


def _pcts(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p90": None, "p99": None}
    return {f"p{q}": round(percentile(values, q), 6) for q in (50, 90, 99)}


def summarize_level(
    samples: Sequence[LoadSample],
    slo: Slo,
    *,
    mode: str,
    value: float,
    scale: float = 1.0,
    slots: int | None = None,
) -> dict[str, Any]:
    """The level's latency percentiles, rates, errors and goodput (see module docstring)."""
    ok = [s for s in samples if s.ok]
    start = min((s.scheduled_ns for s in samples), default=0)
    end = max((s.end_ns for s in samples), default=0)
    duration = max(end - start, 1) / 1e9 * scale
    ttft = [t for s in ok if (t := s.ttft_s(scale)) is not None]
    gaps = [g * scale for s in ok for g in s.gaps_s]
    per_seq = [s.decode_tok_s / scale for s in ok if s.decode_tok_s]
    decode = percentile(per_seq, 50) if per_seq else None
    busy = value if mode == "concurrency" else None
    if busy is not None and slots is not None:
        busy = min(busy, slots)
    return {
        "mode": mode,
        mode: value,
        "requests": len(samples),
        "errors": len(samples) - len(ok),
        "error_examples": sorted({s.error for s in samples if s.error})[:3],
        "duration_s": round(duration, 6),
        "requests_per_s": round(len(ok) / duration, 6),
        "output_tok_s": round(sum(s.output_tokens for s in ok) / duration, 6),
        "decode_tok_s_per_seq": None if decode is None else round(decode, 6),
        # What the batch decodes together: each busy slot at the per-sequence rate.
        "decode_tok_s_aggregate": None
        if decode is None or busy is None
        else round(decode * busy, 6),
        "ttft_s": _pcts(ttft),
        "itl_s": _pcts(gaps),
        "e2e_s": _pcts([s.e2e_s(scale) for s in ok]),
        "goodput": {k: round(v, 6) for k, v in goodput(samples, slo, duration, scale).items()},
        "queue_growth": None if (q := queue_growth(samples, scale)) is None else round(q, 4),
        "saturated": False,
    }


def saturation(previous: Mapping[str, Any], current: Mapping[str, Any]) -> str | None:
    """Why `current` saturated the server compared with `previous`, or None if it did not."""
    mode = str(current["mode"])
    errors = current["errors"] / max(current["requests"], 1)
    if errors > MAX_ERROR_SHARE:
        return f"{errors:.0%} of the requests failed at {mode} {current[mode]}"
    if mode == "rate":
        return _rate_saturation(current)
    grew = float(current[mode]) / float(previous[mode]) - 1.0
    thr0, thr1 = previous["output_tok_s"], current["output_tok_s"]
    gain = (thr1 / thr0 - 1.0) / grew if thr0 > 0 and grew > 0 else 0.0
    t0, t1 = previous["ttft_s"]["p50"], current["ttft_s"]["p50"]
    if t0 is None or t1 is None or gain >= MIN_GAIN or t1 <= t0 * (1.0 + TTFT_GROWTH):
        return None
    return (
        f"saturated at {mode} {current[mode]}: output tok/s {thr0:.1f} -> {thr1:.1f} "
        f"({gain:.0%} of the {grew:.0%} more load) while TTFT p50 {t0:.3f} -> {t1:.3f} s"
    )


def queue_growth(samples: Sequence[LoadSample], scale: float = 1.0) -> float | None:
    """Median latency of the last third of the requests (by schedule) over the first third.

    About 1 while the server keeps up; it climbs when arrivals outrun service and a queue
    builds, which is how an open loop shows saturation whatever the sample size.
    """
    ordered = sorted((s for s in samples if s.ok), key=lambda s: s.scheduled_ns)
    third = len(ordered) // 3
    if third < 1:
        return None
    head = percentile([s.e2e_s(scale) for s in ordered[:third]], 50)
    tail = percentile([s.e2e_s(scale) for s in ordered[-third:]], 50)
    return tail / head if head > 0 else None


def _rate_saturation(current: Mapping[str, Any]) -> str | None:
    growth = current.get("queue_growth")
    if growth is None or growth < QUEUE_GROWTH:
        return None
    return (
        f"saturated at rate {current['rate']:g} req/s: latency of the last requests is "
        f"{growth:.1f}x that of the first (a queue builds)"
    )
