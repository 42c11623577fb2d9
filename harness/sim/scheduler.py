"""Which models are loaded where, who waits for a slot, and when models expire.

Mirrors server/sched.go in the ways the harness can observe: a request whose load-time
options differ from the loaded runner's waits for it to drain and reloads it; idle models
are evicted to make room; the pending queue is bounded (503 beyond `max_queue`); a model
expires `keep_alive` after its last request (wall-clock time, never scaled by `speed`).
"""

from __future__ import annotations

import threading
import time
from collections import Counter

from harness.sim import physics
from harness.sim.behaviour import Behaviour
from harness.sim.model_runner import Job, Pace, Runner
from harness.sim.physics import LoadConfig, Placement, PlacementError
from harness.sim.profiles import HardwareProfile, ModelProfile
from harness.sim.request_options import ApiError, Options

QUEUE_FULL = "server busy, please try again.  maximum pending requests exceeded"
LOAD_OOM = (
    "llama runner process has terminated: error loading model: unable to allocate CUDA0 "
    "buffer: cudaMalloc failed: out of memory"
)
REAPER_TICK_S = 0.02


class Scheduler:
    def __init__(
        self,
        hw: HardwareProfile,
        pace: Pace,
        behaviour: Behaviour,
        num_parallel: int = 1,
        max_queue: int = 512,
        kv_type: str = "f16",
    ) -> None:
        self.hw, self.pace, self.behaviour = hw, pace, behaviour
        self.num_parallel, self.max_queue, self.kv_type = num_parallel, max_queue, kv_type
        self.cond = threading.Condition()
        self.runners: dict[str, Runner] = {}
        self.pending = 0
        self.ignored_options: Counter[str] = Counter()
        self._reaper = threading.Thread(target=self._reap, name="sim-reaper", daemon=True)

    def start(self) -> None:
        self._reaper.start()

    def stop(self) -> None:
        self.pace.stop.set()
        with self.cond:
            runners = list(self.runners.values())
            for runner in runners:
                runner.close()
            self.runners.clear()
            self.cond.notify_all()
        for runner in runners:
            runner.join()
        if self._reaper.is_alive():
            self._reaper.join(5.0)

    # -- configuration ---------------------------------------------------------------
    def load_config(self, model: ModelProfile, opts: Options) -> LoadConfig:
        """The runner a request asks for: num_ctx capped at the trained context."""
        num_ctx = max(1, min(opts.int("num_ctx"), model.context_length))
        parallel = self.num_parallel
        if self.behaviour.ctx_scaled_by_slots:
            num_ctx = max(1, num_ctx // parallel)
        return LoadConfig(
            num_ctx=num_ctx,
            num_parallel=parallel,
            num_batch=max(1, opts.int("num_batch")),
            num_gpu=opts.int("num_gpu"),
            kv_type=self.kv_type,
        )

    def record_ignored(self, keys: tuple[str, ...]) -> None:
        with self.cond:
            self.ignored_options.update(keys)

    # -- admission -------------------------------------------------------------------
    def admit(
        self,
        job: Job | None,
        model: ModelProfile,
        cfg: LoadConfig,
        load_key: tuple[object, ...],
        keep_alive_s: float | None,
        load_fault: bool = False,
    ) -> Runner:
        """Wait for the model (loading it if needed) and a slot, then start the job.

        With `job` None this only loads the model (an empty prompt preloads it)."""
        with self.cond:
            if self.pending >= self.max_queue:
                raise ApiError(503, QUEUE_FULL)
            self.pending += 1
        try:
            return self._admit(job, model, cfg, load_key, keep_alive_s, load_fault)
        finally:
            with self.cond:
                self.pending -= 1

    def _admit(
        self,
        job: Job | None,
        model: ModelProfile,
        cfg: LoadConfig,
        load_key: tuple[object, ...],
        keep_alive_s: float | None,
        load_fault: bool,
    ) -> Runner:
        while True:
            with self.cond:
                if self.pace.stop.is_set():
                    raise ApiError(500, "server is shutting down")
                runner = self.runners.get(model.name)
                if runner is not None and runner.state == "loading":
                    self.cond.wait()
                    continue
                request_id = job.request_id if job is not None else ""
                if runner is not None and not self._needs_reload(runner, cfg, load_key, request_id):
                    if job is None:
                        self._touch(runner, keep_alive_s)
                        return runner
                    slot = runner.free_slot(job.tokens)
                    if slot is None:
                        self.cond.wait()
                        continue
                    runner.admit(job, slot)
                    self._touch(runner, keep_alive_s)
                    return runner
                if runner is not None:
                    if not runner.idle:
                        self.cond.wait()
                        continue
                    self._unload(runner)
                if load_fault:
                    raise ApiError(500, LOAD_OOM)
                runner = self._new_runner(model, cfg, load_key, request_id)
            loaded = self.pace.sleep_modelled(
                self.pace.wall_ns(physics.load_seconds(model, self.hw))
            )
            with self.cond:
                if not loaded or runner.state != "loading":
                    raise ApiError(500, "server is shutting down")
                runner.start()
                self.cond.notify_all()

    def _needs_reload(
        self, runner: Runner, cfg: LoadConfig, load_key: tuple[object, ...], request_id: str
    ) -> bool:
        if self.behaviour.reload_every_request and runner.loaded_by != request_id:
            return True
        return runner.cfg != cfg or runner.load_key != load_key

    def _new_runner(
        self, model: ModelProfile, cfg: LoadConfig, load_key: tuple[object, ...], request_id: str
    ) -> Runner:
        placement = self._place(model, cfg)
        runner = Runner(
            model,
            self.hw,
            cfg,
            placement,
            self.cond,
            self.pace,
            prefix_cache=not self.behaviour.no_prefix_cache,
        )
        runner.loaded_by = request_id
        runner.load_key = load_key
        if self.behaviour.ctx_scaled_by_slots:
            runner.context_length = cfg.num_ctx * cfg.num_parallel
        self.runners[model.name] = runner
        return runner

    def _place(self, model: ModelProfile, cfg: LoadConfig) -> Placement:
        """Place the model, evicting idle models (least recently used first) to make room."""
        while True:
            try:
                placement = physics.place(model, self.hw, cfg, self._vram_free())
                physics.check_host(placement, self._host_free())
            except PlacementError as exc:
                if self._evict_one():
                    continue
                raise ApiError(500, exc.message) from None
            spilled = self.hw.gpu is not None and placement.size_vram < placement.size
            if spilled and self._evict_one():
                continue
            return placement

    def _evict_one(self) -> bool:
        idle = [r for r in self.runners.values() if r.idle and r.state == "ready"]
        if not idle:
            return False
        self._unload(min(idle, key=lambda r: r.expires_at or float("inf")))
        return True

    def _unload(self, runner: Runner) -> None:
        runner.close()
        self.runners.pop(runner.model.name, None)
        self.cond.notify_all()

    def _touch(self, runner: Runner, keep_alive_s: float | None) -> None:
        if runner.unload_requested:
            keep_alive_s = 0.0
        elif self.behaviour.ignore_keep_alive:
            keep_alive_s = 300.0
        runner.keep_alive_s = keep_alive_s
        runner.expires_at = None if keep_alive_s is None else time.monotonic() + keep_alive_s

    # -- after a request -------------------------------------------------------------
    def finished(self, runner: Runner, keep_alive_s: float | None) -> None:
        """Restart the keep_alive clock when a request ends (as sched.go does)."""
        with self.cond:
            self._touch(runner, keep_alive_s)
            self.cond.notify_all()

    def unload(self, model: ModelProfile) -> None:
        """keep_alive 0 with no prompt: unload now, or as soon as the model is idle."""
        with self.cond:
            runner = self.runners.get(model.name)
            if runner is not None:
                runner.unload_requested = True
                runner.expires_at = time.monotonic()
                if runner.idle and runner.state == "ready":
                    self._unload(runner)

    def _reap(self) -> None:
        while not self.pace.stop.is_set():
            with self.cond:
                self.cond.wait(REAPER_TICK_S)
                now = time.monotonic()
                for runner in list(self.runners.values()):
                    expired = runner.expires_at is not None and runner.expires_at <= now
                    if expired and runner.idle and runner.state == "ready":
                        self._unload(runner)

    # -- accounting ------------------------------------------------------------------
    def _vram_free(self) -> int | None:
        if self.hw.gpu is None:
            return None
        used = sum(r.placement.size_vram for r in self.runners.values())
        return self.hw.gpu.total_bytes - self.hw.gpu.reserved_bytes - used

    def _host_free(self) -> int:
        used = sum(r.placement.host_bytes for r in self.runners.values())
        return self.hw.cpu.total_bytes - self.hw.cpu.reserved_bytes - used

    def snapshot(self) -> list[Runner]:
        with self.cond:
            return [r for r in self.runners.values() if r.state == "ready"]
