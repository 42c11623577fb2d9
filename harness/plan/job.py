"""The job plan: one answer for a batch job of N requests from what a run measured.

    strategy      the fastest throughput strategy that passed (its projection's time)
    num_ctx       the limits suite's recommended maximum for the model, else the num_ctx the
                  throughput run itself ran at within its memory limit; never the server's
                  unknown default
    trim          conversation only: threshold = the limits suite's CONTEXT_TRIM_THRESHOLD,
                  else min(the throughput section's threshold, 85% of num_ctx); interval and
                  kept messages from the measured growth (harness.batch.growth)
    parallel      OLLAMA_NUM_PARALLEL = the concurrency the throughput was measured with:
                  each slot reserves a num_ctx of KV cache, so more would only cost memory
                  for the measured time (the capacity answer is shown beside, not mixed in)
    time          the projection's time a + b x N with its 95% bootstrap interval; for another
                  N than the run's target the interval is scaled by the same ratio
    memory        the limits fit base + bytes/token x num_ctx x parallel (predicted) when the
                  limits suite measured the model, else the throughput run's peak
    savings       the chosen strategy's token savings at its largest size; the interval is the
                  range over the measured sizes

A missing or failed measurement is listed in `missing` with the command that measures it;
a blocking one leaves the plan without settings (`ready` False).
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.batch.extrapolate import DEFAULT_TARGET
from harness.batch.growth import trim_settings
from harness.limits.recommend import Policy
from harness.plan.facts import StrategyRun, strategy_runs
from harness.plan.model import JobPlan, Missing, PeakMemory, Projection, TrimPlan
from harness.results.schema import (
    CapacityEntry,
    Interval,
    JsonObject,
    Limit,
    RunResults,
    as_run,
    count,
)

# The limits suite's default trim fraction, for a num_ctx that no limits search gave.
TRIM_FRACTION = Policy().trim_fraction


def projection(run: StrategyRun, requests: int) -> Projection | None:
    """`run`'s projection carried to `requests` (None: the run made no projection)."""
    ex = run.extrapolation
    if ex is None or ex.target is None or ex.time_s is None or ex.target <= 0:
        return None
    target, time_s = ex.target, ex.time_s.value
    a, b = ex.fit_a, ex.fit_b
    method = ex.method
    time_iv = ex.time_s
    if requests != target:
        if a is None or b is None:
            new_time = time_s * requests / target
        else:
            new_time = a + b * requests
        ratio = new_time / time_s if time_s > 0 else 0.0
        time_iv = time_iv.scaled(ratio)
        method += f"; carried from {int(target):,} to {requests:,} requests by the fitted line"
    per = requests / target
    savings = [r.token_savings for r in run.rows if r.token_savings is not None]

    def scaled(iv: Interval | None) -> Interval | None:
        return None if iv is None else iv.scaled(per)

    return Projection(
        strategy=run.strategy,
        requests=requests,
        sizes=tuple(r.size for r in run.rows),
        passed=run.passed,
        reason=run.reason,
        time_s=time_iv,
        req_s=requests / time_iv.value if time_iv.value > 0 else None,
        prompt_tokens=scaled(ex.prompt_tokens),
        completion_tokens=scaled(ex.completion_tokens),
        token_savings=Interval(savings[-1], min(savings), max(savings)) if savings else None,
        trims=scaled(ex.trims),
        peak_memory_bytes=ex.peak_memory_bytes,
        warning=ex.warning,
        method=method,
    )


def _fix_limits(matrix: str) -> str:
    return f"pytest suites/context_limits --matrix {matrix or 'NAME'}"


def _num_ctx(
    run: StrategyRun, limit: Limit | None, missing: list[Missing]
) -> tuple[int | None, int | None, str]:
    """(num_ctx, trim threshold, where they came from)."""
    matrix = run.matrix
    recommended = None if limit is None else count(limit.recommendations.max_context_tokens)
    if limit is not None and limit.verdict == "pass" and recommended:
        trim = count(limit.recommendations.trim_threshold)
        threshold = trim or int(recommended * TRIM_FRACTION)
        return recommended, threshold, "context_limits: the recommended maximum"
    if limit is not None:
        missing.append(Missing(
            "context limits", f"the limit search for {run.model} failed: {limit.reason}",
            _fix_limits(limit.matrix), blocking=False,
        ))  # fmt: skip
    else:
        missing.append(Missing(
            "context limits", f"this run did not search {run.model}'s context limit",
            _fix_limits(matrix), blocking=False,
        ))  # fmt: skip
    s = run.settings
    if s is not None and s.num_ctx and run.passed:
        threshold = min(s.trim_threshold, int(s.num_ctx * TRIM_FRACTION))
        source = "throughput: the num_ctx the job ran at within its memory limit"
        return s.num_ctx, threshold, source
    missing.append(Missing(
        "num_ctx",
        "no limit search and the throughput run left num_ctx to the server's default, so no "
        "context is known to be safe",
        f"{_fix_limits(matrix)}, or give the matrix's throughput section `num_ctx:`",
        blocking=True,
    ))  # fmt: skip
    return None, None, ""


