"""Pass/fail thresholds of a cell, and how each one is checked against measured metrics.

A threshold names a metric, the summary statistic compared, and the direction: `ttft_s: 8`
means "TTFT p50 must be at most 8 s". Keeping the table here (not in the matrix parser)
lets the report and the baseline code describe a threshold the same way the check does.

Each kind also says which limits make sense, so a matrix with `ttft_s: -1` or `stability: 7`
stops at load time instead of failing (or passing) every cell at run time: times, rates and
memory are positive, `stability` is a score in [0, 1], `ram_percent` a share in (0, 100].
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Op = Literal["<=", ">="]


@dataclass(frozen=True)
class ThresholdKind:
    name: str
    metric: str  # key in a case's `metrics` (or a special value, see measure/procedure.py)
    stat: str  # p50, p90, score, peak ...
    op: Op
    unit: str
    help: str
    low: float = 0.0  # exclusive, unless low_inclusive
    high: float = math.inf  # inclusive
    low_inclusive: bool = False
    example: float = 1.0  # shown in the fix of an out-of-range limit

    def allows(self, limit: float) -> bool:
        """Whether `limit` is a meaningful limit for this kind (finite and in range)."""
        above = limit >= self.low if self.low_inclusive else limit > self.low
        return math.isfinite(limit) and above and limit <= self.high

    def range_text(self) -> str:
        """The allowed limits, e.g. `[0, 1]`, `(0, 100]`, `> 0`."""
        if math.isinf(self.high):
            return f"{'>=' if self.low_inclusive else '>'} {self.low:g}"
        return f"{'[' if self.low_inclusive else '('}{self.low:g}, {self.high:g}]"


THRESHOLD_KINDS: dict[str, ThresholdKind] = {
    k.name: k
    for k in (
        ThresholdKind(
            "ttft_s", "ttft_s", "p50", "<=", "s", "TTFT p50 at most this many seconds",
            example=8,
        ),
        ThresholdKind(
            "ttft_p90_s", "ttft_s", "p90", "<=", "s", "TTFT p90 at most this", example=12,
        ),
        ThresholdKind(
            "decode_tok_s", "decode_tok_s", "p50", ">=", "tok/s", "decode tok/s p50 at least",
            example=6,
        ),
        ThresholdKind(
            "prompt_tok_s", "prompt_tok_s", "p50", ">=", "tok/s", "prompt tok/s p50 at least",
            example=100,
        ),
        ThresholdKind(
            "stability", "stability", "score", ">=", "", "stability score at least",
            high=1, low_inclusive=True, example=0.8,
        ),
        ThresholdKind(
            "ram_percent", "host_ram_percent", "peak", "<=", "%", "host RAM in use at most",
            high=100, example=90,
        ),
        ThresholdKind(
            "memory_gb", "memory_gb", "peak", "<=", "GB", "model memory at most", example=14,
        ),
    )
}  # fmt: skip


@dataclass(frozen=True)
class Threshold:
    kind: ThresholdKind
    limit: float

    def passes(self, measured: float) -> bool:
        return measured <= self.limit if self.kind.op == "<=" else measured >= self.limit

    def describe(self) -> str:
        return f"{self.kind.name} {self.kind.stat} {self.kind.op} {self.limit:g}{self.kind.unit}"
