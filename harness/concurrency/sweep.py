"""A sweep: closed-loop concurrency levels, then optional Poisson rates, until saturation.

The result is the `concurrency[]` entry of results.json for one (model, context, slots):
its levels, where it stopped and why, and its best level by goodput.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from harness.concurrency.levels import saturation, summarize_level
from harness.concurrency.load import LoadSample, Send, closed_loop, open_loop, poisson_offsets_ns
from harness.concurrency.slo import Slo
from harness.concurrency.workers import ChatRequest, LoadPool


@dataclass(frozen=True)
class SweepPlan:
    """What one sweep runs. Rates are requests/s in simulated time when `scale` != 1."""

    levels: tuple[int, ...]
    slo: Slo
    requests_per_level: int = 16
    rates: tuple[float, ...] = ()
    scale: float = 1.0
    seed: int = 0
    slots: int | None = None

    def requests_at(self, concurrency: int) -> int:
        # Whole rounds of `concurrency` clients keep them in step, so the last round is not
        # a straggler measured at a lower concurrency than its level says.
        rounds = max(2, math.ceil(self.requests_per_level / concurrency))
        return rounds * concurrency


Closed = Callable[[int, int], list[LoadSample]]  # (concurrency, requests) -> samples
Open = Callable[[list[int]], list[LoadSample]]  # offsets_ns -> samples


def run_sweep(load: Send | ChatRequest, plan: SweepPlan) -> dict[str, Any]:
    """Run the levels (stopping at saturation), then the rates; return the sweep's dict.

    A ChatRequest runs in worker processes (workers.py), which is what a measured sweep
    does; a plain `send` callable runs on threads here (the tests' fakes).
    """
    if isinstance(load, ChatRequest):
        with LoadPool(load) as pool:
            return _sweep(pool.closed_loop, pool.open_loop, plan)
    send = load
    return _sweep(
        lambda c, n: closed_loop(send, c, n), lambda offsets: open_loop(send, offsets), plan
    )


def _sweep(closed: Closed, open_: Open, plan: SweepPlan) -> dict[str, Any]:
    levels = _closed(closed, plan)
    rates = _open(open_, plan)
    stopped = next((lv for lv in levels if lv["saturated"]), None)
    return {
        "levels": levels,
        "rates": rates,
        "saturated_at": None if stopped is None else stopped["concurrency"],
        "stop_reason": None if stopped is None else stopped["reason"],
        "best": best_level([*levels, *rates]),
    }


def _closed(run: Closed, plan: SweepPlan) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for level in plan.levels:
        samples = run(level, plan.requests_at(level))
        current = summarize_level(
            samples, plan.slo, mode="concurrency", value=level, scale=plan.scale, slots=plan.slots
        )
        reason = saturation(out[-1], current) if out else None
        out.append(current)
        if reason is not None:
            current.update(saturated=True, reason=reason)
            break
    return out


def _open(run: Open, plan: SweepPlan) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for index, rate in enumerate(plan.rates):
        wall_rate = rate * plan.scale  # a simulated req/s arrives `scale` times faster
        offsets = poisson_offsets_ns(wall_rate, plan.requests_per_level, plan.seed + index)
        samples = run(offsets)
        current = summarize_level(samples, plan.slo, mode="rate", value=rate, scale=plan.scale)
        reason = saturation(out[-1] if out else current, current)
        out.append(current)
        if reason is not None:
            current.update(saturated=True, reason=reason)
            break
    return out


def best_level(levels: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The level with the highest goodput rate (ties: fewer clients, lower rate)."""
    good = [lv for lv in levels if lv["goodput"]["req_s"] > 0]
    if not good:
        return None
    top = max(good, key=lambda lv: (lv["goodput"]["req_s"], -float(lv[lv["mode"]])))
    return {
        "mode": top["mode"],
        top["mode"]: top[top["mode"]],
        "goodput_req_s": top["goodput"]["req_s"],
        "goodput_share": top["goodput"]["share"],
        "output_tok_s": top["output_tok_s"],
    }
