"""The load generator in worker processes: as many as the streams need, on one shared clock.

With 64 client threads in the pytest process, the TTFT the harness reported was 22 ms late
at the median (issue 21). In that process a collection stops every thread while it walks
a large heap, and one GIL hands 64 streams their turns one at a time. A `LoadPool` spreads the
streams of a level over `processes_for(streams)` spawned workers, at most
`STREAMS_PER_PROCESS` each, with small heaps and the collector held off for the level
(gcpause.held); every worker runs load.py's closed or open loop over its share and sends
its samples back when the level ends. Nothing crosses a process boundary while a level is
timed. `make bench` times 64 streams from 8 workers and from one, alternating.

Timestamps stay comparable across processes: `time.perf_counter_ns` (like
`time.monotonic_ns`) reads CLOCK_MONOTONIC on Linux, one clock for every process on the
machine (tests/concurrency/test_workers.py checks both the clock and a worker's stamps).
A level starts at a moment the parent chooses on that clock, so the workers' streams start
together, and an open loop's schedule is one schedule whatever process sends each request.

A worker gets a `ChatRequest`, a picklable description of what to send (the engine kind,
URL, model, options and prompt size), and builds its own engine from it. A worker that
dies mid-level, or has not answered by the level's deadline (then it is killed), costs its
share of the level: those requests come back as failed samples saying which, never as a
hang, and the next level starts a fresh worker.

A batch run (harness/batch) keeps its threads, since they share the token estimator, the
conversation state, the output file and Ctrl-C handling; with `--worker-processes` only their
timed part moves: each thread's `chat` runs in a worker of a `ChatPool`, which streams,
stamps and parses the answer there and hands back the measurement. It is opt-in: at 64
streams on a busy 2-core box the threads measured the TTFT better (harness/batch/cli.py),
as every request's round trip through the parent competes with the workers for the cores.
"""

from __future__ import annotations

import gc
import itertools
import math
import multiprocessing
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any, Literal

from harness.concurrency.load import (
    MAX_IN_FLIGHT,
    START_LEAD_NS,
    LoadSample,
    closed_loop,
    failed,
    open_loop,
)
from harness.engines import create_engine
from harness.engines.base import Engine, Message, StreamMeasurement
from harness.engines.http import Timeouts
from harness.lifecycle import Closes
from harness.measure.gcpause import held
from harness.measure.prompts import PromptBuilder

STREAMS_PER_PROCESS = 8  # above this, one process's GIL adds more than ~1 ms (issue 21)
MAX_PROCESSES = 64
# How far ahead of now a level starts: enough for every worker to read its job and wake.
LEVEL_LEAD_NS = 50_000_000
# A worker's thread that holds the GIL without blocking (parsing several chunks that came in
# one read) is asked to hand it over after this long (Python's default is 5 ms), so another
# stream's arrival waits at most about this for its clock read.
SWITCH_INTERVAL_S = 0.0005
STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0  # a worker told to stop that has not exited by then is killed

# Builds an engine from (base_url, timeouts); a module-level one pickles by name.
EngineFactory = Callable[[str, Timeouts | None], Engine]


@dataclass(frozen=True)
class ChatRequest:
    """What every request of a load is: picklable, so that a worker builds its own engine.

    Each request gets a fresh prompt of `prompt_words` words (a new nonce each, so no two
    share a cached prefix) unless `messages` fixes them. `factory` replaces the engine the
    kind names (a module-level callable taking base_url and timeouts, so it pickles).
    """

    kind: str
    base_url: str
    model: str
    options: Mapping[str, Any] = field(default_factory=dict)
    prompt_words: int = 12
    seed: int = 0
    messages: tuple[Message, ...] | None = None
    timeouts: Timeouts | None = None
    factory: EngineFactory | None = None

    def engine(self) -> Engine:
        if self.factory is not None:
            return self.factory(self.base_url, self.timeouts)
        return create_engine(self.kind, self.base_url, self.timeouts)


class Sender:
    """A ChatRequest bound to one engine: the `send` callable load.py's loops call."""

    def __init__(self, request: ChatRequest, engine: Engine, seed: int) -> None:
        self.request, self.engine = request, engine
        self._builder = PromptBuilder(seed=seed)

    def __call__(self) -> StreamMeasurement:
        r = self.request
        messages = r.messages if r.messages is not None else self._builder.messages(r.prompt_words)
        return self.engine.chat(r.model, messages, options=r.options)


