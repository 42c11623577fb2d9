"""One cell, measured: load, calibrate, warm up, repeat, summarise, judge.

The model is loaded first so its load time is recorded apart from every sample; one warm-up
request at the target depth refines the token calibration and is excluded from the
statistics; then `repeats` requests, each with a fresh nonce. A sample whose
`prompt_eval_count` shows the server cut the prompt is `truncated`, never a fast success.

`time_scale` undoes the simulator's speed-up: the simulator sleeps `1/speed` of the modelled
time, so durations are multiplied (and rates divided) by `speed` to report simulated time.
It is 1.0 for a real server, and results record it.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from harness import errors
from harness.engines.base import (
    NS_PER_S,
    Engine,
    LoadedModel,
    LoadResult,
    ServerContext,
    ServerMemory,
    StreamMeasurement,
)
from harness.engines.loading import load_model, unload_model
from harness.matrix.cells import Cell
from harness.matrix.thresholds import Threshold
from harness.measure.prompts import (
    PromptBuilder,
    TokenCalibration,
    calibrate,
    target_prompt_tokens,
)
from harness.measure.samples import sample_record, scaled_s
from harness.measure.stats import stability_score, summarize

SAMPLE_METRICS = (
    "ttft_s",
    "e2e_s",
    "prompt_tok_s",
    "decode_tok_s",
    "client_decode_tok_s",
    "ttft_gap_s",
)
# Outcomes that end a cell at once: repeating a request the server cannot hold is pointless.
_FATAL = (errors.OutOfMemory, errors.ServerUnreachable, errors.ModelNotFound)


class PhaseMarker(Protocol):
    """What measuring needs of the hardware sampler: phase marks and an abort flag."""

    def mark(self, phase: str, *, at_ns: int | None = None) -> None: ...

    @property
    def over_budget(self) -> bool: ...


@dataclass
class CellOutcome:
    """What a measured cell produced; `case` is the results.json element (schema doc)."""

    case: dict[str, Any]
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


HardwareReport = tuple[dict[str, Any] | None, dict[str, Any] | None]


def _no_hardware() -> HardwareReport:
    return None, None


@dataclass(frozen=True)
class MeasureSettings:
    """How to measure: the simulator's time scale, keep_alive, and the hardware hand-off.

    `finish_hardware` is called once when the requests are done; it stops the sampler and
    returns its summary and the memory block (results schema), which feed the case and
    the stability score's headroom.
    """

    time_scale: float = 1.0
    keep_alive: str = "10m"
    finish_hardware: Callable[[], HardwareReport] = _no_hardware


def _load_block(loaded: LoadResult, time_scale: float) -> dict[str, Any]:
    """The load's time: the server's `load_duration`, else the client's wall time.

    Ollama answers a load-only request (no prompt) without `load_duration`, so the client's
    round trip is the only measure there; `load_s_from` says which one `load_s` is.
    """
    server_s = scaled_s(loaded.load_duration_ns, time_scale)
    wall_s = loaded.wall_ns * time_scale / NS_PER_S
    return {
        "load_s": wall_s if server_s is None else server_s,
        "load_s_from": "client" if server_s is None else "server",
        "load_duration_s": server_s,
        "wall_s": wall_s,
        "done_reason": loaded.done_reason,
    }


def measure_cell(
    engine: Engine,
    cell: Cell,
    *,
    repeats: int | None = None,
    settings: MeasureSettings | None = None,
    marker: PhaseMarker | None = None,
    calibration_cache: dict[tuple[str, str], TokenCalibration] | None = None,
) -> CellOutcome:
    """Measure `cell` on `engine` and judge it against its thresholds."""
    cfg = settings or MeasureSettings()
    n_repeats = repeats or cell.settings.repeats
    case = _case_skeleton(engine, cell, cfg)
    mark: Callable[..., None] = marker.mark if marker else (lambda phase, at_ns=None: None)
    try:
        mark("load")
        loaded = load_model(engine, cell.model, cell.options, keep_alive=cfg.keep_alive)
        case["load"] = _load_block(loaded, cfg.time_scale)
        cap = _loaded_context(engine, cell.model)
        if cap is not None and cap.context_length is not None:
            case["loaded"] = {
                "context_length": cap.context_length,
                "size": cap.size,
                "size_vram": cap.size_vram,
                "placement": cap.placement,
                "spilled": cap.spilled,
            }
            if cap.context_length < cell.num_ctx:
                return _ended(
                    case,
                    "capped",
                    f"capped: the server loaded num_ctx="
                    f"{cap.context_length}, not {cell.num_ctx} (the model's limit)",
                    cfg=cfg,
                )
        calibration = _calibration(engine, cell, calibration_cache)
    except errors.EngineError as exc:
        return _ended(case, verdict_for(exc), f"{exc.outcome} while loading: {exc}", cfg=cfg)
    target = target_prompt_tokens(
        cell.num_ctx, cell.settings.fill, cell.settings.num_predict, cell.settings.prompt_tokens
    )
    case["target_prompt_tokens"] = target
    builder = PromptBuilder(seed=zlib.crc32(cell.id.encode()))
    options = {**cell.options, "num_predict": cell.settings.num_predict}
    samples: list[dict[str, Any]] = []
    for _ in range(n_repeats + 1):  # the first request is the warm-up
        if marker is not None and marker.over_budget:
            reason = getattr(marker, "over_budget_reason", None) or "memory budget crossed"
            unload_model(engine, cell.model)  # give the memory back before the machine swaps
            return _ended(case, "over_budget", f"over budget: {reason}", samples[1:], cfg)
        words = calibration.words_for(target)
        sent_at = time.perf_counter_ns()
        try:
            got = engine.chat(
                cell.model, builder.messages(words), options=options, keep_alive=cfg.keep_alive
            )
        except errors.EngineError as exc:
            mark("prefill", at_ns=sent_at)
            mark("after")
            samples.append(_failed_sample(exc))
            if isinstance(exc, _FATAL):
                return _ended(case, verdict_for(exc), str(exc), samples[1:], cfg)
            continue
        # Phases placed from the client's own timestamps: the call blocks until the end.
        mark("prefill", at_ns=got.sent_ns)
        mark("decode", at_ns=got.first_content_ns or got.end_ns)
        mark("after", at_ns=got.end_ns)
        expected = calibration.expected_tokens(words)
        sample = sample_record(got, time_scale=cfg.time_scale, expected_tokens=expected)
        if got.counters.prompt_eval_count and sample["outcome"] == "ok":
            calibration = calibration.refined(words, got.counters.prompt_eval_count)
        if calibration_cache is not None:
            calibration_cache[(engine.base_url, cell.model)] = calibration
        sample["prompt_length_error"] = _length_error(got, target)
        samples.append(sample)
    case["warmup"] = samples[0]
    return _noted(_judge(case, samples[1:], cell, cfg))


def _noted(outcome: CellOutcome) -> CellOutcome:
    """Say in the reason when the cell's context never reached the server."""
    context = outcome.case.get("context") or {}
    if context.get("set_by_harness") is False:
        server = context.get("server_context")
        told = (
            f"the server's own context is {server:,}"
            if server
            else "the server does not say its own"
        )
        note = (
            f"num_ctx {context['requested']:,} was not sent: an OpenAI-compatible server keeps "
            f"the context it was started with ({told}); use --launch to set it"
        )
        outcome.case["reason"] = f"{note}; {outcome.case.get('reason') or ''}".rstrip("; ")
    return outcome


