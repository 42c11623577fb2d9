"""Pass/fail thresholds of a cell, and how each one is checked against measured metrics.

A threshold names a metric, the summary statistic compared, and the direction: `ttft_s: 8`
means "TTFT p50 must be at most 8 s". Keeping the table here (not in the matrix parser)
lets the report and the baseline code describe a threshold the same way the check does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Op = Literal["<=", ">="]


@dataclass(frozen=True)
class ThresholdKind:
    name: str
    metric: str  # key in a case's `metrics` (or a special value, see measure.py)
    stat: str  # p50, p90, score, peak ...
    op: Op
    unit: str
    help: str


THRESHOLD_KINDS: dict[str, ThresholdKind] = {
    k.name: k
    for k in (
        ThresholdKind("ttft_s", "ttft_s", "p50", "<=", "s", "TTFT p50 at most this many seconds"),
        ThresholdKind("ttft_p90_s", "ttft_s", "p90", "<=", "s", "TTFT p90 at most this"),
        ThresholdKind(
            "decode_tok_s", "decode_tok_s", "p50", ">=", "tok/s", "decode tok/s p50 at least"
        ),
        ThresholdKind(
            "prompt_tok_s", "prompt_tok_s", "p50", ">=", "tok/s", "prompt tok/s p50 at least"
        ),
        ThresholdKind("stability", "stability", "score", ">=", "", "stability score at least"),
        ThresholdKind(
            "ram_percent", "host_ram_percent", "peak", "<=", "%", "host RAM in use at most"
        ),
        ThresholdKind("memory_gb", "memory_gb", "peak", "<=", "GB", "model memory at most"),
    )
}


@dataclass(frozen=True)
class Threshold:
    kind: ThresholdKind
    limit: float

    def passes(self, measured: float) -> bool:
        return measured <= self.limit if self.kind.op == "<=" else measured >= self.limit

    def describe(self) -> str:
        return f"{self.kind.name} {self.kind.stat} {self.kind.op} {self.limit:g}{self.kind.unit}"
