"""One model's context-limit discovery: predict, search, fit, recommend, judge.

The result is the `limits` entry of results.json (docs/results-schema.md), a plain dict
built here once, so the report and `format_recommendations` read only serialized data.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.hardware import Budget
from harness.limits.fit import (
    MIN_POINTS,
    LinearFit,
    extra_contexts,
    fit_line,
    fit_points,
    linear_from,
)
from harness.limits.predict import DEFAULT_NUM_BATCH, Prediction, predict_model
from harness.limits.probe import FAILURES, Capacity, ContextProbe, Prober, Sampler
from harness.limits.recommend import Policy, recommend, settings_text
from harness.limits.recovery import Backoff, wait_for_server
from harness.limits.search import Estimator, SearchResult, search
from harness.limits.verdict import bound_of, judge
from harness.limits.verify import verify_fill


@dataclass(frozen=True)
class Discovery:
    """Everything one search needs besides the engine."""

    model: str
    hardware: str
    new_sampler: Callable[[], Sampler]
    budget: Budget
    policy: Policy = field(default_factory=Policy)
    options: Mapping[str, Any] = field(default_factory=dict)
    resolution: int = 1024
    recovery: Backoff = field(default_factory=Backoff)
    verify_fill: bool = False
    time_scale: float = 1.0
    max_context: int | None = None  # the top of the search when the server does not say


def discover(engine: Any, job: Discovery) -> dict[str, Any]:
    """Run the whole discovery for one model and return its `limits` entry."""
    prediction = predict_model(
        engine, job.model, int(job.options.get("num_batch", DEFAULT_NUM_BATCH))
    )
    if not prediction.shape.context_length and job.max_context:
        # No /api/show (a launched OpenAI-compatible server): search up to the configured top.
        shape = dataclasses.replace(prediction.shape, context_length=job.max_context)
        prediction = dataclasses.replace(prediction, shape=shape)
    prober = Prober(
        engine, job.model, prediction.bytes_at, job.new_sampler, job.budget, job.options
    )
    cap = prober.learn_capacity()
    estimator = Estimator(prediction, cap.available_bytes, cap.gpu)
    result = search(
        prober,
        estimator,
        prediction.shape.context_length,
        job.resolution,
        recover=lambda: wait_for_server(engine, job.recovery),
    )
    start = max(
        linear_from(prediction.shape.sliding_window, job.resolution), prediction.linear_start()
    )
    probes = list(result.probes) + _fit_probes(prober, result, start, job.resolution)
    fit, regime = _fit(probes, start)
    verify = None
    if job.verify_fill and result.max_context:
        rec_ctx = _recommended(result, probes, job.policy)
        verify = verify_fill(engine, job.model, rec_ctx, job.options, job.time_scale)
    source = None if prober.source is None else prober.source.as_dict()
    return {**_entry(job, prediction, cap, result, probes, fit, regime, verify), "memory": source}


def _fit_probes(
    prober: Prober, result: SearchResult, start: int, resolution: int
) -> list[ContextProbe]:
    if result.max_context is None or result.stopped:
        return []
    room = result.max_probes - len(result.probes)
    out: list[ContextProbe] = []
    for ctx in extra_contexts(result.probes, result.max_context, start, resolution, room):
        out.append(prober(ctx, purpose="fit"))
        if out[-1].outcome in FAILURES:
            break  # a failure below the maximum is a finding; do not push the server further
    return out


def _fit(probes: Sequence[ContextProbe], start: int) -> tuple[LinearFit | None, str]:
    points = fit_points(probes, start)
    if len(points) >= MIN_POINTS:
        return fit_line(points), f"linear regime: good probes at >= {start:,} tokens"
    # Too few linear points (a small maximum): every good probe, and the verdict says so.
    return fit_line(fit_points(probes, 0)), "all good probes (too few in the linear regime)"


def _recommended(result: SearchResult, probes: Sequence[ContextProbe], policy: Policy) -> int:
    assert result.max_context is not None
    bound = bound_of(probes, result.max_context, result.first_bad)
    return recommend(result.max_context, None, None, policy, bound).max_context_tokens


def _spill(probes: Sequence[ContextProbe]) -> dict[str, int | None]:
    spilled = [p.num_ctx for p in probes if p.outcome == "spilled"]
    loaded = [p.num_ctx for p in probes if p.loaded and p.outcome != "capped"]
    return {
        "spill_context": min(spilled, default=None),
        "largest_loaded": max(loaded, default=None),
    }


def _prediction_block(
    prediction: Prediction, cap: Capacity, fit: LinearFit | None, probes: Sequence[ContextProbe]
) -> dict[str, Any]:
    out = prediction.as_dict()
    out["available_bytes"] = cap.available_bytes
    if not prediction.kv_bytes_per_token:
        # No model shape from the server (no /api/show): there was nothing to predict with.
        out["note"] = "no prediction: the server does not describe the model's shape"
        return out
    out["predicted_max_context"] = (
        None if cap.available_bytes is None else prediction.largest_fitting(cap.available_bytes)
    )
    if fit is not None and fit.slope:
        out["bytes_per_token_error"] = round(prediction.bytes_per_token / fit.slope - 1, 4)
    measured = [p for p in probes if p.good and p.memory_bytes]
    if measured:
        top = max(measured, key=lambda p: p.num_ctx)
        assert top.memory_bytes is not None
        out["memory_error_at_max"] = round(top.predicted_bytes / top.memory_bytes - 1, 4)
    return out


def _entry(
    job: Discovery,
    prediction: Prediction,
    cap: Capacity,
    result: SearchResult,
    probes: Sequence[ContextProbe],
    fit: LinearFit | None,
    regime: str,
    verify: Mapping[str, Any] | None,
) -> dict[str, Any]:
    rec = None
    bound = bound_of(probes, result.max_context, result.first_bad)
    if result.max_context:
        base, slope = (None, None) if fit is None else (fit.base, fit.slope)
        rec = recommend(result.max_context, base, slope, job.policy, bound)
    recommended = None if rec is None else rec.max_context_tokens
    verdict = judge(result.max_context, fit, recommended, probes, result.stopped, verify, bound)
    where = f"{job.model} on {job.hardware}, {'GPU' if cap.gpu else 'RAM'} budget"
    return {
        "model": job.model,
        "hardware": job.hardware,
        "device": "gpu" if cap.gpu else "ram",
        "probes": [p.as_dict() for p in probes],
        "max_context": result.max_context,
        "first_bad": result.first_bad,
        "bound": bound,
        **_spill(probes),
        **_fit_keys(fit, regime),
        "prediction": _prediction_block(prediction, cap, fit, probes),
        "search": {
            "resolution": job.resolution,
            "probes": len(result.probes),
            "max_probes": result.max_probes,
            "stopped": result.stopped,
        },
        # Settings to paste only from a measurement that passed: a failed fit's numbers
        # (a negative bytes/token, say) must never reach a config file.
        "recommendations": None
        if rec is None or verdict.verdict != "pass"
        else rec.as_dict(settings_text(rec, result.max_context or 0, where, job.policy)),
        "verify_fill": verify,
        "verdict": verdict.verdict,
        "reason": verdict.reason,
        "findings": list(verdict.findings),
    }


def _fit_keys(fit: LinearFit | None, regime: str) -> dict[str, Any]:
    if fit is None:
        keys = ("bytes_per_token", "base_bytes", "r2", "fit")
        return {**dict.fromkeys(keys), "residuals": []}
    return {
        "bytes_per_token": round(fit.slope, 3),
        "base_bytes": round(fit.base),
        "r2": round(fit.r2, 6),
        "residuals": [round(r) for r in fit.residuals],
        "fit": {**fit.as_dict(), "regime": regime},
    }
