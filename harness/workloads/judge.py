"""A finished sustained run as a results case: metrics, trends, stability, verdict.

PASS follows seed 001's Phase 2: at least `success_min` of the requests succeed and the
mean decode rate reaches `tok_s_min`. Drift and memory growth are always reported (slope
with a 95% interval); they fail the run only past a threshold the matrix sets, and only
when the interval excludes zero, so noise alone never fails a run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.engines.base import NS_PER_S
from harness.measure.stats import stability_score, summarize
from harness.workloads.drift import (
    SECONDS_PER_HOUR,
    Trend,
    linear_trend,
    relative_drift_per_hour,
)
from harness.workloads.runner import SustainedRun

MIB = 2**20
SAMPLE_METRICS = ("ttft_s", "e2e_s", "prompt_tok_s", "decode_tok_s", "prompt_eval_count")


def memory_trend(readings: Sequence[tuple[float, float]], time_scale: float) -> Trend | None:
    """Bytes per simulated second over `readings`: (seconds, bytes) of the case's memory
    metric from the steady state on (`HardwareSampler.readings_since(metric, "prefill")`),
    so the load and warm-up before it never count as growth."""
    if not readings:
        return None
    return linear_trend([t * time_scale for t, _ in readings], [v for _, v in readings])


def build_case(
    run: SustainedRun,
    *,
    matrix: str,
    server: str,
    engine_kind: str,
    hardware: dict[str, Any] | None,
    memory: dict[str, Any] | None,
    memory_readings: Sequence[tuple[float, float]] = (),
) -> dict[str, Any]:
    """The results.json case (docs/results-schema.md) of one sustained workload.

    `memory_readings`: the readings of `memory["metric"]` from the steady state on (see
    `memory_trend`), from which memory growth is fitted."""
    spec, scale = run.spec, run.settings.time_scale
    ok = [s for s in run.samples if s["outcome"] == "ok"]
    metrics: dict[str, Any] = {
        name: summarize([s[name] for s in ok if s.get(name) is not None]) for name in SAMPLE_METRICS
    }
    decode = linear_trend(*_xy(ok, "decode_tok_s"))
    ttft = linear_trend(*_xy(ok, "ttft_s"))
    mem = memory_trend(memory_readings, scale)
    drift = relative_drift_per_hour(decode)
    attempts = len(run.samples)
    metrics.update(
        success_rate=len(ok) / attempts if attempts else 0.0,
        requests=attempts,
        duration_s=(run.ended_ns - run.steady_ns) * scale / NS_PER_S,
        decode_drift_per_hour=drift,
        ttft_drift_per_hour=relative_drift_per_hour(ttft),
        memory_growth=_growth(mem),
    )
    stability = stability_score(
        attempts=attempts,
        successes=len(ok),
        decode_tok_s=[s["decode_tok_s"] for s in ok if s.get("decode_tok_s")],
        ttft_s=[s["ttft_s"] for s in ok if s.get("ttft_s") is not None],
        memory_fraction_of_budget=(memory or {}).get("fraction_of_budget"),
        # A slope the interval cannot tell from zero counts as no drift: a short or noisy
        # run must not lose stability to an extrapolation of its noise.
        drift_per_hour=None if drift is None else drift["slope"] if drift["significant"] else 0.0,
    )
    checks = _checks(run, metrics)
    failures = [c["reason"] for c in checks if c["passed"] is False]
    if run.stopped:
        failures.insert(0, f"stopped early: {run.stopped}")
    return {
        "id": spec.id,
        "matrix": matrix,
        "model": spec.model,
        "num_ctx": spec.num_ctx,
        "workload": spec.kind,  # not "kind": results.jsonl uses that key for its records
        "options": {"num_ctx": spec.num_ctx, "num_predict": spec.num_predict},
        "server": server,
        "engine": engine_kind,
        "time_scale": scale,
        "use_case": f"sustained {spec.kind}",
        "thresholds": _thresholds(run),
        "load": run.load,
        "warmup": run.warmup,
        "samples": run.samples,
        "metrics": metrics,
        "checks": [{k: v for k, v in c.items() if k != "reason"} for c in checks],
        "stability": stability.to_json(),
        "memory": memory,
        "hardware": hardware,
        # At the top level, where a baseline keeps it (as harness.measure.procedure does): a verdict
        # against the baseline needs both hosts' load to tell a busy host from a slower server.
        "host_load": (hardware or {}).get("host_load"),
        "verdict": _verdict(run, failures),
        "reason": "; ".join(failures) or None,
    }


def _xy(samples: list[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    pairs = [(s["t_s"], s[key]) for s in samples if s.get(key) is not None]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _growth(trend: Trend | None) -> dict[str, Any] | None:
    """Growth over the run (slope x span) and per hour, with the interval."""
    if trend is None:
        return None
    per_hour = trend.to_json(per=SECONDS_PER_HOUR)
    run = trend.to_json(per=trend.span)
    return {
        "bytes_over_run": run["slope"],
        "low": run["low"],
        "high": run["high"],
        "bytes_per_hour": per_hour,
        "significant": trend.significant,
    }


def _thresholds(run: SustainedRun) -> dict[str, dict[str, float]]:
    spec = run.spec
    out: dict[str, dict[str, float]] = {"success_rate": {"min": spec.success_min}}
    if spec.tok_s_min is not None:
        out["decode_tok_s"] = {"min": spec.tok_s_min}
    if spec.drift_max_per_hour is not None:
        out["decode_drift_per_hour"] = {"max": spec.drift_max_per_hour}
    if spec.memory_growth_max_bytes is not None:
        out["memory_growth_bytes"] = {"max": float(spec.memory_growth_max_bytes)}
    return out


def _check(
    metric: str, op: str, required: float, measured: float | None, passed: bool | None, why: str
) -> dict[str, Any]:
    stat = {"decode_tok_s": "mean", "success_rate": "mean"}.get(metric, "slope")
    return {
        "metric": metric,
        "stat": stat,
        "op": op,
        "required": required,
        "measured": measured,
        "passed": passed,
        "reason": why,
    }


def _checks(run: SustainedRun, metrics: dict[str, Any]) -> list[dict[str, Any]]:
    spec = run.spec
    rate = metrics["success_rate"]
    why = f"success rate {rate:.1%} < {spec.success_min:.0%} of {metrics['requests']} requests"
    checks = [_check("success_rate", ">=", spec.success_min, rate, rate >= spec.success_min, why)]
    if spec.tok_s_min is not None:
        mean = metrics["decode_tok_s"].get("mean")
        why = f"mean decode {mean or 0:.2f} tok/s < {spec.tok_s_min} tok/s"
        passed = None if mean is None else mean >= spec.tok_s_min
        checks.append(_check("decode_tok_s", ">=", spec.tok_s_min, mean, passed, why))
    drift = metrics["decode_drift_per_hour"]
    if spec.drift_max_per_hour is not None and drift is not None:
        bad = abs(drift["slope"]) > spec.drift_max_per_hour and bool(drift["significant"])
        why = (
            f"decode tok/s drifts {drift['slope']:+.1%} per hour (95% interval "
            f"{drift['low']:+.1%}..{drift['high']:+.1%}), limit {spec.drift_max_per_hour:.0%}"
        )
        limit = spec.drift_max_per_hour
        checks.append(_check("decode_drift_per_hour", "<=", limit, drift["slope"], not bad, why))
    growth = metrics["memory_growth"]
    if spec.memory_growth_max_bytes is not None and growth is not None:
        grown, limit = growth["bytes_over_run"], spec.memory_growth_max_bytes
        bad = grown > limit and bool(growth["significant"])
        why = (
            f"memory grew {grown / MIB:.1f} MiB over the run (95% interval "
            f"{growth['low'] / MIB:.1f}..{growth['high'] / MIB:.1f} MiB): a leak past "
            f"{limit / MIB:.1f} MiB"
        )
        checks.append(_check("memory_growth_bytes", "<=", limit, grown, not bad, why))
    return checks


def _verdict(run: SustainedRun, failures: list[str]) -> str:
    if run.stopped and run.stopped.startswith("oom"):
        return "oom"
    if any(s["outcome"] == "truncated" for s in run.samples) and failures:
        return "truncated"
    return "fail" if failures else "pass"