def _memory(
    run: StrategyRun, chosen: Projection, limit: Limit | None,
    num_ctx: int | None, parallel: int, basis: str,
) -> PeakMemory | None:  # fmt: skip
    budget = run.settings.memory_budget_bytes if run.settings else None
    budget_source = "the throughput section's memory_limit of the device" if budget else ""
    limit_budget = None if limit is None else count(limit.budget_bytes)
    if limit_budget:
        budget, budget_source = limit_budget, "the limits suite's memory budget"
    # A failed search's line is not a measurement to predict from.
    fitted = limit is not None and limit.verdict == "pass" and limit.base_bytes is not None
    if fitted and num_ctx and limit is not None and limit.bytes_per_token:
        peak = (limit.base_bytes or 0) + (limit.bytes_per_token or 0) * num_ctx * parallel
        return PeakMemory(
            Interval(round(peak)), "predicted",
            f"the limits fit at num_ctx {num_ctx:,} x {parallel} slot(s)", budget, budget_source,
        )  # fmt: skip
    if chosen.peak_memory_bytes is None:
        return None
    source = "the throughput run's peak, carried to the job: flat when trimming holds it"
    return PeakMemory(chosen.peak_memory_bytes, basis, source, budget, budget_source)


def _context(entry: CapacityEntry) -> int:
    return count(entry.context) or 0


def _capacity_note(caps: Sequence[CapacityEntry], num_ctx: int | None) -> str | None:
    fitting = [c for c in caps if num_ctx is None or _context(c) <= num_ctx]
    cap = max(fitting, key=_context, default=None)
    if cap is None:
        return None
    return f"capacity (concurrency suite, its own workload): {cap.recommendation}"


