"""Seed 000's success criteria, applied to one model's search.

PASS when a maximum was found, memory grows predictably (R^2 >= 0.98 over at least three
points in the linear regime) and, when memory bounded the maximum, MAX_CONTEXT_TOKENS is at
most 80% of it (the safety margin is for memory; a maximum set by the model's trained context
or by the server's cap is used as it is).
FAIL when no context was good, growth is unpredictable, a context the prediction says
fits ran out of memory or crashed ("OOM below expected"), the search was cut short, or a
prompt filled to the recommendation was truncated (--verify-fill).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.limits.fit import MIN_POINTS, LinearFit
from harness.limits.probe import FAILURES, ContextProbe

MIN_R2 = 0.98
MAX_SHARE = 0.80  # the recommendation must stay at or below this share of the maximum
# A failure counts as "below expected" when the prediction left this much headroom: the
# prediction ignores runtime overheads, so a failure just under the limit is no surprise.
EXPECTED_MARGIN = 0.10

# What ended the search at the maximum (the limits entry's `bound`):
#   memory           the first bad context ran out of memory, spilled, crossed the budget,
#                    crashed or timed out
#   server_cap       the server loaded less than asked (capped)
#   trained_context  nothing was bad up to the top of the search, the model's trained context
BOUNDS = ("memory", "server_cap", "trained_context")


def bound_of(
    probes: Sequence[ContextProbe], max_context: int | None, first_bad: int | None
) -> str | None:
    """Which of BOUNDS set the maximum (None when no context was good)."""
    if max_context is None:
        return None
    if first_bad is None:
        return "trained_context"
    bad = [p for p in probes if p.num_ctx == first_bad and not p.good]
    return "server_cap" if bad and bad[-1].outcome == "capped" else "memory"


@dataclass(frozen=True)
class Verdict:
    """pass or fail, the reason in one line, and the OOM-below-expected findings."""

    verdict: str  # "pass" | "fail"
    reason: str
    findings: tuple[str, ...]


def oom_below_expected(probes: Sequence[ContextProbe]) -> list[str]:
    """Failures at contexts whose predicted bytes were well inside the capacity."""
    found = []
    for p in probes:
        cap = p.capacity_bytes
        if p.outcome in FAILURES and cap and p.predicted_bytes <= cap * (1 - EXPECTED_MARGIN):
            found.append(
                f"OOM below expected: {p.outcome} at {p.num_ctx:,} tokens, where the prediction "
                f"is {p.predicted_bytes / 1024**3:.2f} GiB of {cap / 1024**3:.2f} GiB available"
            )
    return found


def _problems(
    max_context: int | None,
    fit: LinearFit | None,
    recommended: int | None,
    stopped: str | None,
    verify: Mapping[str, Any] | None,
    bound: str | None,
) -> list[str]:
    problems = []
    if stopped:
        problems.append(f"search cut short: {stopped}")
    if max_context is None:
        return [*problems, "no context was good: cannot find safe limits"]
    if fit is None or len(fit.xs) < MIN_POINTS:
        points = 0 if fit is None else len(fit.xs)
        problems.append(f"memory growth measured at {points} contexts, fewer than {MIN_POINTS}")
    elif fit.r2 < MIN_R2:
        problems.append(f"memory growth is unpredictable: R^2 {fit.r2:.4f} < {MIN_R2}")
    if bound == "memory" and recommended is not None and recommended > MAX_SHARE * max_context:
        problems.append(f"recommendation {recommended:,} is above 80% of {max_context:,}")
    if verify and verify.get("error"):
        problems.append(
            f"a prompt filled to {verify['num_ctx']:,} tokens failed: {verify['error']}"
        )
    elif verify and verify.get("truncated"):
        problems.append(f"a prompt filled to {verify['num_ctx']:,} tokens was truncated")
    return problems


def judge(
    max_context: int | None,
    fit: LinearFit | None,
    recommended: int | None,
    probes: Sequence[ContextProbe],
    stopped: str | None = None,
    verify: Mapping[str, Any] | None = None,
    bound: str | None = "memory",
) -> Verdict:
    findings = oom_below_expected(probes)
    problems = findings + _problems(max_context, fit, recommended, stopped, verify, bound)
    if problems:
        return Verdict("fail", "; ".join(problems), tuple(findings))
    assert max_context is not None
    assert fit is not None
    bounded = {"server_cap": ", the server's cap", "trained_context": ", the trained context"}
    reason = (
        f"largest good context {max_context:,} tokens{bounded.get(bound or '', '')}; memory grows "
        f"{fit.slope:,.0f} bytes/token (R^2 {fit.r2:.4f}); recommended {recommended:,}"
    )
    return Verdict("pass", reason, ())