def processes_for(streams: int, per_process: int = STREAMS_PER_PROCESS) -> int:
    """How many workers `streams` concurrent streams need."""
    return max(1, min(MAX_PROCESSES, math.ceil(streams / max(1, per_process))))


@dataclass(frozen=True)
class _Job:
    """One worker's share of a level; `indices` place its samples back in the level's order."""

    mode: Literal["closed", "open"]
    start_ns: int
    streams: int = 0
    requests: int = 0
    offsets_ns: tuple[int, ...] = ()
    indices: tuple[int, ...] = ()


def _worker_main(conn: Connection, request: ChatRequest, index: int) -> None:
    """A worker: build the engine, then run jobs until told to stop (None)."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    try:
        engine = request.engine()
    except Exception as exc:  # a bad kind or URL: said once, by the parent, not per request
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    send = Sender(request, engine, seed=request.seed * 1_000 + index)
    # Everything imported and built so far lives as long as the worker: out of the
    # collector's way, so the collection before each level has little to walk.
    gc.collect()
    gc.freeze()
    try:
        conn.send(("ready", time.perf_counter_ns()))
        while (job := conn.recv()) is not None:
            conn.send(("done", _run(job, send)))
    except (EOFError, KeyboardInterrupt, BrokenPipeError):
        pass  # the parent went away or was interrupted; it counts what did not come back
    finally:
        engine.close()


def _run(job: _Job, send: Sender) -> list[LoadSample]:
    # Collect as the job arrives, inside the lead, not at the level's start (the loops'
    # own held() nest inside this one and do not collect again).
    with held():
        if job.mode == "open":
            return open_loop(send, list(job.offsets_ns), start_ns=job.start_ns)
        wait_ns = job.start_ns - time.perf_counter_ns()
        if wait_ns > 0:
            time.sleep(wait_ns / 1e9)
        return closed_loop(send, job.streams, job.requests)


class _Worker:
    def __init__(self, ctx: Any, request: ChatRequest, index: int) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_worker_main, args=(child, request, index), daemon=True, name=f"load-{index}"
        )
        self.process.start()
        child.close()  # the parent keeps one end, so a dead worker reads as EOF
        self.index = index
        self.ready_ns = 0  # the worker's clock when it was ready: a check of the shared clock

    def alive(self) -> bool:
        return bool(self.process.is_alive())

    def exit_note(self) -> str:
        self.process.join(1.0)
        return f"load worker {self.index} exited with code {self.process.exitcode}"

    def hang_up(self) -> None:
        try:
            self.conn.send(None)
        except OSError:
            pass  # already gone

    def stop(self, deadline: float | None = None) -> None:
        """Hang up and reap it; killed if still running at `deadline` (time.monotonic)."""
        self.hang_up()
        if deadline is None:
            deadline = time.monotonic() + STOP_TIMEOUT_S
        self.process.join(max(0.0, deadline - time.monotonic()))
        self.kill()

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()  # our own child, by its handle
            self.process.join(5.0)
        self.conn.close()


class LoadPool(Closes):
    """Worker processes that run the levels of one load (`with LoadPool(request) as pool`).

    A worker that never answers (stuck in a request, or in a deadlock) must not hang the
    run: each level has a deadline, after which its silent workers are killed and the
    requests they owed come back as failed samples saying so. `request_timeout_s` is how
    long one request may take; by default what the engine's own timeouts allow it (connect
    + read, the longest silence before it gives up), so a server that is slow but alive is
    never cut short by the pool. A level allows each stream its requests one after another.
    """

    def __init__(
        self,
        request: ChatRequest,
        per_process: int = STREAMS_PER_PROCESS,
        request_timeout_s: float | None = None,
    ) -> None:
        # spawn, not fork: forking a process that runs threads (a sampler, a simulator) is
        # unsafe, and a spawned worker starts with none of the parent's heap.
        self._ctx = multiprocessing.get_context("spawn")
        self.request, self.per_process = request, per_process
        if request_timeout_s is None:
            timeouts = request.timeouts or Timeouts()
            request_timeout_s = timeouts.connect + timeouts.read
        if not request_timeout_s > 0:
            raise ValueError(f"request_timeout_s must be > 0, got {request_timeout_s!r}")
        self.request_timeout_s = request_timeout_s
        self._workers: list[_Worker] = []
        self._spawned = 0

    def close(self) -> None:
        for worker in self._workers:
            worker.hang_up()  # all at once, so they wind down together
        deadline = time.monotonic() + STOP_TIMEOUT_S  # one wait for all, not one each
        for worker in self._workers:
            worker.stop(deadline)
        self._workers = []

    @property
    def workers(self) -> list[_Worker]:
        return list(self._workers)

    def _ready(self, count: int) -> list[_Worker]:
        """`count` live workers, starting (or replacing dead ones) as needed."""
        for worker in [w for w in self._workers if not w.alive()]:
            worker.stop()  # reaps it; its level already counted what it owed
            self._workers.remove(worker)
        fresh = []
        while len(self._workers) < count:
            worker = _Worker(self._ctx, self.request, self._spawned)
            self._spawned += 1
            self._workers.append(worker)
            fresh.append(worker)
        for worker in fresh:
            if not worker.conn.poll(STARTUP_TIMEOUT_S):
                raise RuntimeError(f"load worker {worker.index} did not start in time")
            try:
                kind, value = worker.conn.recv()
            except EOFError:
                raise RuntimeError(f"{worker.exit_note()} while starting") from None
            if kind == "error":
                raise RuntimeError(f"load worker {worker.index} could not start: {value}")
            worker.ready_ns = value
        return self._workers[:count]

    def closed_loop(self, concurrency: int, requests: int) -> list[LoadSample]:
        """load.closed_loop over worker processes; samples in the order they were sent."""
        workers = self._ready(processes_for(concurrency, self.per_process))
        streams = _split(concurrency, len(workers))
        # Request i goes to stream i % concurrency: each worker runs its streams' requests.
        shares = [sum(1 for i in range(requests) if _owner(i, streams) == w) for w in
                  range(len(workers))]  # fmt: skip
        start = time.perf_counter_ns() + LEVEL_LEAD_NS
        jobs = [
            _Job("closed", start, streams=s, requests=n)
            for s, n in zip(streams, shares, strict=True)
        ]
        # Each stream's requests one after another, each allowed request_timeout_s.
        rounds = math.ceil(requests / max(1, concurrency))
        limit_s = LEVEL_LEAD_NS / 1e9 + rounds * self.request_timeout_s
        samples = self._gather(workers, jobs, start, limit_s)
        return sorted(samples, key=lambda s: s.sent_ns)

    def open_loop(self, offsets_ns: Sequence[int]) -> list[LoadSample]:
        """load.open_loop over worker processes; samples in the order of `offsets_ns`.

        Request i goes to worker i % n: each worker's arrivals are a thinned Poisson
        process, and together they are the whole schedule, timed from the same start.
        """
        if not offsets_ns:
            return []
        # How many are in flight at once depends on the server; at most all, up to the cap.
        workers = self._ready(processes_for(min(len(offsets_ns), MAX_IN_FLIGHT), self.per_process))
        start = time.perf_counter_ns() + max(LEVEL_LEAD_NS, START_LEAD_NS)
        n = len(workers)
        jobs = [
            _Job(
                "open",
                start,
                offsets_ns=tuple(offsets_ns[w::n]),
                indices=tuple(range(len(offsets_ns)))[w::n],
            )
            for w in range(n)
        ]
        # The last send is due at its offset; past the in-flight cap requests queue.
        rounds = math.ceil(len(offsets_ns) / MAX_IN_FLIGHT)
        limit_s = (start - time.perf_counter_ns() + max(offsets_ns)) / 1e9
        limit_s += rounds * self.request_timeout_s
        placed: list[LoadSample | None] = [None] * len(offsets_ns)
        gathered = self._gather_each(workers, jobs, start, limit_s)
        for job, samples in zip(jobs, gathered, strict=True):
            for i, sample in zip(job.indices, samples, strict=True):
                placed[i] = sample
        return [s for s in placed if s is not None]

    def _gather(
        self, workers: list[_Worker], jobs: list[_Job], start: int, limit_s: float
    ) -> list[LoadSample]:
        return [s for samples in self._gather_each(workers, jobs, start, limit_s) for s in samples]

    def _gather_each(
        self, workers: list[_Worker], jobs: list[_Job], start: int, limit_s: float
    ) -> list[list[LoadSample]]:
        """Send each worker its job; its samples, or failed ones if it died before answering
        or had not answered `limit_s` seconds from now (then it is killed)."""
        deadline = time.monotonic() + limit_s
        results: dict[int, list[LoadSample]] = {}
        for w, (worker, job) in enumerate(zip(workers, jobs, strict=True)):
            try:
                worker.conn.send(job)
            except OSError:
                results[w] = _lost(job, start, worker.exit_note())
        pending = {w for w in range(len(workers)) if w not in results}
        while pending:
            handles = {workers[w].conn: w for w in pending}
            handles.update({workers[w].process.sentinel: w for w in pending})
            left = deadline - time.monotonic()
            ready = wait(list(handles), timeout=max(0.0, left)) if left > 0 else []
            if not ready:
                for w in sorted(pending):
                    note = f"load worker {workers[w].index} did not answer within {limit_s:.3g} s"
                    workers[w].kill()  # _ready() replaces it before the next level
                    results[w] = _lost(jobs[w], start, f"{note}: killed")
                break
            for handle in ready:
                w = handles[handle]
                if w not in pending:
                    continue
                worker = workers[w]
                if worker.conn.poll():
                    try:
                        results[w] = list(worker.conn.recv()[1])
                        pending.discard(w)
                        continue
                    except (EOFError, OSError):
                        pass
                if not worker.alive():
                    results[w] = _lost(jobs[w], start, worker.exit_note())
                    pending.discard(w)
        return [results[w] for w in range(len(workers))]


def _split(total: int, parts: int) -> list[int]:
    """`total` as `parts` near-equal counts, larger first."""
    return [total // parts + (1 if p < total % parts else 0) for p in range(parts)]


def _owner(request: int, streams: list[int]) -> int:
    stream = request % sum(streams)
    for worker, count in enumerate(streams):
        if stream < count:
            return worker
        stream -= count
    raise AssertionError("unreachable: stream index within the total")


def _lost(job: _Job, start: int, note: str) -> list[LoadSample]:
    """The samples a dead worker owed: failed, at their scheduled time (open) or the start."""
    if job.mode == "open":
        return [failed(start + offset, note) for offset in job.offsets_ns]
    return [failed(start, note) for _ in range(job.requests)]


# -- a batch's chats in worker processes --------------------------------------------------------

_Call = tuple[int, str, Sequence[Message], dict[str, Any]]  # (id, model, messages, chat kwargs)


def _chat_worker_main(conn: Connection, request: ChatRequest, index: int, threads: int) -> None:
    """A worker that runs chats as they come, up to `threads` at once, until told to stop."""
    # Ctrl-C reaches the whole process group; the parent decides what stops (a batch lets
    # the requests in flight finish and be written), so a worker never dies of it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    try:
        engine = request.engine()
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    gc.collect()
    gc.freeze()
    sending = threading.Lock()

    def reply(message: tuple[int, bool, Any]) -> None:
        with sending:
            conn.send(message)

    def serve(call: _Call) -> None:
        call_id, model, messages, kwargs = call
        try:
            # The engine's chat holds the collector off while it streams (gcpause.paused):
            # a batch runs for hours, so collections fall between chats, not never.
            m = engine.chat(model, messages, **kwargs)
        except Exception as exc:
            try:
                reply((call_id, False, exc))
            except Exception:  # an exception that does not pickle: its text does
                reply((call_id, False, RuntimeError(f"{type(exc).__name__}: {exc}")))
            return
        reply((call_id, True, m))

    try:
        conn.send(("ready", time.perf_counter_ns()))
        with ThreadPoolExecutor(threads, thread_name_prefix=f"chat-{index}") as pool:
            while (call := conn.recv()) is not None:
                pool.submit(serve, call)
    except (EOFError, BrokenPipeError, OSError):
        pass  # the parent went away
    finally:
        engine.close()


class _ChatWorker:
    """The parent's end of one chat worker: a pipe, and a thread that hands answers back."""

    def __init__(self, ctx: Any, request: ChatRequest, index: int, threads: int) -> None:
        self.index = index
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_chat_worker_main,
            args=(child, request, index, threads),
            daemon=True,
            name=f"chat-{index}",
        )
        self.process.start()
        child.close()
        if not self.conn.poll(STARTUP_TIMEOUT_S):
            self.close()
            raise RuntimeError(f"chat worker {index} did not start in time")
        try:
            kind, value = self.conn.recv()
        except EOFError:
            self.close()
            raise RuntimeError(f"chat worker {index} exited while starting") from None
        if kind == "error":
            self.close()
            raise RuntimeError(f"chat worker {index} could not start: {value}")
        self._lock = threading.Lock()
        self._pending: dict[int, Future[StreamMeasurement]] = {}
        self._ids = itertools.count()
        self._dead: str | None = None
        self._receiver = threading.Thread(
            target=self._receive, name=f"chat-{index}-rx", daemon=True
        )
        self._receiver.start()

    @property
    def alive(self) -> bool:
        return self._dead is None

    def submit(
        self, model: str, messages: Sequence[Message], kwargs: dict[str, Any]
    ) -> Future[StreamMeasurement]:
        future: Future[StreamMeasurement] = Future()
        with self._lock:
            if self._dead is not None:
                future.set_exception(RuntimeError(self._dead))
                return future
            call_id = next(self._ids)
            self._pending[call_id] = future
            try:
                self.conn.send((call_id, model, list(messages), kwargs))
            except OSError:
                del self._pending[call_id]
                future.set_exception(RuntimeError(f"chat worker {self.index} is gone"))
        return future

    def _receive(self) -> None:
        while True:
            try:
                call_id, ok, value = self.conn.recv()
            except (EOFError, OSError):
                break
            with self._lock:
                future = self._pending.pop(call_id, None)
            if future is not None:
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)
        # The worker died (or the pool closed): whatever it owed fails now, never hangs.
        self.process.join(1.0)
        note = f"chat worker {self.index} exited with code {self.process.exitcode}"
        with self._lock:
            self._dead = note
            owed, self._pending = list(self._pending.values()), {}
        for future in owed:
            future.set_exception(RuntimeError(note))

    def close(self, deadline: float | None = None) -> None:
        try:
            self.conn.send(None)
        except OSError:
            pass
        wait_s = STOP_TIMEOUT_S if deadline is None else max(0.0, deadline - time.monotonic())
        self.process.join(wait_s)
        if self.process.is_alive():
            self.process.kill()  # our own child, by its handle
            self.process.join(5.0)
        receiver = getattr(self, "_receiver", None)
        if receiver is not None:
            receiver.join(5.0)  # it reads the pipe until the worker's end closes
        self.conn.close()


