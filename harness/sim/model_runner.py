"""One loaded model: its slots (each with a prefix cache) and the step loop that batches them.

Like Ollama's runner, every step processes up to `num_batch` prompt tokens of the sequences
still prefilling plus one token of every decoding sequence, and the step takes as long as the
physics says that batch takes. Each participant is charged the whole step: that is how a
real server's `prompt_eval_duration` and `eval_duration` behave under concurrency.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from harness.sim import physics
from harness.sim.physics import LoadConfig, Placement
from harness.sim.profiles import HardwareProfile, ModelProfile
from harness.sim.tokens import tokenize

MAX_LAG_NS = 20_000_000
Event = tuple[str, Any]  # ("token", text) | ("done", None)


@dataclass(eq=False)
class Job:
    """One request's sequence inside a runner. Mutated only under the scheduler's lock."""

    request_id: str
    tokens: list[str]
    text: list[str]  # the tokens it will generate
    done_reason: str
    events: queue.SimpleQueue[Event] = field(default_factory=queue.SimpleQueue)
    slot: int = -1
    cached: int = 0
    processed: int = 0
    generated: int = 0
    prompt_ns: int = 0
    eval_ns: int = 0
    cancelled: bool = False


@dataclass
class Pace:
    """Turns simulated seconds into wall time: x slowdown / speed, shared by all runners.

    It also keeps the profiled machine's clock (`now_ns`), which moves only by modelled work
    (runner steps, loads), each at its simulated length. Nothing else is part of the
    profiled machine: not the simulator's own Python, not the client's work (on a real
    server about 0.1 ms a request, `make bench`), and not how loaded this host is, so a
    duration read from it is the same at every --sim-speed. Overlapping sleeps (two runners
    at once) count once, as one machine's time.
    """

    scale: float
    speed: float = 1.0
    stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _clock_ns: int = 0
    _counted_until_ns: int = 0  # wall end of the modelled sleeps already counted

    def wall_ns(self, sim_seconds: float) -> int:
        return int(sim_seconds * self.scale * 1e9)

    def modelled(self, start_ns: int, end_ns: int) -> None:
        """Count the wall interval [start_ns, end_ns] of a finished modelled sleep."""
        with self._lock:
            start = max(start_ns, self._counted_until_ns)
            if end_ns > start:
                self._counted_until_ns = end_ns
                self._clock_ns += round((end_ns - start) * self.speed)

    def now_ns(self) -> int:
        """The profiled machine's clock in ns; only differences between readings mean anything."""
        with self._lock:
            return self._clock_ns

    def sleep_until(self, deadline_ns: int) -> bool:
        """Sleep to a perf_counter_ns deadline; False when the server is stopping."""
        while True:
            left = deadline_ns - time.perf_counter_ns()
            if left <= 0:
                return not self.stop.is_set()
            if self.stop.wait(left / 1e9):
                return False

    def sleep_modelled(self, wall_ns: int) -> bool:
        """Sleep `wall_ns` of modelled work from now and count it; False when stopping."""
        start = time.perf_counter_ns()
        if not self.sleep_until(start + wall_ns):
            return False
        self.modelled(start, start + wall_ns)
        return True