def _case_skeleton(engine: Engine, cell: Cell, cfg: MeasureSettings) -> dict[str, Any]:
    return {
        "id": cell.id,
        "matrix": cell.matrix,
        "model": cell.model,
        "num_ctx": cell.num_ctx,
        "options": {**cell.options, "num_predict": cell.settings.num_predict},
        "server": engine.base_url,
        "engine": engine.kind,
        "time_scale": cfg.time_scale,
        "use_case": cell.use_case,
        "thresholds": {t.kind.name: {t.kind.op: t.limit} for t in cell.settings.thresholds},
        "samples": [],
        "metrics": {},
        "checks": [],
        "stability": None,
        "memory": None,
        "verdict": None,
        "reason": None,
        "context": _context_block(engine, cell.num_ctx),
    }


def _context_block(engine: Engine, num_ctx: int) -> dict[str, Any]:
    """Whether the cell's num_ctx reached the server, and the server's own where it tells."""
    settable = engine.context_control != "none"
    server = None
    if not settable and isinstance(engine, ServerContext):
        server = engine.server_context()
    return {"requested": num_ctx, "set_by_harness": settable, "server_context": server}


def _calibration(
    engine: Engine, cell: Cell, cache: dict[tuple[str, str], TokenCalibration] | None
) -> TokenCalibration:
    key = (engine.base_url, cell.model)
    if cache is not None and key in cache:
        return cache[key]
    found = calibrate(engine, cell.model, cell.options, PromptBuilder())
    if cache is not None:
        cache[key] = found
    return found


