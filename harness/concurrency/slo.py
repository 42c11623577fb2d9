"""Service-level targets and goodput: the requests that were fast enough to count.

Throughput counts every answer; goodput counts only those that met every target, because
a level that answers 10 req/s with a 30 s TTFT is of no use to an interactive user.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class Timed(Protocol):
    """What goodput needs of one request, in simulated (or real) seconds."""

    @property
    def ok(self) -> bool: ...

    def ttft_s(self, scale: float) -> float | None: ...

    def itl_s(self, scale: float) -> float | None: ...

    def e2e_s(self, scale: float) -> float: ...


@dataclass(frozen=True)
class Slo:
    """Targets per request; None switches a target off.

    `itl_s` is judged on the request's mean inter-token latency (time per output token
    after the first), the figure a reader of a stream feels; single gaps are too noisy.
    """

    ttft_s: float | None = None
    itl_s: float | None = None
    e2e_s: float | None = None

    def met(self, request: Timed, scale: float = 1.0) -> bool:
        if not request.ok:
            return False
        ttft = request.ttft_s(scale)
        if self.ttft_s is not None and (ttft is None or ttft > self.ttft_s):
            return False
        itl = request.itl_s(scale)
        if self.itl_s is not None and itl is not None and itl > self.itl_s:
            return False
        return self.e2e_s is None or request.e2e_s(scale) <= self.e2e_s

    def as_dict(self) -> dict[str, float | None]:
        return {"ttft_s": self.ttft_s, "itl_s": self.itl_s, "e2e_s": self.e2e_s}


def goodput(
    requests: Sequence[Timed], slo: Slo, duration_s: float, scale: float = 1.0
) -> dict[str, Any]:
    """Share of all requests (errors included) that met `slo`, and their rate per second."""
    good = sum(1 for r in requests if slo.met(r, scale))
    return {
        "met": good,
        "share": good / len(requests) if requests else 0.0,
        "req_s": good / duration_s if duration_s > 0 else 0.0,
    }