def _common_prefix(a: list[str], b: list[str]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


_RUNNER_IDS = itertools.count(1)


class Runner:
    """A model loaded with one LoadConfig; `lock` is the scheduler's condition."""

    def __init__(
        self,
        model: ModelProfile,
        hw: HardwareProfile,
        cfg: LoadConfig,
        placement: Placement,
        lock: threading.Condition,
        pace: Pace,
        prefix_cache: bool = True,
    ) -> None:
        self.model, self.hw, self.cfg, self.placement = model, hw, cfg, placement
        self.lock, self.pace, self.prefix_cache = lock, pace, prefix_cache
        self.slots: list[list[str]] = [[] for _ in range(cfg.num_parallel)]
        self.busy = [False] * cfg.num_parallel
        self.active: list[Job] = []
        self.state = "loading"  # -> "ready" -> "closed"
        self.loaded_by = ""
        self.load_key: tuple[object, ...] = ()
        self.context_length = cfg.num_ctx  # what /api/ps reports
        self.expires_at: float | None = None  # time.monotonic(); None = never
        self.keep_alive_s: float | None = None
        self.unload_requested = False  # keep_alive 0 arrived while requests were running
        # Stands in for the runner's process id: a new runner is a new id, which is how
        # the harness tells a reload from a reused model (a real server: its child pids).
        self.runner_id = next(_RUNNER_IDS)
        self._thread = threading.Thread(
            target=self._loop, name=f"sim-runner-{model.name}", daemon=True
        )

    # -- called under lock -------------------------------------------------------------
    def free_slot(self, tokens: list[str]) -> int | None:
        """The free slot sharing the longest prefix with `tokens` (Ollama picks it too)."""
        free = [i for i, busy in enumerate(self.busy) if not busy]
        if not free:
            return None
        return max(free, key=lambda i: (_common_prefix(self.slots[i], tokens), -i))

    def admit(self, job: Job, slot: int) -> None:
        self.busy[slot] = True
        job.slot = slot
        if self.prefix_cache:
            # At least the last prompt token is always evaluated, to get logits.
            job.cached = min(_common_prefix(self.slots[slot], job.tokens), len(job.tokens) - 1)
        job.cached = max(job.cached, 0)
        job.processed = job.cached
        self.active.append(job)
        self.lock.notify_all()

    @property
    def idle(self) -> bool:
        return not self.active and not any(self.busy)

    def start(self) -> None:
        self.state = "ready"
        self._thread.start()

    def close(self) -> None:
        self.state = "closed"
        self.lock.notify_all()

    def join(self, timeout: float = 5.0) -> None:
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _release(self, job: Job) -> None:
        self.active.remove(job)
        history = job.tokens[: job.processed]
        for text in job.text[: job.generated]:
            history += tokenize(text)
        self.slots[job.slot] = history
        self.busy[job.slot] = False
        self.lock.notify_all()

    # -- the step loop ---------------------------------------------------------------
    def _loop(self) -> None:
        deadline = time.perf_counter_ns()
        while True:
            with self.lock:
                if not self.active:
                    # Idle: the next step starts when work arrives, not at an old deadline.
                    while not self.active and self.state == "ready":
                        self.lock.wait()
                    deadline = time.perf_counter_ns()
                if self.state != "ready":
                    return
                for job in [j for j in self.active if j.cancelled]:
                    self._release(job)
                prefill, decode = self._plan()
            if not prefill and not decode:
                continue
            seconds = physics.step_seconds(
                self.model,
                self.hw,
                self.placement,
                [(n, job.processed) for job, n in prefill],
                [self._depth(job) for job in decode],
                self.cfg.kv_type,
            )
            step_ns = self.pace.wall_ns(seconds)
            # Chain deadlines so per-step overhead does not accumulate as drift, but do not
            # burst to catch up after a long stall (a starved thread on a busy machine).
            deadline = max(deadline, time.perf_counter_ns() - MAX_LAG_NS) + step_ns
            if not self.pace.sleep_until(deadline):
                return
            # Counted before the step's tokens are released, so a client that reads the
            # clock on receiving them sees the step's whole simulated length.
            self.pace.modelled(deadline - step_ns, deadline)
            with self.lock:
                self._apply(prefill, decode, step_ns)

    def _plan(self) -> tuple[list[tuple[Job, int]], list[Job]]:
        budget = self.cfg.num_batch
        prefill: list[tuple[Job, int]] = []
        decode: list[Job] = []
        for job in self.active:
            left = len(job.tokens) - job.processed
            if left > 0:
                if budget > 0:
                    take = min(left, budget)
                    prefill.append((job, take))
                    budget -= take
            else:
                decode.append(job)
        return prefill, decode

    def _depth(self, job: Job) -> int:
        # Past num_ctx the runner shifts the context, so depth never exceeds it.
        return min(job.processed + job.generated, self.cfg.num_ctx)

    def _apply(self, prefill: list[tuple[Job, int]], decode: list[Job], step_ns: int) -> None:
        for job, n in prefill:
            job.processed += n
            job.prompt_ns += step_ns
            if job.processed < len(job.tokens):
                continue
            # The last prompt batch's logits give the first token at once, as Ollama's
            # runner samples it: eval_duration counts only the decode steps after it.
            if job.text:
                job.events.put(("token", job.text[0]))
                job.generated = 1
            if job.generated >= len(job.text):  # num_predict 0 or 1
                job.events.put(("done", None))
                self._release(job)
        for job in decode:
            if job.cancelled or job not in self.active:
                continue
            job.eval_ns += step_ns
            job.events.put(("token", job.text[job.generated]))
            job.generated += 1
            if job.generated >= len(job.text):
                job.events.put(("done", None))
                self._release(job)
