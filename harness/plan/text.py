"""The plan package's words: seed 000's table and extrapolation block, the job plan, the
use-case recommendations, as lines for the terminal and matrix.md and as rows for the
report and matrix.csv. Every block says SIMULATED when the run was simulated.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence

from harness.plan.facts import StrategyRun
from harness.plan.model import JobPlan, Projection, Recommendation
from harness.plan.preset import PLAN_FILE
from harness.report import fmt
from harness.results.schema import Interval

TABLE_HEADER = ("Size", "Time", "Req/s", "Tokens/s", "Savings")
TABLE_NOTE = (
    "Tokens/s: prompt + completion tokens the server counted, per second of batch time; "
    "Savings: the share of sent prompt tokens the prefix cache spared the server"
)


def duration(seconds: float | None) -> str:
    """'25,670 s (7.1 h)' above an hour, else fmt.seconds."""
    if seconds is None:
        return "-"
    if seconds >= 3600:
        return f"{seconds:,.0f} s ({seconds / 3600:.1f} h)"
    return fmt.seconds(seconds)


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _between(iv: Interval | None, kind: str) -> str:
    """' (a to b)' in the given unit, or '' when no interval (or a flat one)."""
    if iv is None or iv.low is None or iv.high is None:
        return ""
    if iv.low == iv.high == iv.value:
        return " (no spread)"
    f = _FORMATS[kind]
    if kind == "time":  # after '23,802 s (6.6 h)' another parenthesis would read as one
        return f", 95% interval {f(iv.low)} to {f(iv.high)}"
    return f" ({f(iv.low)} to {f(iv.high)})"


_FORMATS: dict[str, Callable[[float], str]] = {
    "time": fmt.seconds,
    "count": lambda v: f"{v:,.0f}",
    "pct": pct,
    "size": fmt.size,
    "rate": lambda v: f"{v:.2f}",
}


def size_rows(run: StrategyRun) -> list[tuple[str, ...]]:
    return [
        (
            f"{r.size:,}",
            fmt.seconds(r.total_s),
            "-" if r.req_s is None else f"{r.req_s:.2f}",
            "-" if r.tokens_s is None else f"{r.tokens_s:,.1f}",
            pct(r.token_savings),
        )
        for r in run.rows
    ]


def _aligned(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in (header, *rows)) + 2 for i in range(len(header))]
    lines = ["".join(c.ljust(w) for c, w in zip(header, widths, strict=True)).rstrip()]
    lines.append(" ".join("-" * (w - 1) for w in widths))
    lines += ["".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return lines


def throughput_lines(runs: Sequence[StrategyRun], simulated: bool) -> list[str]:
    """Seed 000's Size / Time / Req/s / Tokens/s / Savings table, one per strategy."""
    out: list[str] = []
    label = " (SIMULATED)" if simulated else ""
    for run in runs:
        verdict = "pass" if run.passed else f"FAIL: {run.reason}"
        out.append(f"batch throughput, {run.model}, {run.strategy}{label}: {verdict}")
        out += ["  " + line for line in _aligned(TABLE_HEADER, size_rows(run))]
    if runs:
        out.append(f"  ({TABLE_NOTE})")
    return out


def projection_lines(p: Projection, simulated: bool) -> list[str]:
    """The 'extrapolation to N' block of one strategy, every figure with its interval."""
    basis = "SIMULATED" if simulated else "measured"
    sizes = " / ".join(f"{s:,}" for s in p.sizes)
    head = (
        f"EXTRAPOLATION TO {p.requests:,} REQUESTS, {p.strategy} "
        f"(projected from {basis} sizes {sizes})"
    )
    t = p.time_s
    rate_iv = None
    if t.low and t.high:
        rate_iv = Interval(p.req_s or 0.0, p.requests / t.high, p.requests / t.low)
    lines = [
        head,
        f"  Estimated time: {duration(t.value)}{_between(t, kind='time')}",
        f"  Estimated throughput: {'-' if p.req_s is None else f'{p.req_s:.2f}'} req/s"
        + _between(rate_iv, kind="rate"),
    ]
    if p.prompt_tokens is not None:
        line = f"  Estimated tokens: {p.prompt_tokens.value:,.0f} prompt"
        line += _between(p.prompt_tokens, kind="count")
        if p.completion_tokens is not None:
            line += f" + {p.completion_tokens.value:,.0f} completion"
            line += _between(p.completion_tokens, kind="count")
        lines.append(line)
    if p.token_savings is not None:
        lines.append(
            f"  Estimated token savings: {pct(p.token_savings.value)} (largest size; "
            f"{pct(p.token_savings.low)} to {pct(p.token_savings.high)} over the sizes)"
        )
    if p.trims is not None:
        lines.append(f"  Estimated trims: {p.trims.value:,.0f}{_between(p.trims, kind='count')}")
    if p.peak_memory_bytes is not None:
        lines.append(
            f"  Estimated peak memory: {fmt.size(p.peak_memory_bytes.value)}"
            + _between(p.peak_memory_bytes, kind="size")
        )
    if p.warning:
        lines.append(f"  warning: {p.warning}")
    if not p.passed:
        lines.append(f"  this strategy FAILED: {p.reason}")
    return lines


