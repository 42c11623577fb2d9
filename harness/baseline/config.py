"""What is compared and how strictly: the metrics, their directions, the tolerances."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from harness.errors import ConfigError
from harness.results.schema import BASELINE_SCHEMA, Case, Sample
from harness.results.schema import SCHEMA as RESULTS_SCHEMA

__all__ = ["BASELINE_SCHEMA", "RESULTS_SCHEMA"]  # re-exported: the model owns both strings

# "noisy": a change measured on a host markedly busier (or quieter) than the baseline's;
# never a regression (harness.baseline.hostload).
Verdict = Literal["regressed", "improved", "noisy", "unchanged", "new", "missing", "incomparable"]
VERDICTS: tuple[Verdict, ...] = (
    "regressed",
    "improved",
    "noisy",
    "unchanged",
    "new",
    "missing",
    "incomparable",
)
# "changed": beyond the tolerance but not testable (a single value, or too few samples):
# reported, never a regression, since a regression needs significance as well.
MetricVerdict = Literal["regressed", "improved", "changed", "unchanged", "skipped"]
Direction = Literal["lower", "higher"]

# The per-case keys a baseline keeps. An allow-list rather than "everything but" so that
# bulky additions to the results schema (sampler time series) do not bloat committed files.
KEPT_CASE_KEYS = (
    "id",
    "nodeid",
    "suite",
    "matrix",
    "model",
    "num_ctx",
    "server",
    "outcome",
    "verdict",
    "target_prompt_tokens",
    "samples",
    "metrics",
    "stability",
    "memory",
    "host_load",
)
BASELINE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class MetricSpec:
    """One compared metric: where its values come from and which way is better."""

    name: str
    direction: Direction
    unit: str
    per_sample: bool  # False: a single case-level value, so there is no test, only tolerance
    values: Callable[[Case], list[float | None]]  # ok samples' values, or the one value


def _ok_samples(read: Callable[[Sample], float | None]) -> Callable[[Case], list[float | None]]:
    return lambda case: [read(s) for s in case.samples if s.outcome == "ok"]


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("ttft_s", "lower", "s", True, _ok_samples(lambda s: s.ttft_s)),
    MetricSpec("e2e_s", "lower", "s", True, _ok_samples(lambda s: s.e2e_s)),
    MetricSpec("prompt_tok_s", "higher", "tok/s", True, _ok_samples(lambda s: s.prompt_tok_s)),
    MetricSpec("decode_tok_s", "higher", "tok/s", True, _ok_samples(lambda s: s.decode_tok_s)),
    MetricSpec(
        "stability.score",
        "higher",
        "",
        False,
        lambda case: [case.stability.score if case.stability else None],
    ),
    MetricSpec(
        "memory.peak_bytes",
        "lower",
        "bytes",
        False,
        lambda case: [case.memory.peak_bytes if case.memory else None],
    ),
)
SAMPLE_METRICS = tuple(m.name for m in METRICS if m.per_sample)


@dataclass(frozen=True)
class CompareConfig:
    """How strict a comparison is; the defaults are the ones CI uses."""

    tolerance: float = 0.10
    per_metric_tolerance: Mapping[str, float] = field(default_factory=dict)
    alpha: float = 0.01
    min_samples: int = 5
    force: bool = False
    bootstrap_resamples: int = 2000
    seed: int = 0

    def __post_init__(self) -> None:
        for metric, tol in {"(default)": self.tolerance, **self.per_metric_tolerance}.items():
            if not 0 <= tol < 10:
                raise ConfigError(f"tolerance {tol!r} for {metric} must be a fraction like 0.10")
        known = {m.name for m in METRICS}
        unknown = sorted(set(self.per_metric_tolerance) - known)
        if unknown:
            raise ConfigError(f"unknown metric(s) {unknown}; known: {sorted(known)}")
        if not 0 < self.alpha < 1:
            raise ConfigError(f"alpha {self.alpha!r} must be between 0 and 1, e.g. 0.01")
        if self.min_samples < 2:
            raise ConfigError(f"min_samples {self.min_samples!r} must be at least 2")
        if self.bootstrap_resamples < 100:
            raise ConfigError(f"bootstrap_resamples {self.bootstrap_resamples!r} is below 100")

    def tolerance_for(self, metric: str) -> float:
        return self.per_metric_tolerance.get(metric, self.tolerance)

    def to_json(self) -> dict[str, Any]:
        return {
            "tolerance": self.tolerance,
            "per_metric_tolerance": dict(self.per_metric_tolerance),
            "alpha": self.alpha,
            "min_samples": self.min_samples,
            "force": self.force,
        }