def plan_job(
    payload: RunResults | JsonObject, requests: int | None = None, model: str | None = None
) -> JobPlan:
    """The plan for a job of `requests` (default: the run's projection target, else 170,000)
    with `model` (default: the first model the throughput suite measured)."""
    results = as_run(payload)
    every = strategy_runs(results)
    chosen_model = model or (every[0].model if every else None)
    runs = [r for r in every if r.model == chosen_model]
    others = sorted({r.model for r in every} - {chosen_model or ""})
    sim = results.simulated
    basis = "simulated" if sim else "measured"
    targets = [r.extrapolation.target if r.extrapolation else None for r in runs]
    n = requests or int(next((t for t in targets if t), DEFAULT_TARGET))
    lims, caps = results.limits, results.capacity
    measured = tuple(
        name for name, present in
        (("throughput", runs), ("context_limits", lims), ("capacity", caps)) if present
    )  # fmt: skip
    missing: list[Missing] = []
    projections = tuple(p for r in runs if (p := projection(r, n)) is not None)
    if others:
        missing.append(Missing(
            "one model", f"this run measured throughput for {', '.join(others)} too; the plan "
            f"is for {chosen_model}", "harness plan RUN --model NAME for another", blocking=False,
        ))  # fmt: skip
    if not runs:
        model = model or next((c.model for c in caps), None) or next((x.model for x in lims), None)
        matrix = next((x.matrix for x in lims if x.matrix), "NAME")
        missing.append(Missing(
            "throughput", "this run measured no batch throughput, so no strategy, time or "
            "token savings", f"pytest suites/throughput --matrix {matrix}", blocking=True,
        ))  # fmt: skip
        return _empty(n, sim, model, projections, measured, missing, caps)
    passing = [p for p in projections if p.passed]
    if not passing:
        why = "; ".join(f"{r.strategy}: {r.reason or 'no projection'}" for r in runs)
        missing.append(Missing(
            "a passing throughput strategy", f"every strategy failed ({why})",
            "fix what the reasons say and re-run pytest suites/throughput", blocking=True,
        ))  # fmt: skip
        return _empty(n, sim, runs[0].model, projections, measured, missing, caps)
    chosen = min(passing, key=lambda p: p.time_s.value)
    run = next(r for r in runs if r.strategy == chosen.strategy)
    limit = next((lim for lim in lims if lim.model == run.model), None)
    num_ctx, threshold, ctx_source = _num_ctx(run, limit, missing)
    notes: list[str] = []
    trim = _trim(run, threshold, basis, missing, notes)
    parallel = run.settings.concurrency if run.settings else 1
    if not any(c.model == run.model for c in caps):
        missing.append(Missing(
            "capacity", "the concurrency suite did not measure this model, so whether more "
            "parallel slots would be faster is unknown",
            f"pytest suites/concurrency --matrix {run.matrix if run.settings else 'NAME'}",
            blocking=False,
        ))  # fmt: skip
    note = _capacity_note([c for c in caps if c.model == run.model], num_ctx)
    if note:
        notes.append(note)
    memory = _memory(run, chosen, limit, num_ctx, parallel, basis)
    if memory is None:
        missing.append(
            Missing(
                "peak memory",
                "no memory reading during the throughput run",
                "run it where the GPU (NVML) or /api/ps answers",
                blocking=False,
            )
        )
    elif memory.over_budget:
        peak = memory.peak_bytes.high or memory.peak_bytes.value
        missing.append(Missing(
            "memory headroom", f"the job's peak memory would exceed the budget "
            f"({peak:,.0f} > {memory.budget_bytes:,} bytes)",
            "lower num_ctx or the trim threshold and re-run the throughput suite", blocking=True,
        ))  # fmt: skip
    if chosen.warning:
        notes.append(f"warning: {chosen.warning}")
    return JobPlan(
        requests=n, simulated=sim, model=run.model, strategy=chosen.strategy,
        num_ctx=num_ctx, num_ctx_source=ctx_source, trim=trim,
        num_parallel=parallel, concurrency=parallel,
        parallel_source="as the throughput was measured; each slot reserves a num_ctx of KV "
        "cache, so more would cost memory for no measured gain",
        time_s=chosen.time_s, memory=memory, token_savings=chosen.token_savings,
        projections=projections, measured=measured, missing=tuple(missing), notes=tuple(notes),
    )  # fmt: skip


def _trim(
    run: StrategyRun, threshold: int | None, basis: str, missing: list[Missing], notes: list[str]
) -> TrimPlan | None:
    if run.strategy != "conversation" or threshold is None:
        return None
    if run.growth is None:
        missing.append(Missing(
            "conversation growth", "the conversation case recorded no prompt counts, so the "
            "trim interval cannot be computed", "re-run pytest suites/throughput", blocking=True,
        ))  # fmt: skip
        return None
    ts = trim_settings(threshold, run.growth)
    notes.append(
        f"the trim interval and kept messages follow the measured growth "
        f"({run.growth.tokens_per_request:,} tokens a request), not the limits suite's assumed "
        "tokens_per_request: use these for conversation batching"
    )
    s = run.settings
    strategy = s.trim_strategy if s else "sliding_window"
    if s is not None and (s.trim_threshold, s.trim_interval, s.keep_messages) != (
        ts.trim_threshold,
        ts.trim_interval,
        ts.keep_messages,
    ):
        notes.append(
            f"the time was measured with trim threshold {s.trim_threshold:,}, interval "
            f"{s.trim_interval}, {s.keep_messages} kept messages; the plan's settings differ: "
            "re-run the throughput suite with them to measure them"
        )
    return TrimPlan(
        trim_strategy=strategy, trim_threshold=ts.trim_threshold, trim_interval=ts.trim_interval,
        keep_messages=ts.keep_messages, tokens_per_request=ts.growth.tokens_per_request,
        system_tokens=ts.growth.system_tokens, growth_source=basis,
    )  # fmt: skip


def _empty(
    n: int, sim: bool, model: str | None, projections: tuple[Projection, ...],
    measured: tuple[str, ...], missing: list[Missing], caps: Sequence[CapacityEntry],
) -> JobPlan:  # fmt: skip
    note = _capacity_note([c for c in caps if model is None or c.model == model], None)
    return JobPlan(
        requests=n, simulated=sim, model=model, strategy=None, num_ctx=None, num_ctx_source="",
        trim=None, num_parallel=None, concurrency=None, parallel_source="", time_s=None,
        memory=None, token_savings=None, projections=projections, measured=measured,
        missing=tuple(missing), notes=(note,) if note else (),
    )  # fmt: skip