def plan_lines(plan: JobPlan, plan_path: str | None = None) -> list[str]:
    """The job plan as the terminal and `harness plan` print it."""
    who = plan.model or "an unknown model"
    label = (
        "SIMULATED: a rehearsal on the simulator, not this machine's figures"
        if plan.simulated
        else "measured on this server"
    )
    lines = [f"JOB PLAN: {plan.requests:,} requests of {who} ({label})"]
    lines.append(f"  measured by this run: {', '.join(plan.measured) or 'nothing the plan uses'}")
    if plan.ready:
        lines += _settings_lines(plan, plan_path)
    else:
        lines.append("  NO JOB SETTINGS: a measurement the plan needs is missing or failed (below)")
    for m in plan.missing:
        tag = "MISSING" if m.blocking else "not measured"
        lines.append(f"  {tag}: {m.what}: {m.why}; to measure: {m.fix}")
    lines += [f"  note: {n}" for n in plan.notes]
    return lines


def _settings_lines(plan: JobPlan, plan_path: str | None) -> list[str]:
    chosen = plan.chosen
    others = [p for p in plan.projections if p.strategy != plan.strategy]
    vs = ", ".join(f"{p.strategy} {fmt.seconds(p.time_s.value)}" for p in others)
    lines = [
        f"  strategy: {plan.strategy} (the fastest that passed" + (f"; vs {vs})" if vs else ")"),
        f"  num_ctx: {plan.num_ctx:,} ({plan.num_ctx_source})" if plan.num_ctx else "  num_ctx: -",
    ]
    if plan.trim is not None:
        t = plan.trim
        lines.append(
            f"  trim: threshold {t.trim_threshold:,} tokens, every {t.trim_interval} requests, "
            f"keep {t.keep_messages} messages ({t.trim_strategy}; growth {t.tokens_per_request:,} "
            f"tokens a request, system prompt {t.system_tokens:,} once, {t.growth_source})"
        )
    lines.append(
        f"  OLLAMA_NUM_PARALLEL={plan.num_parallel}, --concurrency {plan.concurrency} "
        f"({plan.parallel_source})"
    )
    if plan.time_s is not None and chosen is not None:
        lines.append(
            f"  expected time: {duration(plan.time_s.value)}{_between(plan.time_s, kind='time')}, "
            f"projected from {plan.basis} sizes {' / '.join(f'{s:,}' for s in chosen.sizes)}"
        )
    if plan.memory is not None:
        m = plan.memory
        budget = ""
        if m.budget_bytes:
            share = (m.peak_bytes.high or m.peak_bytes.value) / m.budget_bytes
            budget = f" of a {fmt.size(m.budget_bytes)} budget ({share:.0%}; {m.budget_source})"
        lines.append(
            f"  peak memory: {fmt.size(m.peak_bytes.value)}"
            f"{_between(m.peak_bytes, kind='size')}{budget}, {m.basis} ({m.source})"
        )
    if plan.token_savings is not None:
        s = plan.token_savings
        lines.append(
            f"  token savings: {pct(s.value)} ({pct(s.low)} to {pct(s.high)} over the sizes)"
        )
    lines.append(f"  apply: {apply_command(plan, plan_path)}")
    lines.append(f"  or:    {explicit_command(plan)}")
    return lines


def apply_command(plan: JobPlan, plan_path: str | None) -> str:
    path = plan_path or PLAN_FILE
    return shlex.join(["harness", "batch", "run", "batch.jsonl", "--out", "results.jsonl",
                       "--plan", path])  # fmt: skip


def explicit_command(plan: JobPlan) -> str:
    """The same settings as options, after the server's environment."""
    env = (
        f"OLLAMA_NUM_PARALLEL={plan.num_parallel} OLLAMA_CONTEXT_LENGTH={plan.num_ctx} "
        "ollama serve; "
    )
    args = ["harness", "batch", "run", "batch.jsonl", "--out", "results.jsonl"]
    if plan.model:
        args += ["--model", plan.model]
    args += ["--strategy", str(plan.strategy), "--num-ctx", str(plan.num_ctx),
             "--concurrency", str(plan.concurrency)]  # fmt: skip
    if plan.trim is not None:
        t = plan.trim
        args += ["--trim-strategy", t.trim_strategy, "--trim-threshold", str(t.trim_threshold)]
        args += ["--trim-interval", str(t.trim_interval), "--keep-messages", str(t.keep_messages)]
    return env + shlex.join(args)


def pick_text(rec: Recommendation) -> str:
    best = rec.best
    if best is None:
        return f"none: {rec.reason}"
    figures = [
        f"TTFT {fmt.seconds(best.ttft_s)}" if best.ttft_s is not None else "",
        f"{best.decode_tok_s:,.1f} tok/s" if best.decode_tok_s is not None else "",
        f"stability {best.stability:.2f}" if best.stability is not None else "",
    ]
    return f"{best.model} at {fmt.ctx(best.num_ctx)} ({', '.join(f for f in figures if f)})"


def recommendation_lines(recs: Sequence[Recommendation]) -> list[str]:
    if not recs:
        return []
    label = " (SIMULATED)" if any(r.simulated for r in recs) else ""
    lines = [f"USE-CASE RECOMMENDATIONS{label}: the best model x context that met its criteria"]
    for rec in recs:
        line = f"  {rec.use_case} [{rec.matrix}]: {pick_text(rec)}"
        if rec.runner_up is not None:
            line += f"; runner-up {rec.runner_up.model} at {fmt.ctx(rec.runner_up.num_ctx)}"
        if rec.best is not None:
            line += f"; {rec.passed} of {rec.candidates} cells passed"
            if rec.preset:
                line += f"; preset {rec.preset}"
        lines.append(line)
    return lines
