"""What the plan reads from a run, through small accessors over results.json's sections.

Each accessor turns one existing section (cases, throughput, extrapolation, limits,
capacity) into frozen views holding only what the plan uses, so the plan's functions never
see raw dicts, and a switch to a typed results model changes this module only.

`throughput_case_settings` is the one writer here: what the throughput suite records in its
case so the plan knows the settings the batch ran with (num_ctx, concurrency, trim settings,
the memory budget).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.batch.growth import Growth
from harness.batch.matrix_section import ThroughputSection
from harness.results.schema import dig, mapping, number, records, text


def _int(value: Any) -> int | None:
    n = number(value)
    return None if n is None else int(n)


@dataclass(frozen=True)
class SizeRow:
    """One measured size of one strategy."""

    size: int
    total_s: float
    req_s: float | None
    tokens_s: float | None  # prompt + completion tokens the server counted, per second
    token_savings: float | None
    trims: int | None
    peak_memory_bytes: int | None
    errors: int


@dataclass(frozen=True)
class BatchFacts:
    """The settings a throughput case ran with (None: not recorded by an older run)."""

    num_ctx: int | None
    concurrency: int
    trim_strategy: str
    trim_threshold: int
    trim_interval: int
    keep_messages: int
    memory_budget_bytes: int | None
    matrix: str


@dataclass(frozen=True)
class StrategyRun:
    """One strategy of the throughput suite: its sizes, projection and verdict."""

    strategy: str
    model: str
    passed: bool
    reason: str | None
    rows: tuple[SizeRow, ...]
    extrapolation: Mapping[str, Any]
    growth: Growth | None
    settings: BatchFacts | None


@dataclass(frozen=True)
class LimitFacts:
    """A context-limit search's answer for one model."""

    model: str
    matrix: str
    passed: bool
    reason: str
    max_context_tokens: int | None
    trim_threshold: int | None
    base_bytes: float | None
    bytes_per_token: float | None
    budget_bytes: int | None


@dataclass(frozen=True)
class CapacityFacts:
    """The concurrency suite's capacity answer for one model at one context."""

    model: str
    context: int
    slots: int | None
    concurrency: int | None
    goodput_req_s: float | None
    job_requests: int | None
    job_hours: float | None
    job_hours_p1: float | None
    max_parallel_fit: int | None
    recommendation: str


@dataclass(frozen=True)
class Cell:
    """A model x context cell of the context-scaling suite."""

    case_id: str
    matrix: str
    model: str
    use_case: str
    num_ctx: int
    passed: bool
    reason: str
    ttft_s: float | None
    decode_tok_s: float | None
    stability: float | None
    peak_memory_bytes: int | None
    options: Mapping[str, Any]
    thresholds: Mapping[str, Any]


def simulated(payload: Mapping[str, Any]) -> bool:
    return payload.get("simulated") is True


def _size_row(entry: Mapping[str, Any]) -> SizeRow:
    total = number(entry.get("total_s")) or 0.0
    tokens = (number(entry.get("tokens_sent")) or 0.0) + (
        number(entry.get("completion_tokens")) or 0.0
    )
    return SizeRow(
        size=_int(entry.get("size")) or 0,
        total_s=total,
        req_s=number(entry.get("req_s")),
        tokens_s=tokens / total if total > 0 and tokens else None,
        token_savings=number(entry.get("token_savings")),
        trims=_int(entry.get("trims")),
        peak_memory_bytes=_int(entry.get("peak_memory_bytes")),
        errors=_int(entry.get("errors")) or 0,
    )


def _growth(trim_plan: Mapping[str, Any]) -> Growth | None:
    g = mapping(trim_plan.get("growth"))
    per_request = _int(g.get("tokens_per_request"))
    if not per_request:
        return None
    return Growth(
        per_request,
        _int(g.get("system_tokens")) or 0,
        text(g.get("source")) or "measured",
        _int(g.get("samples")) or 0,
    )


def _batch_facts(case: Mapping[str, Any]) -> BatchFacts | None:
    s = mapping(case.get("batch_settings"))
    if not s:
        return None
    return BatchFacts(
        num_ctx=_int(s.get("num_ctx")),
        concurrency=_int(s.get("concurrency")) or 1,
        trim_strategy=text(s.get("trim_strategy")) or "sliding_window",
        trim_threshold=_int(s.get("trim_threshold")) or 0,
        trim_interval=_int(s.get("trim_interval")) or 0,
        keep_messages=_int(s.get("keep_messages")) or 0,
        memory_budget_bytes=_int(s.get("memory_budget_bytes")),
        matrix=text(case.get("matrix")),
    )


