"""The run's results on the controller: cases and sections as they arrive, the files at the end.

One of the session's per-concern objects (see session.py), on `config.stash[RECORDER_KEY]`
of the controller only; workers send their cases on test reports (plugin.py). The baseline
gate is another, on `config.stash[GATE_KEY]`: the `measure` fixture checks each case with
it, and the recorder has it judge the whole run at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from harness.baseline import CompareConfig
from harness.baseline.regression import RegressionGate, baseline_store, parse_metric_tolerances
from harness.cases.options import option
from harness.cases.session import TRACEBACK_LOG, RunSettings
from harness.errors import ConfigError, ResultsError
from harness.matrix.cells import Matrix
from harness.matrix.registry import current
from harness.results.fingerprint import machine_fingerprint
from harness.results.writer import RunWriter, now_iso, write_json_atomic


def regression_gate(
    config: pytest.Config, matrices: Iterable[Matrix], reports_dir: Path
) -> RegressionGate:
    """The baseline gate of --baseline / --save-baseline, with the matrices' tolerances."""
    tolerances: dict[str, float] = {}
    for matrix in matrices:  # the strictest matrix wins where two disagree
        for metric, value in (matrix.sections.get("tolerances") or {}).items():
            tolerances[metric] = min(value, tolerances.get(metric, value))
    default = tolerances.pop("default", None)
    tolerances.update(parse_metric_tolerances(option(config, "metric_tolerance")))
    given_default = config.getoption("tolerance")
    try:
        compare = CompareConfig(
            tolerance=given_default or default or option(config, "tolerance"),
            per_metric_tolerance=tolerances,
            force=option(config, "baseline_force"),
        )
        return RegressionGate(
            baseline_store(reports_dir),
            baseline=option(config, "baseline"),
            save_as=option(config, "save_baseline"),
            append_history=option(config, "append_history"),
            config=compare,
        )
    except (ConfigError, ResultsError) as exc:
        raise pytest.UsageError(f"--baseline: {exc}") from None


GATE_KEY = pytest.StashKey[RegressionGate]()


class RunRecorder:
    """Appends finished cases and sections to results.jsonl; writes results.json and reports.

    Built in every process (the `measure` fixture asks it for the run's fingerprint), written
    to only on the controller.

        `matrices_in_use` says, when the first case arrives, which matrices the run measures
        (the servers know once started; under xdist the controller never starts them).
    """

    def __init__(
        self,
        config: pytest.Config,
        settings: RunSettings,
        gate: RegressionGate,
        matrices_in_use: Callable[[], list[str]],
        server_fingerprints: dict[str, dict[str, Any]],
    ) -> None:
        self.config = config
        self.settings = settings
        self.gate = gate
        self._matrices_in_use = matrices_in_use
        self.started_at = now_iso()
        self._started_ns = time.perf_counter_ns()
        self.cases: list[dict[str, Any]] = []
        # Shared with `serving.Servers`, which adds the servers it starts; cases from
        # workers bring theirs.
        self.server_fingerprints = server_fingerprints
        self.writer: RunWriter | None = None
        self.finished_payload: dict[str, Any] | None = None
        self._run_fingerprint: dict[str, Any] | None = None
        # Lines the terminal summary ends with (suites add theirs through harness.api).
        self.notes: list[str] = []

    @property
    def simulated(self) -> bool:
        return self.settings.simulated

    @property
    def reports_dir(self) -> Path:
        return self.settings.reports_dir

    def record(self, case: dict[str, Any], server_fp: dict[str, Any] | None) -> None:
        if server_fp:
            self.server_fingerprints.setdefault(case.get("server", ""), server_fp)
        self._ensure_writer().add_case(case)
        self.cases.append(case)

    def record_traceback(self, nodeid: str, text: str) -> None:
        run_dir = self._ensure_writer().run_dir
        with (run_dir / TRACEBACK_LOG).open("a", encoding="utf-8") as log:
            log.write(f"=== {nodeid}\n{text.rstrip()}\n\n")

    def record_section(self, name: str, value: Any) -> None:
        self._ensure_writer().add_section(name, value)

    @property
    def run_fingerprint(self) -> dict[str, Any]:
        """The fingerprint, computed once the server is known (git and psutil are not free)."""
        if self._run_fingerprint is None or not self._run_fingerprint.get("servers"):
            self._run_fingerprint = self.fingerprint()
        return self._run_fingerprint

    def _ensure_writer(self) -> RunWriter:
        if self.writer is None:
            self.writer = RunWriter(
                self.reports_dir, started_at=self.started_at, started_ns=self._started_ns
            )
            self.writer.start(self.run_fingerprint, simulated=self.simulated)
        return self.writer

    def fingerprint(self) -> dict[str, Any]:
        fp = machine_fingerprint(self.config.rootpath)
        fp["engine"] = self.settings.engine_kind
        fp["matrices"] = self._matrices_in_use()
        fp["time_scale"] = self.settings.time_scale
        servers = list(self.server_fingerprints.values())
        if servers:
            first = servers[0]
            fp.update({k: first.get(k) for k in ("server_url", "server_version", "models")})
            fp["sim"] = first.get("sim")
        fp["servers"] = servers
        return fp

    def finish(self) -> Path | None:
        """Write results.json, the suites' own files and the reports; refresh reports/latest/."""
        if self.writer is None:
            return None
        payload = self.finished_payload = self.writer.finalize()
        # Workers report their servers as their cases arrive; the header was written at the
        # first case, so the full list is only known now.
        payload["fingerprint"]["servers"] = [
            fp for _, fp in sorted(self.server_fingerprints.items())
        ]
        history_name = option(self.config, "baseline")
        self.notes += self.gate.finish(
            payload, name_for_history=None if history_name is None else Path(history_name).stem
        )
        self.notes += self.gate.warnings
        from harness.plan import sections as plan_sections

        # Derived from the suites' sections, not recorded by one: the job plan and the
        # use-case recommendations (harness/plan).
        payload.update(plan_sections(payload))
        run_dir = self.writer.run_dir
        write_json_atomic(run_dir / "results.json", payload)
        for section in current().result_sections():
            if section.write_files is not None:
                section.write_files(run_dir, payload)
        from harness.report import render_run

        render_run(run_dir)
        return self.writer.publish_latest()

    def terminal_lines(self) -> list[str]:
        """The lines of the registered suites' `terminal` renderers, for the summary."""
        payload = self.finished_payload or {}
        lines: list[str] = []
        for section in current().result_sections():
            value = payload.get(section.name)
            if section.terminal is not None and value not in (None, []):
                lines += section.terminal(value)
        return lines


RECORDER_KEY = pytest.StashKey[RunRecorder]()
