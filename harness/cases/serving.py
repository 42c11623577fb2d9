"""The session's servers: started on first need, fingerprinted, sampled, closed at the end.

One of the session's per-concern objects (see session.py), on `config.stash[SERVERS_KEY]`.
The server (or the simulator) starts when the first selected test needs it, so a run of
the harness's own unit tests never touches the network.
"""

from __future__ import annotations

from typing import Any

import pytest

from harness.cases.options import option
from harness.cases.session import CellPlan, RunSettings
from harness.engines import Engine, Timeouts
from harness.engines.base import Catalogue, ServerMemory
from harness.engines.launched import LaunchedEngine
from harness.engines.launcher import LaunchSpec
from harness.engines.loading import unload_all
from harness.engines.pool import ServerPool, SimSettings
from harness.errors import ConfigError, EngineError, ServerUnreachable
from harness.hardware import Budget, HardwareSampler, SamplerConfig, build_backends
from harness.results.fingerprint import server_fingerprint

DEFAULT_SIM_PROFILE = "rtx4080-16gb"


class Servers:
    """The engines of --server (or the simulator), and what each case needs of them."""

    def __init__(self, config: pytest.Config, settings: RunSettings, plan: CellPlan) -> None:
        self.config = config
        self.settings = settings
        self.plan = plan
        self.fingerprints: dict[str, dict[str, Any]] = {}
        self.sim_profile_used: str | None = None
        self.matrices_in_use: list[str] = []
        # The matrices of the selected tests, known after collection: what the simulator
        # simulates when the server is started on first use.
        self.selected_matrices: list[str] = []
        self._pool: ServerPool | None = None
        self._tags: dict[str, set[str]] = {}

    def sim_profile(self, matrices_in_use: set[str]) -> str:
        if self.settings.sim_profile:
            return self.settings.sim_profile
        wanted = {
            m.sim_profile for m in self.plan.matrices if m.name in matrices_in_use and m.sim_profile
        }
        if len(wanted) > 1:
            raise pytest.UsageError(
                f"the selected matrices simulate different machines ({', '.join(sorted(wanted))}); "
                "select one with -m or --matrix, or choose one with --sim-profile"
            )
        return wanted.pop() if wanted else DEFAULT_SIM_PROFILE

    def start(self, matrices_in_use: set[str] | None = None) -> ServerPool:
        """Start the simulator or check every server answers; exit the session if one does not.

        `matrices_in_use` (default: those of the selected tests, else all) decide which
        machine the simulator simulates.
        """
        if self._pool is not None:
            return self._pool
        if matrices_in_use is None:
            matrices_in_use = set(self.selected_matrices) or {m.name for m in self.plan.matrices}
        self.matrices_in_use = sorted(matrices_in_use)
        kind = self.settings.engine_kind
        sim = None
        if self.settings.simulated:
            self.sim_profile_used = self.sim_profile(matrices_in_use)
            behaviour = option(self.config, "sim_behaviour") or ""
            sim = SimSettings(
                profile=self.sim_profile_used,
                speed=self.settings.sim_speed,
                faults=self.settings.sim_faults,
                behaviour=tuple(b for b in behaviour.split(",") if b),
                num_parallel=option(self.config, "sim_parallel"),
            )
        timeouts = Timeouts(read=option(self.config, "read_timeout"))
        urls = list(self.settings.server_urls)
        pool = ServerPool(kind, urls, sim, self.launch_spec(), timeouts)
        try:
            pool.start()
        except ServerUnreachable as exc:
            pytest.exit(
                f"harness: no {kind} server answers at {exc}. "
                "Start one with `ollama serve`, point --server or OLLAMA_HOST at it, "
                "or run against the built-in simulator with --engine sim.",
                returncode=pytest.ExitCode.USAGE_ERROR,
            )
        self._pool = pool
        models = self.plan.models
        for engine in pool.engines:
            fp = server_fingerprint(engine, models)
            if sim is not None:
                fp["sim"] = sim.to_json()
            self.fingerprints[engine.base_url] = fp
        return pool

    def launch_spec(self) -> LaunchSpec | None:
        template = option(self.config, "launch")
        if not template:
            return None
        if self.settings.simulated:
            raise pytest.UsageError("--launch starts a real server; it cannot go with --engine sim")
        pairs = (v.partition("=") for v in option(self.config, "launch_var"))
        try:
            return LaunchSpec(
                template=template,
                variables={name.strip(): value for name, _, value in pairs},
                ready_timeout_s=option(self.config, "launch_timeout"),
                # The last log of each context stays for the user to read after the run.
                log_dir=self.settings.reports_dir / "launch-logs",
            )
        except ConfigError as exc:
            raise pytest.UsageError(f"--launch: {exc}") from None

    def engine_for(self, index: int) -> Engine:
        """The engine of server `index` (the order of --server), started on first use."""
        return (self._pool or self.start()).engine(index)

    @property
    def engine(self) -> Engine:
        return self.engine_for(0)

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
            unload_all(engine)  # a server without load control keeps what it has
        except EngineError:
            pass  # a server that does not answer now is reported by the case itself
        backends = build_backends(
            engine=engine if isinstance(engine, ServerMemory) else None,
            server_url=engine.base_url,
            simulated=self.settings.simulated,
        )
        return HardwareSampler(
            backends, config=SamplerConfig(hz=option(self.config, "sample_hz")), budget=self.budget
        )

    def require_model(self, model: str, engine: Engine | None = None) -> None:
        """Skip (with the pull command) when the server does not have `model`."""
        engine = engine or self.engine
        if isinstance(engine, LaunchedEngine) or not isinstance(engine, Catalogue):
            return  # the launch template names the model, or the server lists none
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


SERVERS_KEY = pytest.StashKey[Servers]()