def _loaded_context(engine: Engine, model: str) -> LoadedModel | None:
    if not isinstance(engine, ServerMemory):
        return None  # the server does not say what it loaded: the case has no "loaded" block
    for entry in engine.ps():
        if entry.name == model or entry.name.split(":")[0] == model:
            return entry
    return None


def _length_error(got: StreamMeasurement, target: int) -> float | None:
    count = got.counters.prompt_eval_count
    return None if not count else (count - target) / target


def _failed_sample(exc: errors.EngineError) -> dict[str, Any]:
    return {"outcome": exc.outcome, "error": str(exc)}


def verdict_for(exc: errors.EngineError) -> str:
    """The verdict of a cell that this error ended."""
    return {"oom": "oom", "crash": "crash", "timeout": "timeout"}.get(exc.outcome, "error")


def _ended(
    case: dict[str, Any],
    verdict: str,
    reason: str,
    samples: list[dict[str, Any]] | None = None,
    cfg: MeasureSettings | None = None,
) -> CellOutcome:
    _finish_hardware(case, cfg or MeasureSettings())
    case["samples"] = samples or []
    case["verdict"] = verdict
    case["reason"] = _one_line(reason)
    return CellOutcome(case=case, failures=[reason])


def _finish_hardware(case: dict[str, Any], cfg: MeasureSettings) -> None:
    case["hardware"], case["memory"] = cfg.finish_hardware()
    # At the case's top level, where a baseline keeps it: a verdict against the baseline
    # needs both hosts' load to tell a busy host from a slower server.
    case["host_load"] = (case["hardware"] or {}).get("host_load")


def _judge(
    case: dict[str, Any], samples: list[dict[str, Any]], cell: Cell, cfg: MeasureSettings
) -> CellOutcome:
    case["samples"] = samples
    _finish_hardware(case, cfg)
    ok = [s for s in samples if s["outcome"] == "ok"]
    case["metrics"] = {
        name: summarize([s[name] for s in ok if s.get(name) is not None]) for name in SAMPLE_METRICS
    }
    stability = stability_score(
        attempts=len(samples),
        successes=len(ok),
        decode_tok_s=[s["decode_tok_s"] for s in ok if s.get("decode_tok_s")],
        ttft_s=[s["ttft_s"] for s in ok if s.get("ttft_s") is not None],
        memory_fraction_of_budget=(case["memory"] or {}).get("fraction_of_budget"),
    )
    case["stability"] = stability.to_json()
    failures = (
        [
            f"{len(samples) - len(ok)} of {len(samples)} requests failed: "
            + "; ".join(sorted({str(s["error"]) for s in samples if s["outcome"] != "ok"}))
        ]
        if len(ok) < len(samples)
        else []
    )
    truncated = any(s["outcome"] == "truncated" for s in samples)
    values = {"stability": {"score": stability.score}, **case["metrics"]}
    for threshold in cell.settings.thresholds:
        check = _check(threshold, values)
        case["checks"].append(check)
        if check["passed"] is False:
            failures.append(
                f"{threshold.kind.name}: measured {check['measured']:.3g}{threshold.kind.unit}, "
                f"required {threshold.kind.op} {threshold.limit:g}{threshold.kind.unit}"
            )
    case["verdict"] = "truncated" if truncated else ("fail" if failures else "pass")
    case["reason"] = _one_line("; ".join(failures)) or None
    return CellOutcome(case=case, failures=failures)


def _one_line(text: str) -> str:
    """A reason fits a table row: a server's multi-line error text is joined into one line."""
    return " ".join(text.split())


def _check(threshold: Threshold, values: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    kind = threshold.kind
    measured = values.get(kind.metric, {}).get(kind.stat)
    return {
        "metric": kind.name,
        "stat": kind.stat,
        "op": kind.op,
        "required": threshold.limit,
        "measured": measured,
        # A threshold on a metric this engine cannot measure is reported, not failed.
        "passed": None if measured is None else threshold.passes(float(measured)),
    }
