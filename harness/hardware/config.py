"""Sampler settings and the names of the phases a case goes through."""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.errors import ConfigError

# The order a case passes through them; summaries list phases in this order.
PHASES: tuple[str, ...] = ("idle", "load", "prefill", "decode", "after")


def _check_rate(name: str, value: float) -> None:
    if not isinstance(value, int | float) or not math.isfinite(value) or not 0 < value <= 1000:
        raise ConfigError(
            f"SamplerConfig.{name}={value!r} is not a usable rate: give a number of samples "
            "per second with 0 < rate <= 1000 (e.g. 10.0)"
        )


@dataclass(frozen=True)
class SamplerConfig:
    """How often the sampler reads each kind of backend.

    `hz` drives the cheap local readings (NVML, host RAM/CPU, server process RSS/CPU);
    `ps_hz` drives the HTTP readings (`engine.ps()` and the simulator's `/sim/state`),
    which cost a request each and change only when a model loads or reloads.
    A `mark()` also triggers an immediate reading of every backend, so even a phase
    shorter than one period has at least one observation of each metric.
    `series_points` bounds the chart series in the summary.
    """

    hz: float = 10.0
    ps_hz: float = 1.0
    series_points: int = 200

    def __post_init__(self) -> None:
        _check_rate("hz", self.hz)
        _check_rate("ps_hz", self.ps_hz)
        if not isinstance(self.series_points, int) or self.series_points < 2:
            raise ConfigError(
                f"SamplerConfig.series_points={self.series_points!r}: give an integer >= 2 "
                "(default 200)"
            )
