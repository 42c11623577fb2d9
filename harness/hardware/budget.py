"""The safety guard: limits on memory that a case must not cross while it runs.

Budgets apply to the memory that holds the model: the real GPUs (`gpuN.*`) and host
(`host.*`), or, for a simulated run, the simulated devices and host (`sim.*`). The
`harness_host.*` metrics of a simulated run describe the harness's own machine and are
never budgeted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from harness.errors import ConfigError

MIB = 1024**2

# gpu0.mem_used_bytes (NVML) and sim.gpu0.mem_used_bytes (simulator) share one rule.
_GPU_USED = re.compile(r"^(?P<dev>(?:sim\.)?gpu\d+)\.mem_used_bytes$")
_RAM_PAIRS: dict[str, str] = {
    "host.ram_used_bytes": "host.ram_total_bytes",
    "sim.host_used_bytes": "sim.host_total_bytes",
}
_SWAP = "host.swap_used_bytes"


def _check_fraction(name: str, value: float) -> None:
    if not isinstance(value, int | float) or not math.isfinite(value) or not 0 < value <= 1:
        raise ConfigError(
            f"Budget.{name}={value!r} is not a fraction: give a number with 0 < f <= 1 "
            "(e.g. 0.80 for 80%; 1.0 switches the check off)"
        )


def _check_bytes(name: str, value: int) -> None:
    if not isinstance(value, int) or value < 0:
        raise ConfigError(f"Budget.{name}={value!r}: give a whole number of bytes >= 0")


@dataclass(frozen=True)
class Budget:
    """Limits watched during a case; crossing one marks the case over budget.

    `swap_growth_bytes` is how far swap use may rise above its value when sampling
    started; `swap_slack_bytes` is added on top because the kernel swaps a few pages
    out now and then for reasons that have nothing to do with the case.
    """

    ram_max_fraction: float = 0.80
    gpu_max_fraction: float = 0.95
    swap_growth_bytes: int = 0
    swap_slack_bytes: int = 64 * MIB
    # The model's own allowance of host memory in bytes (`--ram-budget 600MB`): the context
    # search on a machine without a GPU treats it as the capacity, whatever else is in use.
    ram_max_bytes: int | None = None

    def __post_init__(self) -> None:
        _check_fraction("ram_max_fraction", self.ram_max_fraction)
        if self.ram_max_bytes is not None:
            _check_bytes("ram_max_bytes", self.ram_max_bytes)
        _check_fraction("gpu_max_fraction", self.gpu_max_fraction)
        _check_bytes("swap_growth_bytes", self.swap_growth_bytes)
        _check_bytes("swap_slack_bytes", self.swap_slack_bytes)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Violation:
    """One crossed limit: which metric, its value and the limit, in bytes."""

    metric: str
    value: float
    limit: float
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "value": self.value,
            "limit": self.limit,
            "reason": self.reason,
        }


def fmt_bytes(n: float) -> str:
    return f"{n / 1024**3:.2f} GiB"


class BudgetWatch:
    """Checks readings against a Budget; remembers the swap baseline it measures growth from.

    Not thread-safe on its own: the sampler calls it under its lock.
    """

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.swap_baseline: float | None = None

    def check(self, values: Mapping[str, float]) -> Violation | None:
        """The first limit these readings cross, or None."""
        for metric, used in values.items():
            found = self._check_one(metric, used, values)
            if found is not None:
                return found
        return None

    def _check_one(self, metric: str, used: float, values: Mapping[str, float]) -> Violation | None:
        gpu = _GPU_USED.match(metric)
        if gpu is not None:
            total = values.get(f"{gpu['dev']}.mem_total_bytes")
            return self._fraction(
                metric, used, total, self.budget.gpu_max_fraction, "gpu_max_fraction"
            )
        if metric in _RAM_PAIRS:
            total = values.get(_RAM_PAIRS[metric])
            return self._fraction(
                metric, used, total, self.budget.ram_max_fraction, "ram_max_fraction"
            )
        if metric == _SWAP:
            return self._swap(used)
        return None

    @staticmethod
    def _fraction(
        metric: str, used: float, total: float | None, fraction: float, field: str
    ) -> Violation | None:
        if not total or total <= 0:
            return None
        limit = total * fraction
        if used <= limit:
            return None
        reason = (
            f"{metric} = {fmt_bytes(used)} is {used / total:.1%} of {fmt_bytes(total)}, "
            f"over the limit of {fmt_bytes(limit)} (Budget.{field}={fraction})"
        )
        return Violation(metric, used, limit, reason)

    def _swap(self, used: float) -> Violation | None:
        if self.swap_baseline is None:
            self.swap_baseline = used
            return None
        limit = self.swap_baseline + self.budget.swap_growth_bytes + self.budget.swap_slack_bytes
        if used <= limit:
            return None
        reason = (
            f"{_SWAP} = {fmt_bytes(used)} grew {fmt_bytes(used - self.swap_baseline)} above "
            f"its baseline {fmt_bytes(self.swap_baseline)}, over the limit of {fmt_bytes(limit)} "
            f"(Budget.swap_growth_bytes={self.budget.swap_growth_bytes} plus "
            f"swap_slack_bytes={self.budget.swap_slack_bytes}): the host is swapping"
        )
        return Violation(_SWAP, used, limit, reason)
