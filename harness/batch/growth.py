"""How fast a batching conversation grows, and the trim settings that follow from it.

In conversation batching every request adds its user message and the model's reply to one
conversation; the system prompt is in it once. So the settings depend on

    S = system-prompt tokens (once)
    g = tokens each request adds: its user message + its reply (+ the chat template's
        per-message tokens)

and not on the ~1,500 tokens a whole request of the seeds held. With the trim threshold T
and m = 2 messages per request (harness.limits.recommend.trim_plan, the README's formula):

    KEEP_MESSAGES = floor(0.5 x T / (g / m)), rounded down to a multiple of m
    TRIM_INTERVAL = max(1, floor((T - S - KEEP_MESSAGES x g / m) / g))

g and S are measured from what the server counted (`prompt_eval_count` of consecutive turns
of one conversation: each step up is one request's growth; the first turn minus one growth
is the system prompt), or estimated from a batch input before it runs (characters / 4 per
token, the reply at its max_tokens).
"""

from __future__ import annotations

import itertools
import shlex
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from harness.batch.context import TokenEstimator
from harness.batch.jsonl import BatchRequest, LineError
from harness.limits.recommend import Policy, trim_plan

# The record lives in the results model, which reads it back from a trim plan.
from harness.results.schema import Growth as Growth

MESSAGES_PER_REQUEST = 2


def measured_growth(conversations: Iterable[Sequence[int]]) -> Growth | None:
    """Growth from each conversation's prompt_eval_count in turn order (None: too few turns).

    A step down is a trim and is skipped; the median step up is robust to a retried turn.
    """
    steps: list[int] = []
    firsts: list[int] = []
    for seen in conversations:
        counts = [c for c in seen if c > 0]  # a failed request has no count
        if counts:
            firsts.append(counts[0])
        steps += [b - a for a, b in itertools.pairwise(counts) if b > a]
    if not steps or not firsts:
        return None
    per_request = round(statistics.median(steps))
    system = max(0, round(statistics.median(firsts)) - per_request)
    return Growth(per_request, system, "measured", len(steps))


def estimated_growth(
    requests: Iterable[BatchRequest | LineError], estimator: TokenEstimator | None = None
) -> Growth | None:
    """Growth estimated from a batch input before it runs: each request's own messages and
    its reply at `max_tokens` (0 when unset), the system prompt once."""
    est = estimator or TokenEstimator()
    added: list[int] = []
    systems: list[int] = []
    for request in requests:
        if isinstance(request, LineError):
            continue
        system = [m for m in request.messages if m.get("role") == "system"]
        own = [m for m in request.messages if m.get("role") != "system"]
        params = request.params
        reply = params.get("max_tokens") or params.get("max_completion_tokens") or 0
        added.append(est.estimate(own) + int(reply) + est.overhead_per_message)
        systems.append(est.estimate(system))
    if not added:
        return None
    return Growth(
        round(statistics.mean(added)), round(statistics.median(systems)), "estimated", len(added)
    )


@dataclass(frozen=True)
class TrimSettings:
    """What `harness batch run` should be given for a threshold and a measured growth."""

    trim_threshold: int
    trim_interval: int
    keep_messages: int
    growth: Growth

    def command(self, strategy: str = "hybrid") -> str:
        """The `harness batch run` line to paste (input and output names are placeholders)."""
        args = [
            "harness", "batch", "run", "batch.jsonl", "--out", "results.jsonl",
            "--strategy", "conversation", "--trim-strategy", strategy,
            "--trim-threshold", str(self.trim_threshold),
            "--trim-interval", str(self.trim_interval),
            "--keep-messages", str(self.keep_messages),
        ]  # fmt: skip
        return shlex.join(args)

    def as_dict(self, strategy: str = "hybrid") -> dict[str, Any]:
        return {
            "trim_threshold": self.trim_threshold,
            "trim_interval": self.trim_interval,
            "keep_messages": self.keep_messages,
            "growth": self.growth.as_dict(),
            "command": self.command(strategy),
        }


def trim_settings(threshold: int, growth: Growth) -> TrimSettings:
    """KEEP_MESSAGES and TRIM_INTERVAL for `threshold` (the formula in the module docstring)."""
    policy = Policy(
        tokens_per_request=max(1, growth.tokens_per_request),
        messages_per_request=MESSAGES_PER_REQUEST,
        system_tokens=growth.system_tokens,
    )
    keep, interval = trim_plan(threshold, policy)
    return TrimSettings(threshold, interval, keep, growth)
