"""BatchEngine: runs validated requests on a thread pool, retries, records, resumes.

The main thread reads the input lazily and feeds bounded queues, so at most about two
requests per worker are in memory. `independent` requests share one queue; `conversation`
requests are routed by conversation key to a fixed worker, so a conversation's turns run in
order. Each result is written (and flushed) by the worker that finished it.

Ctrl-C stops feeding, lets the requests in flight finish and be written, and returns the
summary marked interrupted; a resume then picks up exactly where it stopped.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from harness import errors
from harness.batch.context import ContextManager, ContextSettings, TokenEstimator, TrimEvent
from harness.batch.jsonl import BatchRequest, LineError
from harness.batch.memory import MemoryMonitor, MemoryProbe
from harness.batch.output import error_record, success_record
from harness.batch.progress import Progress
from harness.batch.strategies import (
    STRATEGIES,
    ConversationBatching,
    Independent,
    PreparedAttempt,
    Strategy,
)
from harness.batch.totals import BatchSummary, RunStats
from harness.batch.trim import for_wire
from harness.engines.base import Engine, Message, StreamMeasurement
from harness.engines.retry import TRANSIENT

# Re-exported: the batch CLI, serve-batch and the suites configure retries from here.
from harness.engines.retry import RetryPolicy as RetryPolicy
from harness.errors import ConfigError

# OpenAI body parameters that map one-to-one onto Ollama options.
_SAME_NAME = ("temperature", "top_p", "top_k", "seed", "stop", "presence_penalty",
              "frequency_penalty")  # fmt: skip


@dataclass(frozen=True)
class BatchSettings:
    """Everything a run is configured with (the CLI's flags, the suite's matrix section)."""

    model: str | None = None
    strategy: str = "independent"
    context: ContextSettings = field(default_factory=ContextSettings)
    concurrency: int = 1
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    keep_alive: float | str | None = -1
    uncached_prompt_tok_s: float | None = None
    keep_latencies: bool = False
    # Durations (elapsed, latencies) are read from this clock in ns: the simulator's own
    # clock under --engine sim, so simulated time is not the client's work x the speed.
    clock_ns: Callable[[], int] = field(default_factory=lambda: time.perf_counter_ns)
    # How often memory is read at most (a probe costs an HTTP or a driver call).
    memory_every_s: float = 0.5

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ConfigError(
                f"unknown strategy {self.strategy!r}; choose one of: {', '.join(STRATEGIES)}"
            )
        if self.concurrency < 1:
            raise ConfigError(f"concurrency {self.concurrency!r} must be >= 1")


class ChatCall(Protocol):
    """Engine.chat as the batch calls it."""

    def __call__(
        self, model: str, messages: Sequence[Message], *, options: Mapping[str, Any] | None = ...,
        keep_alive: float | str | None = ...,
    ) -> StreamMeasurement: ...  # fmt: skip


class RecordSink(Protocol):
    def write(self, record: Mapping[str, Any]) -> None: ...

    def write_trim(self, event: Mapping[str, Any]) -> None: ...


def chat_options(params: Mapping[str, Any], base: Mapping[str, Any]) -> dict[str, Any]:
    """Ollama options for one request: the run's options, then the body's own parameters."""
    options = dict(base)
    for key in ("max_completion_tokens", "max_tokens"):
        if isinstance(params.get(key), int):
            options["num_predict"] = params[key]
    options.update({k: params[k] for k in _SAME_NAME if k in params})
    extra = params.get("options")
    if isinstance(extra, Mapping):
        options.update(extra)
    return options


class BatchEngine:
    """Runs a batch against one Engine; one instance per run."""

    def __init__(
        self,
        engine: Engine,
        settings: BatchSettings,
        *,
        memory: MemoryProbe | None = None,
        progress: Progress | None = None,
        estimator: TokenEstimator | None = None,
        chat: ChatCall | None = None,
    ) -> None:
        self.engine = engine
        # Where the requests are sent and timed: the engine's own chat, or one that runs in
        # worker processes (harness/concurrency/workers.py ChatPool, for many streams).
        self._chat: ChatCall = chat or engine.chat
        self.settings = settings
        self.memory = MemoryMonitor(memory, every_s=settings.memory_every_s)
        self.progress = progress
        self.context = ContextManager(settings.context, estimator, self.memory.fraction)
        self.strategy: Strategy = (
            ConversationBatching(self.context)
            if settings.strategy == "conversation"
            else Independent()
        )
        self.stop = threading.Event()
        self._stats = RunStats(
            keep_latencies=settings.keep_latencies,
            uncached_prompt_tok_s=settings.uncached_prompt_tok_s,
        )

    # -- the run -----------------------------------------------------------------------
    def run(
        self,
        items: Iterable[BatchRequest | LineError],
        sink: RecordSink,
        done: set[str] | frozenset[str] = frozenset(),
    ) -> BatchSummary:
        """Run every item not in `done`; returns when all are written or Ctrl-C stopped it."""
        started = self.settings.clock_ns()
        n = self.settings.concurrency
        shared: queue.Queue[tuple[BatchRequest, str] | None] = queue.Queue(maxsize=2 * n)
        queues = (
            [shared] * n
            if self.settings.strategy == "independent"
            else [queue.Queue(maxsize=2) for _ in range(n)]
        )
        workers = [
            threading.Thread(target=self._work, args=(q, sink), name=f"batch-{i}", daemon=True)
            for i, q in enumerate(queues)
        ]
        for worker in workers:
            worker.start()
        interrupts = 0
        try:
            self._feed(items, sink, done, queues)
        except KeyboardInterrupt:
            interrupts = 1
            self.stop.set()
        finally:
            interrupts = self._wind_down(queues, workers, interrupts)
        interrupted = interrupts > 0
        self._draw(force=True)
        if self.progress is not None:
            self.progress.finish()
        elapsed = (self.settings.clock_ns() - started) / 1e9
        return self._stats.summary(elapsed, interrupted, self.memory.peak_bytes)

    def _wind_down(
        self,
        queues: list[queue.Queue[tuple[BatchRequest, str] | None]],
        workers: list[threading.Thread],
        interrupts: int,
    ) -> int:
        """End every worker's queue, then wait for the requests in flight to be written.

        Ctrl-C may come at any moment here too: the first one stops what is still queued, as
        during the feed, and the wait goes on; the second stops waiting for requests in
        flight (their ids are not in the output, so a resumed run sends them again). Returns
        how many Ctrl-Cs the run has had.
        """
        ended = 0
        while True:
            try:
                while ended < len(queues):
                    self._put(queues[ended], None, force=True)
                    ended += 1
                for worker in workers:
                    worker.join()
                return interrupts
            except KeyboardInterrupt:
                interrupts += 1
                self.stop.set()
                if interrupts >= 2:
                    return interrupts

    def _feed(
        self,
        items: Iterable[BatchRequest | LineError],
        sink: RecordSink,
        done: set[str] | frozenset[str],
        queues: list[queue.Queue[tuple[BatchRequest, str] | None]],
    ) -> None:
        for item in items:
            if self.stop.is_set():
                return
            if isinstance(item, LineError):
                if f"line:{item.line}" not in done:
                    sink.write(
                        error_record(item.custom_id, item.code, item.message, line=item.line)
                    )
                    self._stats.error(item.code, invalid=True)
                continue
            if item.custom_id in done:
                self._stats.add("skipped")
                continue
            model = self.settings.model or item.model
            if model is None:
                message = f"line {item.line}: no model in the body and none given with --model"
                sink.write(error_record(item.custom_id, "invalid_request", message, line=item.line))
                self._stats.error("invalid_request", invalid=True)
                continue
            target = queues[hash(self.strategy.key(item, model)) % len(queues)]
            self._put(target, (item, model))

    def _put(self, q: queue.Queue[Any], item: Any, *, force: bool = False) -> None:
        # A timeout loop, not a blocking put, so Ctrl-C and `stop` are noticed while waiting.
        while force or not self.stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue  # after a stop, workers skip queued jobs, so room comes quickly

    def _work(self, q: queue.Queue[tuple[BatchRequest, str] | None], sink: RecordSink) -> None:
        while (job := q.get()) is not None:
            if self.stop.is_set():
                continue  # skip the rest; the sentinel ends the loop
            try:
                self._one(job[0], job[1], sink)
            except Exception as exc:  # a bug must cost one request, not a hung run
                request = job[0]
                sink.write(error_record(request.custom_id, "internal_error", repr(exc)))
                self._stats.error("internal_error")
            self.memory.reading()  # cached: a real probe call at most every 0.5 s
            self._draw()

    # -- one request ---------------------------------------------------------------------
    def _one(self, request: BatchRequest, model: str, sink: RecordSink) -> None:
        prepared = self.strategy.prepare(request, model)
        self._announce_lowered(sink)
        self._trimmed(prepared.trim, sink)
        options = chat_options(request.params, self.settings.options)
        started = self.settings.clock_ns()
        attempts, oom_retried = 0, False

        def send() -> StreamMeasurement:
            nonlocal attempts
            attempts += 1
            return self._chat(
                model, for_wire(prepared.messages), options=options,
                keep_alive=self.settings.keep_alive,
            )  # fmt: skip

        while True:
            try:
                m = self.settings.retry.call(
                    send, retry_on=TRANSIENT, stop=self.stop, sleep=self.stop.wait,
                    on_retry=lambda _attempt, _error: self._stats.add("retries"),
                )  # fmt: skip
            except errors.OutOfMemory as exc:
                if oom_retried:
                    return self._failed(request, prepared, exc, attempts, started, sink)
                oom_retried = True  # once: a trimmed conversation that still does not fit fails
                prepared = self.strategy.after_oom(request, prepared)
                self._trimmed(prepared.trim, sink)
            except errors.EngineError as exc:
                return self._failed(request, prepared, exc, attempts, started, sink)
            else:
                return self._succeeded(request, model, prepared, m, attempts, started, sink)

    def _succeeded(
        self,
        request: BatchRequest,
        model: str,
        prepared: PreparedAttempt,
        m: StreamMeasurement,
        attempt: int,
        started: int,
        sink: RecordSink,
    ) -> None:
        self.context.estimator.observe(prepared.messages, m.counters.prompt_eval_count)
        self.context.observe(m.counters.prompt_eval_count, self.memory.fraction())
        self.strategy.complete(request, prepared, m.text)
        latency = (self.settings.clock_ns() - started) / 1e9
        extra = {
            "strategy": self.strategy.name,
            "conversation": prepared.key,
            "turn": prepared.turn,
            "context_messages": len(prepared.messages),
            "attempts": attempt,
            "latency_s": round(latency, 6),
            "ttft_s": m.ttft_s,
            "prompt_eval_duration_ns": m.counters.prompt_eval_duration_ns,
            "eval_duration_ns": m.counters.eval_duration_ns,
        }
        sink.write(success_record(request.custom_id, model, m, extra))
        self._stats.ok(m, latency)

    def _failed(
        self,
        request: BatchRequest,
        prepared: PreparedAttempt,
        exc: errors.EngineError,
        attempt: int,
        started: int,
        sink: RecordSink,
    ) -> None:
        self.strategy.fail(request, prepared)
        latency = (self.settings.clock_ns() - started) / 1e9
        extra = {"strategy": self.strategy.name, "attempts": attempt, "latency_s": latency}
        sink.write(error_record(request.custom_id, exc.outcome, str(exc), extra=extra))
        self._stats.error(exc.outcome, latency_s=latency)

    def _announce_lowered(self, sink: RecordSink) -> None:
        """The adaptive limit lowered the threshold: a record in the trims file, a line."""
        for event in self.context.take_lowered():
            sink.write_trim(event.as_dict())
            if self.progress is not None:
                self.progress.threshold = event.threshold_after
                self.progress.message(event.text())

    def _trimmed(self, event: TrimEvent | None, sink: RecordSink) -> None:
        if event is not None:
            sink.write_trim(event.as_dict())
            self._stats.add("trims")

    def _draw(self, *, force: bool = False) -> None:
        if self.progress is not None:
            s = self._stats
            self.progress.update(s.done, s.skipped, s.trims, self.memory.fraction(), force=force)
