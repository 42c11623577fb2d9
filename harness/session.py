"""The harness's state for one pytest session: options, server, results.

Created in `pytest_configure`, stored on `config.stash`, and used by the hooks and fixtures
in plugin.py, which stay thin. The server (or the simulator) is started on first need, so a
run of the harness's own unit tests never touches the network.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from harness.baseline import CompareConfig
from harness.engines import Engine, Timeouts
from harness.engines.launched import LaunchedEngine
from harness.errors import ConfigError, EngineError, ResultsError, ServerUnreachable
from harness.fingerprint import machine_fingerprint, server_fingerprint
from harness.hardware import Budget, HardwareSampler, SamplerConfig, build_backends
from harness.launcher import LaunchSpec
from harness.matrix import Cell, Matrix
from harness.options import option, reports_dir, server_urls
from harness.prompts import TokenCalibration
from harness.regression import RegressionGate, baseline_store, parse_metric_tolerances
from harness.results import RunWriter, now_iso, write_json_atomic
from harness.servers import ServerPool, SimSettings, assign_servers

DEFAULT_SIM_PROFILE = "rtx4080-16gb"
# Beside results.json: the tracebacks of server faults, which the terminal shows as one line.
TRACEBACK_LOG = "tracebacks.log"


class HarnessSession:
    """Options resolved once, the engine's lifecycle, and the run's results writer."""

    def __init__(self, config: pytest.Config, matrices: list[Matrix]) -> None:
        self.config = config
        self.matrices = matrices
        self.engine_kind: str = option(config, "engine")
        # The simulator is one server of its own; --server values are for real servers.
        self.server_urls = server_urls(config)[: 1 if self.engine_kind == "sim" else None]
        self.reports_dir: Path = reports_dir(config)
        self.repeats: int | None = option(config, "repeats")
        self.sim_speed: float = option(config, "sim_speed")
        self.sim_faults: str | None = option(config, "sim_faults") or None
        self._sim_profile: str | None = option(config, "sim_profile") or None
        self.is_controller = not hasattr(config, "workerinput")
        self.started_at = now_iso()
        self._started_ns = time.perf_counter_ns()
        self.calibrations: dict[tuple[str, str], TokenCalibration] = {}
        self.cases: list[dict[str, Any]] = []
        self.server_fingerprints: dict[str, dict[str, Any]] = {}
        self.writer: RunWriter | None = None
        self.finished_payload: dict[str, Any] | None = None
        self.sim_profile_used: str | None = None
        self.matrices_in_use: list[str] = []
        # The matrices of the selected tests, known after collection: what the simulator
        # simulates when the server is started on first use.
        self.selected_matrices: list[str] = []
        self._pool: ServerPool | None = None
        self._tags: dict[str, set[str]] = {}
        self.assignment: dict[tuple[str, str], int] = {}
        self._run_fingerprint: dict[str, Any] | None = None
        self.notes: list[str] = []
        self.regression = self._regression_gate()

    def _regression_gate(self) -> RegressionGate:
        tolerances: dict[str, float] = {}
        for matrix in self.matrices:  # the strictest matrix wins where two disagree
            for metric, value in (matrix.sections.get("tolerances") or {}).items():
                tolerances[metric] = min(value, tolerances.get(metric, value))
        default = tolerances.pop("default", None)
        tolerances.update(parse_metric_tolerances(option(self.config, "metric_tolerance")))
        given_default = self.config.getoption("tolerance")
        try:
            compare = CompareConfig(
                tolerance=given_default or default or option(self.config, "tolerance"),
                per_metric_tolerance=tolerances,
                force=option(self.config, "baseline_force"),
            )
            return RegressionGate(
                baseline_store(self.reports_dir),
                baseline=option(self.config, "baseline"),
                save_as=option(self.config, "save_baseline"),
                append_history=option(self.config, "append_history"),
                config=compare,
            )
        except (ConfigError, ResultsError) as exc:
            raise pytest.UsageError(f"--baseline: {exc}") from None

    # -- cells -----------------------------------------------------------------------------
    def cells(self) -> list[Cell]:
        cells = [cell for m in self.matrices for cell in m.cells()]
        counts: dict[str, int] = {}
        for cell in cells:
            counts[cell.id] = counts.get(cell.id, 0) + 1
        # The same model and context in two matrices: prefix the matrix so ids stay unique.
        self.cell_ids = {
            id(cell): cell.id if counts[cell.id] == 1 else f"{cell.matrix}/{cell.id}"
            for cell in cells
        }
        self.assignment = assign_servers(cells, len(self.server_urls))
        return cells

    def with_section(self, name: str) -> list[tuple[Matrix, Any]]:
        """Every loaded matrix that has the optional section `name`, with that section."""
        return [(m, m.sections[name]) for m in self.matrices if name in m.sections]

    @property
    def simulated(self) -> bool:
        return self.engine_kind == "sim"

    @property
    def time_scale(self) -> float:
        return self.sim_speed if self.simulated else 1.0

    def sim_profile(self, matrices_in_use: set[str]) -> str:
        if self._sim_profile:
            return self._sim_profile
        wanted = {
            m.sim_profile for m in self.matrices if m.name in matrices_in_use and m.sim_profile
        }
        if len(wanted) > 1:
            raise pytest.UsageError(
                f"the selected matrices simulate different machines ({', '.join(sorted(wanted))}); "
                "select one with -m or --matrix, or choose one with --sim-profile"
            )
        return wanted.pop() if wanted else DEFAULT_SIM_PROFILE

    # -- servers ---------------------------------------------------------------------------
    def start(self, matrices_in_use: set[str] | None = None) -> ServerPool:
        """Start the simulator or check every server answers; exit the session if one does not.

        `matrices_in_use` (default: those of the selected tests, else all) decide which
        machine the simulator simulates.
        """
        if self._pool is not None:
            return self._pool
        if matrices_in_use is None:
            matrices_in_use = set(self.selected_matrices) or {m.name for m in self.matrices}
        self.matrices_in_use = sorted(matrices_in_use)
        sim = None
        if self.simulated:
            self.sim_profile_used = self.sim_profile(matrices_in_use)
            behaviour = option(self.config, "sim_behaviour") or ""
            sim = SimSettings(
                profile=self.sim_profile_used,
                speed=self.sim_speed,
                faults=self.sim_faults,
                behaviour=tuple(b for b in behaviour.split(",") if b),
                num_parallel=option(self.config, "sim_parallel"),
            )
        timeouts = Timeouts(read=option(self.config, "read_timeout"))
        pool = ServerPool(self.engine_kind, self.server_urls, sim, self.launch_spec(), timeouts)
        try:
            pool.start()
        except ServerUnreachable as exc:
            pytest.exit(
                f"harness: no {self.engine_kind} server answers at {exc}. "
                "Start one with `ollama serve`, point --server or OLLAMA_HOST at it, "
                "or run against the built-in simulator with --engine sim.",
                returncode=pytest.ExitCode.USAGE_ERROR,
            )
        self._pool = pool
        models = {c.model for c in self.cells()}
        for engine in pool.engines:
            fp = server_fingerprint(engine, models)
            if sim is not None:
                fp["sim"] = sim.to_json()
            self.server_fingerprints[engine.base_url] = fp
        return pool

    def launch_spec(self) -> LaunchSpec | None:
        template = option(self.config, "launch")
        if not template:
            return None
        if self.simulated:
            raise pytest.UsageError("--launch starts a real server; it cannot go with --engine sim")
        pairs = (v.partition("=") for v in option(self.config, "launch_var"))
        try:
            return LaunchSpec(
                template=template,
                variables={name.strip(): value for name, _, value in pairs},
                ready_timeout_s=option(self.config, "launch_timeout"),
                # The last log of each context stays for the user to read after the run.
                log_dir=self.reports_dir / "launch-logs",
            )
        except ConfigError as exc:
            raise pytest.UsageError(f"--launch: {exc}") from None

    def engine_for(self, index: int) -> Engine:
        """The engine of server `index` (the order of --server), started on first use."""
        pool = self._pool or self.start(
            set(self.selected_matrices) or {m.name for m in self.matrices}
        )
        return pool.engine(index)

    @property
    def engine(self) -> Engine:
        return self.engine_for(0)

    def server_index(self, cell: Cell) -> int:
        return self.assignment.get((cell.matrix, cell.model), 0)

    # -- hardware --------------------------------------------------------------------------
    @property
    def budget(self) -> Budget:
        ram = option(self.config, "ram_budget")
        # An int is a size in bytes (options.ram_budget); the host guard keeps its default.
        as_bytes = isinstance(ram, int) and not isinstance(ram, bool)
        return Budget(
            ram_max_fraction=0.80 if as_bytes else float(ram),
            gpu_max_fraction=option(self.config, "gpu_budget"),
            ram_max_bytes=int(ram) if as_bytes else None,
        )

    def new_sampler(self, engine: Engine) -> HardwareSampler:
        """A sampler for one case on `engine`'s server, started from an idle machine.

        Models left loaded by the previous case are unloaded first, so the idle baseline
        and each case's memory delta belong to this case alone.
        """
        try:
            for loaded in engine.ps():
                engine.unload(loaded.name)
        except EngineError:
            pass  # a server without /api/ps (OpenAI-compatible) keeps what it has
        backends = build_backends(
            engine=engine, server_url=engine.base_url, simulated=self.simulated
        )
        return HardwareSampler(
            backends, config=SamplerConfig(hz=option(self.config, "sample_hz")), budget=self.budget
        )

    def require_model(self, model: str, engine: Engine | None = None) -> None:
        """Skip (with the pull command) when the server does not have `model`."""
        engine = engine or self.engine
        if isinstance(engine, LaunchedEngine):
            return  # the launch template names the model; there is nothing to pull
        if engine.base_url not in self._tags:
            self._tags[engine.base_url] = {t.name for t in engine.tags()}
        tags = self._tags[engine.base_url]
        names = tags | {n.removesuffix(":latest") for n in tags}
        if model not in names and f"{model}:latest" not in tags:
            pytest.skip(
                f"model {model!r} is not pulled on {engine.base_url}: run `ollama pull {model}`"
            )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    # -- results (controller only) ---------------------------------------------------------
    def record(self, case: dict[str, Any], server_fp: dict[str, Any] | None) -> None:
        if server_fp:
            self.server_fingerprints.setdefault(case.get("server", ""), server_fp)
        self._ensure_writer().add_case(case)
        self.cases.append(case)

    def record_traceback(self, nodeid: str, text: str) -> None:
        run_dir = self._ensure_writer().run_dir
        with (run_dir / TRACEBACK_LOG).open("a", encoding="utf-8") as log:
            log.write(f"=== {nodeid}\n{text.rstrip()}\n\n")

    @property
    def run_fingerprint(self) -> dict[str, Any]:
        """The fingerprint, computed once the server is known (git and psutil are not free)."""
        if self._run_fingerprint is None or not self._run_fingerprint.get("servers"):
            self._run_fingerprint = self.fingerprint()
        return self._run_fingerprint

    def record_section(self, name: str, value: Any) -> None:
        self._ensure_writer().add_section(name, value)

    def _ensure_writer(self) -> RunWriter:
        if self.writer is None:
            self.writer = RunWriter(
                self.reports_dir, started_at=self.started_at, started_ns=self._started_ns
            )
            self.writer.start(self.run_fingerprint, simulated=self.simulated)
        return self.writer

    def fingerprint(self) -> dict[str, Any]:
        fp = machine_fingerprint(self.config.rootpath)
        fp["engine"] = self.engine_kind
        fp["matrices"] = self.matrices_in_use or [m.name for m in self.matrices]
        fp["time_scale"] = self.time_scale
        servers = list(self.server_fingerprints.values())
        if servers:
            first = servers[0]
            fp.update({k: first.get(k) for k in ("server_url", "server_version", "models")})
            fp["sim"] = first.get("sim")
        fp["servers"] = servers
        return fp

    def finish(self) -> Path | None:
        """Write results.json, render the reports, refresh reports/latest/."""
        if self.writer is None:
            return None
        payload = self.finished_payload = self.writer.finalize()
        # Workers report their servers as their cases arrive; the header was written at the
        # first case, so the full list is only known now.
        payload["fingerprint"]["servers"] = [
            fp for _, fp in sorted(self.server_fingerprints.items())
        ]
        history_name = option(self.config, "baseline")
        self.notes += self.regression.finish(
            payload, name_for_history=None if history_name is None else Path(history_name).stem
        )
        self.notes += self.regression.warnings
        from harness.plan import sections as plan_sections

        payload.update(plan_sections(payload))  # job_plan, recommendations (issue 18)
        write_json_atomic(self.writer.run_dir / "results.json", payload)
        if payload.get("limits"):
            # The file the seed's own script wrote, for people who used it.
            from harness.limits.report import write_context_limit_results

            write_context_limit_results(self.writer.run_dir, payload)
        try:
            from harness.report import render_run
        except ModuleNotFoundError:
            pass
        else:
            render_run(self.writer.run_dir)
        return self.writer.publish_latest()
