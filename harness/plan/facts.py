"""What the plan derives from a run's typed results (`harness.results.schema`) before deciding.

The sections themselves (throughput sizes, projections, batch settings, limits, capacity) are
the results model's types; this module only groups them the way the plan asks:

- `strategy_runs(run)`: each throughput strategy with its sizes, projection and settings,
  from its case, else from the run-level sections (a run cut short, an older writer);
- `scaling_cells(run)`: the context-scaling cells that carry a use case, as `UseCaseCell`s
  (measured cells, not the matrix's `Cell`s to measure).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from harness.plan.model import Pick
from harness.results.schema import (
    Extrapolation,
    Growth,
    RunResults,
    ThroughputEntry,
    ThroughputSettings,
)


@dataclass(frozen=True)
class StrategyRun:
    """One strategy of the throughput suite: its sizes, projection and verdict."""

    strategy: str
    model: str
    passed: bool
    reason: str | None
    rows: tuple[ThroughputEntry, ...]  # by size
    extrapolation: Extrapolation | None
    growth: Growth | None
    settings: ThroughputSettings | None  # None: not recorded (an older run, or no case)
    matrix: str  # the case's matrix ("" without settings, as the plan names no matrix then)


@dataclass(frozen=True)
class UseCaseCell:
    """A model x context cell of the context-scaling suite: what it measured (`pick`, the
    type a recommendation names) and what the recommendation groups and ranks it by."""

    pick: Pick
    matrix: str
    use_case: str
    passed: bool
    reason: str


def _by_size(rows: Iterable[ThroughputEntry]) -> tuple[ThroughputEntry, ...]:
    return tuple(sorted(rows, key=lambda r: r.size))


def strategy_runs(run: RunResults) -> list[StrategyRun]:
    """Every throughput strategy of the run, in the order its cases finished."""
    by_strategy = run.extrapolation.projections() if run.extrapolation is not None else {}
    out = []
    for case in run.cases:
        if case.throughput is None:
            continue
        strategy = case.id.rsplit("-", 1)[-1]
        rows = list(case.throughput) or [e for e in run.throughput if e.strategy == strategy]
        if rows:
            strategy = rows[0].strategy or strategy
        settings = case.batch_settings
        out.append(
            StrategyRun(
                strategy=strategy,
                model=case.model,
                passed=case.verdict == "pass",
                reason=case.reason or None,
                rows=_by_size(rows),
                extrapolation=case.extrapolation or by_strategy.get(strategy),
                growth=case.growth,
                settings=settings,
                matrix=case.matrix if settings is not None else "",
            )
        )
    # Entries with no case of their strategy (a run cut short, an older writer): shown, with
    # no verdict, so never the basis of settings.
    seen = {r.strategy for r in out}
    for strategy in dict.fromkeys(e.strategy for e in run.throughput):
        if strategy in seen:
            continue
        rows = [e for e in run.throughput if e.strategy == strategy]
        out.append(
            StrategyRun(
                strategy=strategy,
                model=rows[0].model,
                passed=False,
                reason="no verdict recorded for this strategy (its test case is missing)",
                rows=_by_size(rows),
                extrapolation=by_strategy.get(strategy),
                growth=None,
                settings=None,
                matrix="",
            )
        )
    return out


def scaling_cells(run: RunResults) -> list[UseCaseCell]:
    """The context-scaling cells that carry a use case (the matrix's `use_case:`)."""
    out = []
    for case in run.cases:
        num_ctx = None if case.num_ctx is None else int(case.num_ctx)
        if case.suite not in (None, "", "context_scaling") or not case.use_case or not num_ctx:
            continue
        if case.throughput is not None or "limits" in case.id.split(":")[0]:
            continue
        peak = case.memory.peak_bytes if case.memory is not None else None
        pick = Pick(
            case_id=case.id,
            model=case.model,
            num_ctx=num_ctx,
            ttft_s=case.p50("ttft_s"),
            decode_tok_s=case.p50("decode_tok_s"),
            stability=case.stability.score if case.stability is not None else None,
            peak_memory_bytes=None if peak is None else int(peak),
            options=case.options,
            thresholds=case.thresholds_as_written,
        )
        reason = case.reason or case.verdict
        out.append(UseCaseCell(pick, case.matrix, case.use_case, case.verdict == "pass", reason))
    return out
