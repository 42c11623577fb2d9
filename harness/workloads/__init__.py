"""Sustained agentic workloads (seed 001, Phase 2): prompt generators, the loop, the verdict.

section.py     the matrix's `sustained:` section -> SustainedSection / WorkloadSpec
generators.py  deterministic coding / rag / chat text from a seed
traffic.py     requests sized to num_ctx; a chat that grows and is trimmed
runner.py      load, warm up, request after request for the configured duration
drift.py       least-squares slope with a 95% interval (drift, leaks)
judge.py       the results case: metrics, trends, stability, verdict
"""

from __future__ import annotations

from harness.workloads.drift import Trend, linear_trend, relative_drift_per_hour
from harness.workloads.judge import build_case, memory_trend
from harness.workloads.runner import SustainedRun, SustainedSettings, run_sustained
from harness.workloads.section import (
    DURATION_ENV,
    KINDS,
    SustainedSection,
    WorkloadSpec,
    duration_s,
    parse_sustained,
)

__all__ = [
    "DURATION_ENV",
    "KINDS",
    "SustainedRun",
    "SustainedSection",
    "SustainedSettings",
    "Trend",
    "WorkloadSpec",
    "build_case",
    "duration_s",
    "linear_trend",
    "memory_trend",
    "parse_sustained",
    "relative_drift_per_hour",
    "run_sustained",
]