def strategy_runs(payload: Mapping[str, Any]) -> list[StrategyRun]:
    """Every throughput strategy of the run, in the order its cases finished."""
    ex = mapping(payload.get("extrapolation"))
    by_strategy = mapping(ex.get("by_strategy")) or (
        {text(ex.get("strategy")): ex} if ex.get("strategy") else {}
    )
    entries = records(payload.get("throughput"))
    out = []
    for case in records(payload.get("cases")):
        if "throughput" not in case or not isinstance(case.get("throughput"), list):
            continue
        strategy = text(case.get("id")).rsplit("-", 1)[-1]
        rows = records(case.get("throughput")) or [
            e for e in entries if text(e.get("strategy")) == strategy
        ]
        if rows:
            strategy = text(rows[0].get("strategy")) or strategy
        out.append(
            StrategyRun(
                strategy=strategy,
                model=text(case.get("model")),
                passed=text(case.get("verdict")) == "pass",
                reason=text(case.get("reason")) or None,
                rows=tuple(sorted((_size_row(r) for r in rows), key=lambda r: r.size)),
                extrapolation=mapping(case.get("extrapolation"))
                or mapping(by_strategy.get(strategy)),
                growth=_growth(mapping(case.get("trim_plan"))),
                settings=_batch_facts(case),
            )
        )
    # Entries with no case of their strategy (a run cut short, an older writer): shown, with
    # no verdict, so never the basis of settings.
    seen = {r.strategy for r in out}
    for strategy in dict.fromkeys(text(e.get("strategy")) for e in entries):
        if strategy in seen:
            continue
        rows = [e for e in entries if text(e.get("strategy")) == strategy]
        out.append(
            StrategyRun(
                strategy=strategy,
                model=text(rows[0].get("model")),
                passed=False,
                reason="no verdict recorded for this strategy (its test case is missing)",
                rows=tuple(sorted((_size_row(r) for r in rows), key=lambda r: r.size)),
                extrapolation=mapping(by_strategy.get(strategy)),
                growth=None,
                settings=None,
            )
        )
    return out


def limits(payload: Mapping[str, Any]) -> list[LimitFacts]:
    out = []
    for lim in records(payload.get("limits")):
        recs = mapping(lim.get("recommendations"))
        out.append(
            LimitFacts(
                model=text(lim.get("model")),
                matrix=text(lim.get("matrix")),
                passed=text(lim.get("verdict")) == "pass",
                reason=text(lim.get("reason")),
                max_context_tokens=_int(recs.get("max_context_tokens")),
                trim_threshold=_int(recs.get("trim_threshold")),
                base_bytes=number(lim.get("base_bytes")),
                bytes_per_token=number(lim.get("bytes_per_token")),
                budget_bytes=_int(dig(lim, "prediction", "available_bytes")),
            )
        )
    return out


def capacity(payload: Mapping[str, Any]) -> list[CapacityFacts]:
    out = []
    for entry in records(mapping(payload.get("capacity")).get("entries")):
        best = mapping(entry.get("best"))
        out.append(
            CapacityFacts(
                model=text(entry.get("model")),
                context=_int(entry.get("context")) or 0,
                slots=_int(best.get("slots")),
                concurrency=_int(best.get("concurrency")),
                goodput_req_s=number(best.get("goodput_req_s")),
                job_requests=_int(entry.get("job_requests")),
                job_hours=number(entry.get("job_hours_best")),
                job_hours_p1=number(entry.get("job_hours_p1")),
                max_parallel_fit=_int(entry.get("max_parallel_fit")),
                recommendation=text(entry.get("recommendation")),
            )
        )
    return out


def scaling_cells(payload: Mapping[str, Any]) -> list[Cell]:
    """The context-scaling cells that carry a use case (the matrix's `use_case:`)."""
    out = []
    for case in records(payload.get("cases")):
        suite = text(case.get("suite"))
        use_case, num_ctx = text(case.get("use_case")), _int(case.get("num_ctx"))
        if suite not in ("", "context_scaling") or not use_case or not num_ctx:
            continue
        if "throughput" in case or "limits" in text(case.get("id")).split(":")[0]:
            continue
        metrics = mapping(case.get("metrics"))
        out.append(
            Cell(
                case_id=text(case.get("id")),
                matrix=text(case.get("matrix")),
                model=text(case.get("model")),
                use_case=use_case,
                num_ctx=num_ctx,
                passed=text(case.get("verdict")) == "pass",
                reason=text(case.get("reason")) or text(case.get("verdict")),
                ttft_s=number(dig(metrics, "ttft_s", "p50")),
                decode_tok_s=number(dig(metrics, "decode_tok_s", "p50")),
                stability=number(dig(case, "stability", "score")),
                peak_memory_bytes=_int(dig(case, "memory", "peak_bytes")),
                options=mapping(case.get("options")),
                thresholds=mapping(case.get("thresholds")),
            )
        )
    return out


def throughput_case_settings(
    section: ThroughputSection, memory_total: int | None
) -> dict[str, Any]:
    """The `num_ctx` and `batch_settings` a throughput case records for the job plan."""
    budget = None if memory_total is None else int(memory_total * section.memory_limit)
    return {
        "num_ctx": section.num_ctx,
        "batch_settings": {
            "num_ctx": section.num_ctx,
            "concurrency": section.concurrency,
            "trim_strategy": section.trim_strategy,
            "trim_threshold": section.trim_threshold,
            "trim_interval": section.trim_interval,
            "keep_messages": section.keep_messages,
            "memory_budget_bytes": budget,
            "memory_limit": section.memory_limit,
        },
    }
