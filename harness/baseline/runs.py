"""A whole run against a baseline, and the verdict table printed for it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.baseline.compare import (
    CaseComparison,
    MetricComparison,
    compare_case,
    fingerprint_mismatch,
    format_p,
    format_value,
    missing_case,
)
from harness.baseline.config import VERDICTS, CompareConfig
from harness.baseline.hostload import counters_modelled
from harness.baseline.store import Baseline, case_key
from harness.results.schema import JsonObject, RunResults, as_run

# ---------------------------------------------------------------------------------- runs


@dataclass(frozen=True)
class RunComparison:
    """Every case of a run against a baseline, plus baseline cases the run did not have."""

    baseline_name: str
    baseline_path: str
    baseline_run_id: str | None
    run_id: str | None
    config: CompareConfig
    fingerprint_mismatch: tuple[str, ...]
    cases: tuple[CaseComparison, ...]

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(VERDICTS, 0)
        for case in self.cases:
            counts[case.verdict] += 1
        return counts

    @property
    def regressed(self) -> bool:
        return any(case.verdict == "regressed" for case in self.cases)

    @property
    def warnings(self) -> list[str]:
        if not self.fingerprint_mismatch:
            return []
        what = "; ".join(self.fingerprint_mismatch)
        if self.config.force:
            return [f"compared despite a different setup (--force): {what}"]
        return [f"baseline is from a different setup, cases are incomparable: {what}"]

    def by_key(self) -> dict[str, CaseComparison]:
        return {case.key: case for case in self.cases}

    def to_json(self) -> dict[str, Any]:
        """The run-level summary that goes into results.json's top-level "baseline"."""
        return {
            "name": self.baseline_name,
            "path": self.baseline_path,
            "baseline_run_id": self.baseline_run_id,
            "run_id": self.run_id,
            "verdicts": self.counts,
            "regressed": self.regressed,
            "fingerprint_mismatch": list(self.fingerprint_mismatch),
            "forced": self.config.force and bool(self.fingerprint_mismatch),
            "warnings": self.warnings,
            "config": self.config.to_json(),
            "missing": [c.to_json() for c in self.cases if c.verdict == "missing"],
            "messages": [
                f"{c.key}: {m}"
                for c in self.cases
                for m in c.messages
                if c.verdict in ("regressed", "improved", "noisy")
            ],
        }

    def table(self) -> str:
        """The verdict table printed by `harness compare` and the plugin's terminal summary."""
        return render_table(self)


def compare_runs(
    baseline: Baseline, payload: RunResults | JsonObject, cfg: CompareConfig
) -> RunComparison:
    """Compare every case of a results payload with `baseline`; missing cases come last."""
    run = as_run(payload)
    mismatch = fingerprint_mismatch(baseline.fingerprint, run.fingerprint)
    modelled = counters_modelled(baseline.fingerprint, run.fingerprint)
    base_cases = baseline.by_key()
    run_keys: set[str] = set()
    compared: list[CaseComparison] = []
    for case in run.cases:
        run_keys.add(case_key(case))
        base_case = base_cases.get(case_key(case))
        compared.append(compare_case(base_case, case, cfg, mismatch=mismatch, modelled=modelled))
    compared += [missing_case(c) for k, c in sorted(base_cases.items()) if k not in run_keys]
    return RunComparison(
        baseline_name=baseline.name,
        baseline_path=str(baseline.path),
        baseline_run_id=baseline.run_id,
        run_id=run.run_id,
        config=cfg,
        fingerprint_mismatch=tuple(mismatch),
        cases=tuple(compared),
    )


# --------------------------------------------------------------------------------- table


def _metric_cells(metric: MetricComparison) -> list[str]:
    def value(v: float | None) -> str:
        return "-" if v is None else format_value(v, metric.unit)

    # The table shows the plain signed change of the value (a drop in tok/s is negative);
    # the RESULT column says whether that is good or bad.
    delta = "-" if metric.ratio is None else f"{(metric.ratio - 1) * 100:+.1f}%"
    p = (
        "-"
        if metric.p_value is None
        else format_p(metric.p_value).removeprefix("p").removeprefix("=")
    )
    return [
        metric.metric,
        value(metric.baseline_p50),
        value(metric.current_p50),
        delta,
        p,
        metric.test,
        metric.verdict,
    ]


def render_table(report: RunComparison) -> str:
    """A fixed-width table: one row per compared metric, then messages and a summary."""
    header = ["CASE", "VERDICT", "METRIC", "BASELINE", "CURRENT", "DELTA", "P", "TEST", "RESULT"]
    rows: list[list[str]] = []
    for case in report.cases:
        lead = [case.key, case.verdict]
        if not case.metrics:
            rows.append([*lead, *["-"] * 7])
        for i, metric in enumerate(case.metrics):
            rows.append([*(lead if i == 0 else ["", ""]), *_metric_cells(metric)])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        f"baseline {report.baseline_name} (run {report.baseline_run_id}, {report.baseline_path})"
        f" vs run {report.run_id}",
        f"rule: change > tolerance ({report.config.tolerance:.0%} unless set per metric) and "
        f"p < {report.config.alpha:g} (Mann-Whitney with >= {report.config.min_samples} "
        "samples a side, else bootstrap)",
        "",
        *(
            "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in [header, *rows]
        ),
    ]
    notes = [
        f"  {c.key}: {m}" for c in report.cases if c.verdict != "unchanged" for m in c.messages
    ]
    lines += ["", *notes] if notes else []
    lines += [f"warning: {w}" for w in report.warnings]
    summary = ", ".join(f"{n} {verdict}" for verdict, n in report.counts.items())
    lines += ["", f"summary: {summary}"]
    return "\n".join(lines) + "\n"
