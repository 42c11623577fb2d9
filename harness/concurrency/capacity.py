"""The capacity answer: for each context, how many slots fit, the best sustainable setting
under the targets, and what that means for a job of N requests.

Memory follows Ollama's allocation (KV cache = num_ctx x OLLAMA_NUM_PARALLEL):

    memory(C, P) = base + slot_bytes x P + bytes_per_token x C x P

`slot_bytes` is what each slot costs whatever its context (Gemma 3's sliding-window layers
hold `window` tokens per slot); it is measured when memory was read at two or more slot
counts and taken as 0 otherwise, which is the plain `base + bytes_per_token x C x P` of the
context-limit fit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from harness.measure.stats import linear_fit

MAX_PARALLEL = 256  # the search's ceiling; no local server runs more slots than this


@dataclass(frozen=True)
class MemoryModel:
    """memory(C, P) in bytes (module docstring); `source` says where the numbers came from."""

    base_bytes: float
    bytes_per_token: float  # per token of context per slot
    slot_bytes: float = 0.0
    source: str = "fit"

    def at(self, context: int, parallel: int) -> float:
        per_slot = self.slot_bytes + self.bytes_per_token * context
        return self.base_bytes + per_slot * parallel

    def max_parallel(self, context: int, available: float) -> int:
        """The largest P with memory(context, P) <= available (0 when not even one fits)."""
        per_slot = self.slot_bytes + self.bytes_per_token * context
        if per_slot <= 0:
            return MAX_PARALLEL
        room = (available - self.base_bytes) / per_slot
        return max(0, min(MAX_PARALLEL, int(room)))

    def as_dict(self) -> dict[str, Any]:
        return {k: round(v) if isinstance(v, float) else v for k, v in asdict(self).items()}

    @classmethod
    def from_limits(cls, entry: Mapping[str, Any]) -> MemoryModel:
        """From a `limits` entry of results.json (a fit at one slot)."""
        return cls(
            base_bytes=float(entry["base_bytes"]),
            bytes_per_token=float(entry["bytes_per_token"]),
            source="limits",
        )

    @classmethod
    def from_lines(cls, lines: Mapping[int, tuple[float, float]]) -> MemoryModel:
        """From per-slot-count lines {P: (intercept, slope)} of memory against context.

        The slope is bytes_per_token x P; the intercepts, fitted against P, give base and
        slot_bytes. One slot count leaves slot_bytes at 0.
        """
        if not lines:
            raise ValueError("no memory lines to build a MemoryModel from")
        per_token = max(slope / p for p, (_, slope) in lines.items())
        ps = sorted(lines)
        if len(ps) == 1:
            p = ps[0]
            return cls(lines[p][0], per_token, 0.0, source=f"/api/ps at P={p}")
        slot = max(linear_fit(ps, [lines[p][0] for p in ps]).slope, 0.0)
        # The largest intercept residual keeps the model from promising bytes it never saw.
        base = max(lines[p][0] - slot * p for p in ps)
        return cls(base, per_token, slot, source=f"/api/ps at P={','.join(map(str, ps))}")


def job_hours(requests: int, rate_per_s: float | None) -> float | None:
    if not rate_per_s or rate_per_s <= 0:
        return None
    return requests / rate_per_s / 3600.0


def _rate(best: Mapping[str, Any] | None) -> float | None:
    return None if best is None else float(best["goodput_req_s"])


def _candidates(sweeps: Sequence[Mapping[str, Any]], max_fit: int | None) -> list[dict[str, Any]]:
    out = []
    for sweep in sweeps:
        slots = sweep.get("slots")
        if max_fit is not None and slots is not None and slots > max_fit:
            continue  # measured, but would not fit the budget: never recommended
        if sweep.get("spilled"):
            continue
        best = sweep.get("best")
        if best:
            out.append({"slots": slots, **best})
    return out


def capacity_entry(
    model: str,
    context: int,
    sweeps: Sequence[Mapping[str, Any]],
    memory: MemoryModel | None,
    available_bytes: float | None,
    job_requests: int,
) -> dict[str, Any]:
    """The `capacity` answer for one model at one context, from its sweeps (one per P)."""
    max_fit = None
    if memory is not None and available_bytes is not None:
        max_fit = memory.max_parallel(context, available_bytes)
    cands = _candidates(sweeps, max_fit)
    best = max(cands, key=lambda c: c["goodput_req_s"], default=None)
    p1 = max((c for c in cands if c["slots"] == 1), key=lambda c: c["goodput_req_s"], default=None)
    entry: dict[str, Any] = {
        "model": model,
        "context": context,
        "max_parallel_fit": max_fit,
        "available_bytes": None if available_bytes is None else int(available_bytes),
        "memory_model": None if memory is None else memory.as_dict(),
        "best": best,
        "p1": p1,
        "job_requests": job_requests,
        "job_hours_best": job_hours(job_requests, _rate(best)),
        "job_hours_p1": job_hours(job_requests, _rate(p1)),
    }
    entry["recommendation"] = recommendation(entry)
    return entry


def recommendation(entry: Mapping[str, Any]) -> str:
    """One sentence a person can act on."""
    model, ctx, best = entry["model"], entry["context"], entry["best"]
    if entry["max_parallel_fit"] == 0:
        return f"{model} at num_ctx {ctx:,}: does not fit the memory budget even with one slot"
    if best is None:
        return f"{model} at num_ctx {ctx:,}: no setting met the targets; relax the SLO or context"
    load = (
        f"{best['concurrency']} concurrent requests"
        if best["mode"] == "concurrency"
        else f"{best['rate']:g} req/s offered"
    )
    text = (
        f"{model} at num_ctx {ctx:,}: OLLAMA_NUM_PARALLEL={best['slots']} with {load} -> "
        f"{best['goodput_req_s']:.2f} req/s within targets"
    )
    hours, hours_p1 = entry["job_hours_best"], entry["job_hours_p1"]
    if hours is not None:
        text += f"; {entry['job_requests']:,} requests in {hours:.1f} h"
        if hours_p1 is not None:
            text += f" (P=1: {hours_p1:.1f} h)"
    return text
