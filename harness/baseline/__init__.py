"""Stored baselines of a machine and the verdicts of a run against them.

A baseline is a trimmed copy of one run's `results.json` (schema `harness.results/1`) that
keeps every case's raw samples and the machine fingerprint, saved as
`reports/baselines/NAME.json`. A later run is compared case by case and metric by metric:

    change  = relative change of the p50 (median of ok samples) in the WORSE direction:
              (current - baseline) / baseline for lower-is-better metrics and
              (baseline - current) / baseline for higher-is-better ones, so a positive
              change is always a step back and "regressed 14.2%" reads the same for both.
    regressed = change > tolerance AND the change is statistically significant:
              Mann-Whitney U one-sided p < alpha when both sides have >= min_samples ok
              samples, else a bootstrap (1 - alpha) interval of the ratio of medians that
              lies wholly beyond the tolerance (so it excludes 1). Mann-Whitney cannot
              reach p < 0.01 at 4 vs 4 or fewer (1/70 at best; 5 vs 5 gives 1/252), which is
              why the bootstrap exists; see significance.py. Improvement is the mirror.
    single values (stability score, peak memory) have no repeats, so no test exists for
              them: they are compared against the tolerance alone, and say so.

Both conditions are needed: the tolerance keeps a real but irrelevant 2% drift quiet, the
test keeps a noisy 12% jump on two samples from failing the nightly job.

Step 5 of the pipeline. `regression.py` is the plugin's side (compare each case as it
finishes, save a baseline at the end); `cli.py` is `harness compare`.
"""

from __future__ import annotations

from harness.baseline.compare import (
    CaseComparison,
    MetricComparison,
    compare_case,
    compare_metric,
    fingerprint_mismatch,
    format_p,
    format_value,
)
from harness.baseline.config import (
    BASELINE_SCHEMA,
    KEPT_CASE_KEYS,
    METRICS,
    RESULTS_SCHEMA,
    SAMPLE_METRICS,
    VERDICTS,
    CompareConfig,
    MetricSpec,
    MetricVerdict,
    Verdict,
)
from harness.baseline.runs import RunComparison, compare_runs, render_table
from harness.baseline.store import (
    Baseline,
    BaselineStore,
    case_key,
    case_p50s,
    check_comparable,
    load_comparable,
    ok_values,
    validate_payload,
)

__all__ = [
    "BASELINE_SCHEMA",
    "KEPT_CASE_KEYS",
    "METRICS",
    "RESULTS_SCHEMA",
    "SAMPLE_METRICS",
    "VERDICTS",
    "Baseline",
    "BaselineStore",
    "CaseComparison",
    "CompareConfig",
    "MetricComparison",
    "MetricSpec",
    "MetricVerdict",
    "RunComparison",
    "Verdict",
    "case_key",
    "case_p50s",
    "check_comparable",
    "compare_case",
    "compare_metric",
    "compare_runs",
    "fingerprint_mismatch",
    "format_p",
    "format_value",
    "load_comparable",
    "ok_values",
    "render_table",
    "validate_payload",
]
