"""The throughput suite's work: run one size, turn it into a `throughput` entry, judge.

Definitions (also in the README):
- tokens_sent: the prompt tokens of every request as the server counted them
  (`prompt_eval_count`, which includes any prefix the server had cached);
- tokens_evaluated: the prompt tokens the server actually processed, estimated per request
  as min(prompt_eval_count, prompt_eval_duration x the uncached prompt rate), the rate
  measured just before with a prompt that cannot be cached (a fresh nonce first);
- token_savings = 1 - tokens_evaluated / tokens_sent: the share of sent prompt tokens the
  prefix cache spared the server.
Durations are in the profiled machine's time: the engine reads them from `settings`'s
`clock_ns`, the simulator's own clock under --engine sim (modelled work at its simulated
length, the client's work at its real length), so nothing here multiplies by the speed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from harness.batch.extrapolate import SizeRun
from harness.batch.fixture import MemorySink
from harness.batch.growth import measured_growth, trim_settings
from harness.batch.matrix_section import ThroughputSection
from harness.batch.synthetic import synthetic_batch
from harness.batch.totals import BatchSummary
from harness.results.schema import ThroughputEntry


@dataclass(frozen=True)
class SizeResult:
    """One measured size: its results entry and the samples the extrapolation needs."""

    entry: dict[str, Any]  # as results.json records it
    run: SizeRun
    memory_fraction: float | None

    @property
    def measured(self) -> ThroughputEntry:
        """The entry as the results model reads it back (what judging compares)."""
        return ThroughputEntry.from_json(self.entry)


def run_size(
    make: Callable[..., Any],
    section: ThroughputSection,
    *,
    model: str,
    strategy: str,
    size: int,
    simulated: bool,
    settings: dict[str, Any],
    memory_total: int | None = None,
) -> SizeResult:
    """Run `size` synthetic requests through a fresh BatchEngine made by `make`."""
    engine = make(model=model, strategy=strategy, keep_latencies=True, **settings)
    batch = synthetic_batch(
        size,
        system_tokens=section.system_prompt_tokens,
        user_tokens=section.user_tokens,
        num_predict=section.num_predict,
    )
    summary: BatchSummary = engine.run(batch, MemorySink())
    entry = entry_from(summary, model=model, strategy=strategy, size=size, simulated=simulated)
    run = SizeRun(
        size=size,
        total_s=entry["total_s"],
        request_s=summary.latencies_s,
        prompt_tokens=summary.request_prompt_tokens,
        completion_tokens=summary.request_completion_tokens,
        trims=summary.trims,
        peak_memory_bytes=summary.peak_memory_bytes,
    )
    fraction = None
    if memory_total and summary.peak_memory_bytes is not None:
        fraction = summary.peak_memory_bytes / memory_total
    return SizeResult(entry, run, fraction)


def entry_from(
    s: BatchSummary, *, model: str, strategy: str, size: int, simulated: bool
) -> dict[str, Any]:
    total = s.elapsed_s
    sent = s.prompt_tokens
    evaluated = s.tokens_evaluated
    return {
        "model": model,
        "strategy": strategy,
        "size": size,
        "total_s": round(total, 4),
        "req_s": round(s.finished / total, 4) if total > 0 else None,
        "prompt_tok_s": round(sent / total, 2) if total > 0 else None,
        "completion_tok_s": round(s.completion_tokens / total, 2) if total > 0 else None,
        "tokens_sent": sent,
        "tokens_evaluated": evaluated,
        "token_savings": round(1 - evaluated / sent, 4) if evaluated is not None and sent else None,
        "completion_tokens": s.completion_tokens,
        "trims": s.trims,
        "peak_memory_bytes": s.peak_memory_bytes,
        "errors": s.failed + s.invalid,
        "errors_by_code": dict(s.errors),
        "simulated": simulated,
    }


def judge(results: Sequence[SizeResult], section: ThroughputSection) -> list[str]:
    """Why the strategy fails (empty when it passes), naming the size that degraded."""
    failures = []
    for r in results:
        e = r.measured
        if e.errors:
            failures.append(f"size {e.size}: {e.errors} errors {dict(e.errors_by_code)}")
        if r.memory_fraction is not None and r.memory_fraction > section.memory_limit:
            failures.append(
                f"size {e.size}: peak memory {r.memory_fraction:.1%} of the device is over "
                f"the safe limit {section.memory_limit:.1%}"
            )
    rates = [(r.measured.req_s or 0.0, r.measured.size) for r in results]
    best_rate, best_size = max(rates)
    for rate, size in rates:
        if best_rate > 0 and (best_rate - rate) / best_rate > section.max_spread:
            failures.append(
                f"size {size} degraded: {rate:.2f} req/s vs {best_rate:.2f} at size {best_size} "
                f"({(best_rate - rate) / best_rate:.0%} lower; allowed {section.max_spread:.0%})"
            )
    return failures


def conversation_trim_plan(
    results: Sequence[SizeResult], section: ThroughputSection
) -> dict[str, Any] | None:
    """Trim settings for the section's threshold from the growth the largest size measured
    (one conversation, its requests in order: the synthetic batch has one system prompt)."""
    growth = measured_growth([results[-1].run.prompt_tokens]) if results else None
    if growth is None:
        return None
    return trim_settings(section.trim_threshold, growth).as_dict(section.trim_strategy)


def case_dict(
    matrix: str, model: str, strategy: str, entries: list[dict[str, Any]],
    failures: list[str], extrapolation: dict[str, Any] | None,
    trim_plan: dict[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The results.json case for one matrix x strategy (`trim_plan`: conversation only)."""
    return {
        "id": f"{model}-{strategy}",
        "matrix": matrix,
        "model": model,
        "num_ctx": None,
        "options": {},
        "verdict": "fail" if failures else "pass",
        "reason": "; ".join(failures) or None,
        "samples": [],
        "metrics": {},
        "checks": [],
        "throughput": entries,
        "extrapolation": extrapolation,
        "trim_plan": trim_plan,
    }


def throughput_case_settings(
    section: ThroughputSection, memory_total: int | None
) -> dict[str, Any]:
    """The `num_ctx` and `batch_settings` a throughput case records for the job plan (read
    back as `harness.results.schema.ThroughputSettings`)."""
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
