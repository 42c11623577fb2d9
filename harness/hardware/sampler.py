"""The background sampler that watches hardware for the span of one case."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from harness.hardware.backends.base import Backend, BackendSet
from harness.hardware.budget import Budget, BudgetWatch, Violation
from harness.hardware.busy import HostLoadMeter
from harness.hardware.config import PHASES, SamplerConfig
from harness.hardware.summary import (
    NS_PER_S,
    Mark,
    PhaseClock,
    Reading,
    build_series,
    summarize_metrics,
)
from harness.lifecycle import Runs

OverBudgetCallback = Callable[[Violation], None]


class HardwareSampler(Runs):
    """Samples every backend on daemon threads between `start()` and `stop()`.

    One thread per backend, so a slow HTTP backend (a busy server answering /api/ps
    late) never delays the GPU and host readings the budget guard depends on. The
    measuring code calls `mark(phase)`; readings are assigned to phases by time, so a
    mark may also be placed afterwards with `at_ns` (e.g. the first content chunk's
    arrival). Every reading is checked against the `Budget`; the first crossing sets
    `over_budget` and runs the `on_over_budget` callbacks once, on the thread that saw
    it. A sampler is single-use: one case, one start/stop. With `owns_backends` (the
    default) `stop()` also closes the backends.
    """

    def __init__(
        self,
        backends: BackendSet | Sequence[Backend],
        *,
        config: SamplerConfig | None = None,
        budget: Budget | None = None,
        owns_backends: bool = True,
        clock: Callable[[], int] = time.perf_counter_ns,
    ) -> None:
        if isinstance(backends, BackendSet):
            self._set = backends
        else:
            self._set = BackendSet(list(backends), scope="local")
        self.config = config or SamplerConfig()
        self.budget = budget or Budget()
        self._owns = owns_backends
        self._clock = clock
        self._watch = BudgetWatch(self.budget)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._wakes: dict[str, threading.Event] = {}
        self._threads: list[threading.Thread] = []
        self._readings: list[Reading] = []
        self._marks: list[Mark] = []
        self._errors: dict[str, dict[str, Any]] = {}
        self._callbacks: list[OverBudgetCallback] = []
        self._violation: Violation | None = None
        self._violation_at: tuple[int, str] | None = None
        self._start_ns: int | None = None
        self._stopped = False
        self._details: dict[str, dict[str, Any]] = {}
        # The host's load is sampled when the first fast backend's thread wakes (10 Hz and
        # at every mark), not on a thread of its own: wake-ups are most of the sampler's cost.
        fast = [b for b in self._set if b.rate == "fast"]
        self._load_driver = fast[0].name if fast else None
        self._load = HostLoadMeter(exclude=self._server_pids, driven=bool(fast))

    def _server_pids(self) -> frozenset[int]:
        """The local server's process tree: its CPU time is the case's, not other load."""
        for backend in self._set:
            tracker = getattr(backend, "tracker", None)
            if tracker is not None:
                return frozenset(tracker.pids())
        return frozenset()

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Take a first reading of every backend (the idle baseline), then start polling."""
        if self._start_ns is not None:
            raise RuntimeError("HardwareSampler is single-use: build a new one per case")
        self._start_ns = self._clock()
        self._load.start()
        # Read once here, on the caller's thread, so the baseline exists even when the
        # caller marks "load" straight after start().
        for backend in self._set:
            self._poll(backend)
        for backend in self._set:
            wake = self._wakes[backend.name] = threading.Event()
            thread = threading.Thread(
                target=self._run,
                args=(backend, wake),
                name=f"hw-sampler-{backend.name}",
                daemon=True,
            )
            self._threads.append(thread)
            thread.start()

    def stop(self) -> None:
        """Stop and join every thread (each takes a closing reading); idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._stopping.set()
        for wake in self._wakes.values():
            wake.set()
        for thread in self._threads:
            thread.join()
        with self._lock:
            clock = PhaseClock(list(self._marks))
        # The host's load while the requests ran (their prefill and decode phases).
        self._load.stop(measured=lambda t_ns: clock.phase_at(t_ns) in ("prefill", "decode"))
        try:
            self._details = {b.name: self._details_of(b) for b in self._set}
        finally:
            if self._owns:
                self._set.close()

    def _details_of(self, backend: Backend) -> dict[str, Any]:
        try:
            return backend.details()
        except Exception as exc:  # the readings are worth keeping without the details
            self._record_error(backend.name, exc)
            return {}

    # -- used by the measuring code -----------------------------------------------------

    def mark(self, phase: str, *, at_ns: int | None = None) -> None:
        """Start `phase` now, or at `at_ns` (a perf_counter_ns value) if given.

        A live mark also wakes every backend for an immediate reading, so short phases
        (a prefill of 200 ms) still get one of each metric.
        """
        if phase not in PHASES:
            raise ValueError(f"unknown phase {phase!r}; phases are {', '.join(PHASES)}")
        with self._lock:
            self._marks.append(Mark(self._clock() if at_ns is None else at_ns, phase))
        if at_ns is None:
            for wake in self._wakes.values():
                wake.set()

    def readings_since(self, metric: str, phase: str) -> list[tuple[float, float]]:
        """(seconds since the start, value) of every reading of `metric` stamped at or after
        the first `phase` mark, oldest first; empty without that mark.

        What a trend is fitted to. The summary's `series` is for charts: bucket peaks on a
        shared time axis, each metric's last value carried forward into buckets where its
        backend was not read, so a value there can be older than the bucket's time.
        """
        with self._lock:
            marks = [m.t_ns for m in self._marks if m.phase == phase]
            readings = list(self._readings)
        if not marks or self._start_ns is None:
            return []
        since, start = min(marks), self._start_ns
        return sorted(
            ((r.t_ns - start) / NS_PER_S, float(r.values[metric]))
            for r in readings
            if r.t_ns >= since and metric in r.values
        )

    @property
    def phase(self) -> str:
        """The phase of the latest mark ("idle" before any)."""
        with self._lock:
            return max(self._marks, key=lambda m: m.t_ns).phase if self._marks else "idle"

    def on_over_budget(self, callback: OverBudgetCallback) -> None:
        """Run `callback(violation)` once when a budget is crossed.

        It runs on a sampler thread: keep it to setting flags or unloading the model.
        Registered after the crossing, it runs at once on the caller's thread.
        """
        with self._lock:
            violation = self._violation
            if violation is None:
                self._callbacks.append(callback)
        if violation is not None:
            self._fire(callback, violation)

    @property
    def over_budget(self) -> bool:
        return self._violation is not None

    @property
    def over_budget_reason(self) -> str | None:
        violation = self._violation
        return violation.reason if violation is not None else None

    @property
    def violation(self) -> Violation | None:
        return self._violation

    # -- sampling -----------------------------------------------------------------------

    def _interval_s(self, backend: Backend) -> float:
        hz = self.config.hz if backend.rate == "fast" else self.config.ps_hz
        return 1.0 / hz

    def _run(self, backend: Backend, wake: threading.Event) -> None:
        interval = self._interval_s(backend)
        next_due = time.monotonic() + interval
        ticks = backend.name == self._load_driver
        while True:
            woken = wake.wait(max(0.0, next_due - time.monotonic()))
            if woken:
                wake.clear()
            if ticks and not self._stopping.is_set():
                late = None if woken else max(0.0, time.monotonic() - next_due)
                self._load.tick(late)
            # The closing reading must *start* after stop() was called: a poll already under
            # way then may predate the last mark (a model that finished loading meanwhile),
            # and on a busy host a slow poll would otherwise leave a case with no reading of
            # what it measured (a limit probe with 0 bytes of memory).
            closing = self._stopping.is_set()
            self._poll(backend)
            if closing:
                return
            now = time.monotonic()
            # A reading a mark asked for early leaves the regular schedule as it was.
            if now >= next_due:
                next_due += interval
                if next_due <= now:  # fell behind (a slow reading): skip, never burst
                    next_due = now + interval

    def _poll(self, backend: Backend) -> None:
        t_ns = self._clock()
        try:
            values = backend.sample()
        # A sampler thread that died would silently stop the budget guard, so any
        # failure of a backend is recorded and sampling goes on.
        except Exception as exc:
            self._record_error(backend.name, exc)
            return
        if not values:
            return
        with self._lock:
            self._readings.append(Reading(t_ns, backend.name, values))
            found = None if self._violation else self._watch.check(values)
            if found is not None:
                self._violation = found
                self._violation_at = (t_ns, backend.name)
            callbacks = list(self._callbacks) if found is not None else []
        for callback in callbacks:
            assert found is not None
            self._fire(callback, found)

    def _fire(self, callback: OverBudgetCallback, violation: Violation) -> None:
        try:
            callback(violation)
        except Exception as exc:  # a broken callback must not stop the sampling
            self._record_error("on_over_budget", exc)

    def _record_error(self, name: str, exc: BaseException) -> None:
        with self._lock:
            entry = self._errors.setdefault(name, {"count": 0, "last": ""})
            entry["count"] += 1
            entry["last"] = f"{type(exc).__name__}: {exc}"

    # -- results --------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """The JSON-ready block for results.json `case["hardware"]` (call after stop())."""
        with self._lock:
            readings = list(self._readings)
            marks = list(self._marks)
            errors = {k: dict(v) for k, v in self._errors.items()}
        start = self._start_ns if self._start_ns is not None else 0
        # Backends' details exist once their threads are joined (see stop()).
        details = {name: dict(facts) for name, facts in self._details.items()}
        unavailable = dict(self._set.unavailable)
        for name, facts in details.items():
            for part, reason in (facts.pop("unavailable", None) or {}).items():
                unavailable[f"{name}.{part}"] = reason
        phases, overall = summarize_metrics(readings, marks)
        return {
            "hz": self.config.hz,
            "ps_hz": self.config.ps_hz,
            "scope": self._set.scope,
            "backends": self._set.names,
            "unavailable": unavailable,
            "notes": list(self._set.notes),
            "phases": phases,
            "overall": overall,
            "series": build_series(readings, start, self.config.series_points),
            "marks": [
                {"phase": m.phase, "t_s": round((m.t_ns - start) / NS_PER_S, 3)}
                for m in sorted(marks, key=lambda m: m.t_ns)
            ],
            "readings": len(readings),
            "details": details,
            "errors": errors,
            "budget": self.budget.as_dict(),
            "over_budget": self.over_budget_reason,
            "over_budget_detail": self._violation_detail(start, marks),
            "host_load": self._load.as_dict(),
        }

    def _violation_detail(self, start: int, marks: Sequence[Mark]) -> dict[str, Any] | None:
        if self._violation is None or self._violation_at is None:
            return None
        t_ns, backend = self._violation_at
        return {
            **self._violation.as_dict(),
            "backend": backend,
            "t_s": round((t_ns - start) / NS_PER_S, 3),
            "phase": PhaseClock(marks).phase_at(t_ns),
        }