class ChatPool(Closes):
    """`chat()` for many threads, run in `processes_for(streams)` worker processes.

    Each calling thread is bound to one worker (round robin, at most `per_process` threads
    a worker), so a worker serves a fixed set of streams as the load pool's do. `request`
    describes the engine (its model, options and prompt are the caller's, per call). A
    worker that dies fails its calls in flight with a RuntimeError naming its exit code
    (the batch records them as internal errors) and is replaced at the next call. There is
    no deadline on a call: a streamed answer may outlast any fixed bound, and the worker's
    engine applies its own timeouts (connect, and the longest silence while reading).
    """

    def __init__(
        self, request: ChatRequest, streams: int, per_process: int = STREAMS_PER_PROCESS
    ) -> None:
        self._ctx = multiprocessing.get_context("spawn")
        self.request, self.per_process = request, max(1, per_process)
        count = processes_for(streams, self.per_process)
        self._threads = math.ceil(max(1, streams) / count)  # each worker's share of streams
        self._workers = [_ChatWorker(self._ctx, request, i, self._threads) for i in range(count)]
        self._spawned = count
        self._lock = threading.Lock()
        self._next = itertools.count()
        self._bound = threading.local()

    @property
    def processes(self) -> int:
        return len(self._workers)

    def chat(self, model: str, messages: Sequence[Message], **kwargs: Any) -> StreamMeasurement:
        """Engine.chat's call, run in this thread's worker; raises what the engine raised."""
        slot = getattr(self._bound, "slot", None)
        if slot is None:
            slot = self._bound.slot = next(self._next) % len(self._workers)
        with self._lock:
            worker = self._workers[slot]
            if not worker.alive:
                worker.close()
                worker = _ChatWorker(self._ctx, self.request, self._spawned, self._threads)
                self._spawned += 1
                self._workers[slot] = worker
        return worker.submit(model, messages, kwargs).result()

    def close(self) -> None:
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for worker in self._workers:
            worker.close(deadline)
        self._workers = []
