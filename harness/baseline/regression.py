"""The plugin's side of baselines: compare each case as it finishes, summarise, save.

The statistics and the file format live in `harness.baseline`; this module only decides
when they run. A case is compared the moment it is measured, so a regression fails its own
test with the evidence in the message, and the session exits non-zero through pytest's
usual failure accounting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.baseline import (
    Baseline,
    BaselineStore,
    CompareConfig,
    case_key,
    compare_case,
    compare_runs,
    fingerprint_mismatch,
)
from harness.baseline.hostload import counters_modelled
from harness.results.schema import Case, Fingerprint


class RegressionGate:
    """Everything `--baseline`, `--save-baseline` and `--append-history` ask for."""

    def __init__(
        self,
        store: BaselineStore,
        *,
        baseline: str | None,
        save_as: str | None,
        append_history: bool,
        config: CompareConfig,
    ) -> None:
        self.store = store
        self.save_as = save_as
        self.append_history = append_history
        self.config = config
        # Loaded at once so a missing or corrupt baseline stops the session before any work.
        self.baseline: Baseline | None = store.load(baseline) if baseline else None
        self._base_cases = self.baseline.by_key() if self.baseline else {}
        self._mismatch: tuple[str, ...] | None = None
        self.warnings: list[str] = []

    def check(self, case: dict[str, Any], run_fingerprint: Mapping[str, Any]) -> list[str]:
        """Compare `case` with the baseline; store the verdict in it; return failures."""
        if self.baseline is None:
            return []
        run_fp = Fingerprint.from_json(run_fingerprint)
        if self._mismatch is None:
            self._mismatch = tuple(fingerprint_mismatch(self.baseline.fingerprint, run_fp))
            if self._mismatch:
                self.warnings.append(
                    f"baseline {self.baseline.name!r} was measured on a different setup: "
                    + "; ".join(self._mismatch)
                    + ("" if self.config.force else " (cases are incomparable; --baseline-force)")
                )
        typed = Case.from_json(case)
        verdict = compare_case(
            self._base_cases.get(case_key(typed)),
            typed,
            self.config,
            mismatch=self._mismatch,
            modelled=counters_modelled(self.baseline.fingerprint, run_fp),
        )
        case["baseline"] = verdict.to_json()
        if verdict.verdict == "regressed":
            return [f"against baseline {self.baseline.name!r}: {m}" for m in verdict.messages]
        return []

    def finish(self, payload: dict[str, Any], *, name_for_history: str | None) -> list[str]:
        """Run-level summary into the payload, then save and append as asked; returns notes."""
        notes: list[str] = []
        if self.baseline is not None:
            report = compare_runs(self.baseline, payload, self.config)
            payload["baseline"] = report.to_json()
            notes.append(report.table())
        if self.save_as:
            notes.append(f"baseline saved: {self.store.save(self.save_as, payload)}")
        history_name = self.save_as or name_for_history
        if self.append_history and history_name:
            notes.append(f"history appended: {self.store.append_history(history_name, payload)}")
        if history_name:
            # The nights so far (tonight included once appended), for the report's trends.
            payload["history"] = self.store.history(history_name) or None
        return notes


def parse_metric_tolerances(values: Sequence[str]) -> dict[str, float]:
    """`METRIC=FRACTION` strings (from --metric-tolerance or ini) to a mapping."""
    out: dict[str, float] = {}
    for value in values:
        metric, sep, number = value.partition("=")
        try:
            out[metric.strip()] = float(number)
        except ValueError:
            sep = ""
        if not sep:
            raise ValueError(f"{value!r} is not METRIC=FRACTION (e.g. ttft_s=0.15)")
    return out


def baseline_store(reports_dir: Path) -> BaselineStore:
    return BaselineStore(reports_dir / "baselines")
