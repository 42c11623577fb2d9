"""The harness's own benchmarks: figures saved with the machine they were taken on.

`make bench` gathers every benchmark's timing stats and `extra_info` into figures, and with
them the conditions of that benchmark: CPU model, cores, Python, the load average just
before and just after it ran, and the share of the cores other processes took meanwhile. A
benchmark that started with the 1-minute load average above the core count, or beside other
processes taking over a quarter of the cores, is flagged `busy`: other work shared the cores,
so its figures say more about the box than about the harness and are not compared with
other runs. The run prints one table, compares it with the previous
`reports/bench/latest.json` (changes over 20% between comparable runs are listed: the
harness's own regression check) and overwrites that file.
`harness bench-table` (harness/devtools/benchtable.py) turns the file into the README's table.
Also here: a simulator in a child process, so that the client under test does not share its
GIL with the server it measures, and the arithmetic that matches client arrivals against the
simulator's write stamps.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import psutil

from harness.engines import arrival
from harness.engines.base import Message, StreamMeasurement
from harness.engines.http import LIMITS, Timeouts
from harness.engines.ollama import OllamaEngine
from harness.measure.stats import percentile

SCHEMA = "harness.bench/2"
THRESHOLD = 0.20  # a change larger than this, either way, is reported
# Above this many runnable processes per core (1-minute load average) before a benchmark, or
# with other processes taking more than this share of all cores' time while it ran, the
# benchmark shared its cores with other work: its figures are kept but flagged as not
# comparable. The load average after a benchmark is recorded, not judged: it counts the
# benchmark's own processes (64 streams' workers and the simulator lift it above 1 per core
# on 2 cores by themselves).
BUSY_LOAD_PER_CORE = 1.0
BUSY_OTHER_CPU_SHARE = 0.25


def flatten(prefix: str, value: Any, out: dict[str, float]) -> None:
    """Numeric leaves of nested mappings as `prefix.key` figures; text and bools are dropped."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            flatten(f"{prefix}.{key}" if prefix else str(key), item, out)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        out[prefix] = float(value)


def benchmark_figures(
    stats: Mapping[str, Any] | None, extra: Mapping[str, Any]
) -> dict[str, float]:
    """The figures of one benchmark: its mean/median (when timed) and its extra_info."""
    out: dict[str, float] = {}
    if stats:
        for key in ("mean", "median"):
            if isinstance(stats.get(key), int | float):
                out[f"{key}_s"] = float(stats[key])
    flatten("", extra, out)
    return out


# -- the machine and its load ------------------------------------------------------------------


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    """What every figure depends on besides the code: CPU model, cores, Python, platform."""
    return {
        "cpu": cpu_model(),
        "nproc": os.cpu_count() or 1,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def load_average() -> list[float]:
    """The 1, 5 and 15-minute load averages, rounded; [] where the OS has none."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def busy(nproc: int, load_before: Sequence[float], other_cpu_share: float | None = None) -> bool:
    """True when the 1-minute load average before exceeded the cores times BUSY_LOAD_PER_CORE,
    or other processes took more than BUSY_OTHER_CPU_SHARE of the cores meanwhile."""
    if load_before and load_before[0] > nproc * BUSY_LOAD_PER_CORE:
        return True
    return other_cpu_share is not None and other_cpu_share > BUSY_OTHER_CPU_SHARE


def _tree_cpu_s() -> float:
    """CPU seconds of this process and all its descendants, the finished ones included."""
    me = psutil.Process()
    total = 0.0
    for proc in [me, *me.children(recursive=True)]:
        try:
            t = proc.cpu_times()
        except psutil.Error:  # gone meanwhile: its time is in its parent's children_* now
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


def _machine_busy_s() -> float:
    """CPU seconds all cores spent on processes (and stolen by a hypervisor), interrupts aside.

    Interrupt time is left out: a benchmark's own loopback traffic is handled there, by no
    process, and would otherwise count as other work.
    """
    t = psutil.cpu_times()
    return float(t.user + t.nice + t.system + getattr(t, "steal", 0.0))


class OtherWork:
    """The share of all cores that processes outside this process tree took since built.

    The clocks are parameters so that a test can give the arithmetic known readings.
    """

    def __init__(
        self,
        wall: Callable[[], float] = time.perf_counter,
        machine_busy: Callable[[], float] = _machine_busy_s,
        own: Callable[[], float] = _tree_cpu_s,
        cpus: int | None = None,
    ) -> None:
        self._clocks = (wall, machine_busy, own)
        self._cpus = cpus or os.cpu_count() or 1
        self._start = tuple(clock() for clock in self._clocks)

    def share(self) -> float | None:
        wall, busy, own = (
            clock() - start for clock, start in zip(self._clocks, self._start, strict=True)
        )
        if wall <= 0:
            return None
        return round(max(0.0, busy - own) / (wall * self._cpus), 4)


@dataclass(frozen=True)
class Entry:
    """One benchmark's figures with the conditions they were taken in."""

    figures: dict[str, float]
    machine: dict[str, Any]
    load_before: list[float]
    load_after: list[float]
    taken_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    other_cpu_share: float | None = None  # None: not measured (entries saved before it was)

    @property
    def busy(self) -> bool:
        return busy(int(self.machine.get("nproc") or 1), self.load_before, self.other_cpu_share)

    def comparable_with(self, other: Entry) -> bool:
        """Both quiet, on the same CPU model and core count."""
        same = all(self.machine.get(k) == other.machine.get(k) for k in ("cpu", "nproc"))
        return same and not self.busy and not other.busy

    def to_json(self) -> dict[str, Any]:
        return {
            "taken_at": self.taken_at,
            "machine": self.machine,
            "load_before": self.load_before,
            "load_after": self.load_after,
            "other_cpu_share": self.other_cpu_share,
            "busy": self.busy,
            "figures": dict(sorted(self.figures.items())),
        }

    @classmethod
    def from_json(cls, data: Any) -> Entry | None:
        """An entry from latest.json, or None when its shape is not one `to_json` writes."""
        if not isinstance(data, dict) or not isinstance(data.get("figures"), dict):
            return None
        figures = {
            str(k): float(v)
            for k, v in data["figures"].items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        }
        loads = [data.get("load_before"), data.get("load_after")]
        before, after = (
            [float(x) for x in load] if isinstance(load, list) else [] for load in loads
        )
        info = data.get("machine")
        share = data.get("other_cpu_share")
        return cls(
            figures=figures,
            machine=dict(info) if isinstance(info, dict) else {},
            load_before=before,
            load_after=after,
            taken_at=str(data.get("taken_at", "")),
            other_cpu_share=float(share) if isinstance(share, int | float) else None,
        )


@dataclass(frozen=True)
class Change:
    figure: str
    previous: float
    current: float

    @property
    def ratio(self) -> float:
        """Relative change; +inf when a figure grew from zero."""
        if self.previous == 0:
            return 0.0 if self.current == 0 else float("inf")
        return (self.current - self.previous) / abs(self.previous)


def compare(
    previous: Mapping[str, Entry], current: Mapping[str, Entry], threshold: float = THRESHOLD
) -> tuple[list[Change], list[str]]:
    """Changes beyond `threshold` between comparable entries, and the benchmarks not compared.

    A benchmark is left out of the comparison (and named in the second list) when either
    run of it was busy or they ran on different CPUs: its change would measure the box.
    """
    changes: list[Change] = []
    skipped: list[str] = []
    for test_id, entry in sorted(current.items()):
        old = previous.get(test_id)
        if old is None:
            continue
        if not entry.comparable_with(old):
            skipped.append(test_id)
            continue
        for name, value in sorted(entry.figures.items()):
            if name in old.figures:
                change = Change(f"{test_id} {name}", old.figures[name], value)
                if abs(change.ratio) > threshold:
                    changes.append(change)
    return changes, skipped


def load_entries(path: Path) -> dict[str, Entry]:
    """The benchmarks of a saved run, or none if the file is missing, unreadable or older."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(payload, dict) or payload.get("schema") != SCHEMA:
        return {}
    benchmarks = payload.get("benchmarks")
    if not isinstance(benchmarks, dict):
        return {}
    return {
        str(test_id): entry
        for test_id, data in benchmarks.items()
        if (entry := Entry.from_json(data)) is not None
    }


def existing_benchmarks(
    items: Iterable[tuple[Path, str]], directory: Path
) -> frozenset[str] | None:
    """The names of every benchmark there is, from the collected (path, name) of a run's
    items before `-k`/`-m` deselected any; None when the run did not collect every
    `test_*.py` of `directory` (one file named on the command line), so it cannot tell."""
    found = [(path, name) for path, name in items if path.parent == directory]
    files = set(directory.glob("test_*.py"))
    if not files or not files <= {path for path, _ in found}:
        return None
    return frozenset(name for _, name in found)


def save(
    path: Path,
    entries: Mapping[str, Entry],
    info: Mapping[str, Any],
    previous: Mapping[str, Entry] | None = None,
    existing: frozenset[str] | None = None,
) -> list[str]:
    """Write this run's entries, keeping those of `previous` it did not run (`carried`);
    return the names of the previous entries it dropped.

    Carrying them keeps a partial run (`make bench` with `-k`) from erasing the baseline of
    the benchmarks it skipped; each keeps its own machine, load and date. An entry of a
    benchmark that no longer exists (not in `existing`, when the run knows them all) is
    dropped, or the README's table would show a figure nothing measures any more.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    unrun = {k: v for k, v in (previous or {}).items() if k not in entries}
    carried = {k: v for k, v in unrun.items() if existing is None or k in existing}
    merged = {**carried, **entries}
    payload = {
        "schema": SCHEMA,
        "taken_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": dict(info),
        "carried": sorted(carried),
        "benchmarks": {k: merged[k].to_json() for k in sorted(merged)},
    }
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")  # ignored like the file itself
    tmp.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)  # a crash mid-write must not destroy the previous baseline
    return sorted(set(unrun) - set(carried))


def fmt_value(value: float | None) -> str:
    if value is None:
        return "-"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if abs(value) >= 1000:
        return f"{value:.0f}"
    return f"{value:.4g}"


def fmt_load(load: Sequence[float]) -> str:
    return "/".join(f"{x:.2f}" for x in load) if load else "unknown"


def render(
    current: Mapping[str, Entry], previous: Mapping[str, Entry], threshold: float = THRESHOLD
) -> list[str]:
    """Table lines: figure, value, previous value, change (`!` beyond threshold), and note.

    The note says `busy` for a figure taken on a busy machine, and `not compared` when the
    previous value was taken on a busy or different machine.
    """
    rows = [("figure", "value", "previous", "change", "note")]
    for test_id in sorted(current):
        entry, old = current[test_id], previous.get(test_id)
        comparable = old is not None and entry.comparable_with(old)
        note = "busy: not comparable" if entry.busy else ""
        if old is not None and not comparable and not entry.busy:
            note = "previous run not comparable"
        for name in sorted(entry.figures):
            value = entry.figures[name]
            before = old.figures.get(name) if old is not None else None
            change = ""
            if before is not None and comparable:
                ratio = Change(name, before, value).ratio
                change = f"{ratio:+.0%}" + (" !" if abs(ratio) > threshold else "")
            rows.append((f"{test_id} {name}", fmt_value(value), fmt_value(before), change, note))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return [
        f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:>{widths[2]}}  "
        f"{r[3]:<{widths[3]}}  {r[4]}".rstrip()
        for r in rows
    ]


# -- timing against the simulator's ground truth ---------------------------------------------


@dataclass(frozen=True)
class TimingErrors:
    """Client-minus-server differences in ns on the shared monotonic clock."""

    ttft: list[int]  # client first content arrival - server first content write
    send: list[int]  # server receipt - client send
    itl: list[int]  # per content chunk: client arrival - server write
    unmatched: int  # requests whose chunk counts differed (left out)

    @classmethod
    def join(cls, parts: Iterable[TimingErrors]) -> TimingErrors:
        """The differences of several runs, as one (their percentiles over all samples)."""
        runs = list(parts)
        return cls(
            ttft=[x for r in runs for x in r.ttft],
            send=[x for r in runs for x in r.send],
            itl=[x for r in runs for x in r.itl],
            unmatched=sum(r.unmatched for r in runs),
        )

    @property
    def ttft_total(self) -> list[int]:
        """Client TTFT - server TTFT: all the harness adds to one TTFT figure (both ends)."""
        return [t + s for t, s in zip(self.ttft, self.send, strict=True)]

    def summary(self, prefix: str = "") -> dict[str, float]:
        """p50/p99 (in ms) of each list, for extra_info."""
        out: dict[str, float] = {}
        for name, values in (("ttft_error", self.ttft), ("send_latency", self.send),
                             ("ttft_total_error", self.ttft_total),
                             ("itl_error", self.itl)):  # fmt: skip
            if values:
                for q in (50, 99):
                    out[f"{prefix}{name}_p{q}_ms"] = round(percentile(values, q) / 1e6, 4)
        out[f"{prefix}samples"] = len(self.ttft)
        out[f"{prefix}unmatched"] = self.unmatched
        return out


def timing_errors(
    pairs: Iterable[tuple[int, int | None, Sequence[int], Mapping[str, Any]]],
) -> TimingErrors:
    """Match (sent_ns, first_content_ns, chunk_ns) of the client with a timeline record.

    Chunks are matched by index, so a request counts only when both sides saw the same
    number of content chunks; anything else would compare unrelated chunks.
    """
    ttft: list[int] = []
    send: list[int] = []
    itl: list[int] = []
    unmatched = 0
    for sent, first, chunks, record in pairs:
        server_chunks = record["chunk_ns"]
        if first is None or record["first_content_ns"] is None or len(chunks) != len(server_chunks):
            unmatched += 1
            continue
        ttft.append(first - record["first_content_ns"])
        send.append(record["received_ns"] - sent)
        itl.extend(c - s for c, s in zip(chunks, server_chunks, strict=True))
    return TimingErrors(ttft, send, itl, unmatched)


def serve_sim(conn: Connection, kwargs: dict[str, Any]) -> None:
    """Child-process entry: run a SimServer, answer "timeline" and "stop" over `conn`.

    perf_counter_ns is CLOCK_MONOTONIC on Linux, shared by all processes, so the child's
    stamps compare with the parent's; a separate process keeps the server's threads off the
    client's GIL, which would otherwise be counted as the harness's own overhead.
    """
    from harness.sim.server import SimServer

    server = SimServer(**kwargs)
    server.start()
    # No collection in the ground truth either: a pause between a write and its stamp would
    # make the server's stamp late and the client's error look smaller than it is. The child
    # lives for one benchmark, so what it does not collect stays small.
    gc.collect()
    gc.freeze()
    gc.disable()
    conn.send(server.url)
    try:
        while True:
            command = conn.recv()
            if command == "timeline":
                conn.send(server.timeline())
            else:
                break
    finally:
        server.stop()
        conn.send(None)


# -- an engine that knows which simulator request it measured ---------------------------------


class _RequestIds(httpx.BaseTransport):
    """Keeps the X-Sim-Request-Id of the last response each thread received; no per-chunk work.

    Around the engines' own transport (their pool limits, the kernel's receive stamps), so
    that what is benchmarked is what a sweep measures with.
    """

    def __init__(self) -> None:
        self._inner = arrival.transport(LIMITS)
        self.last = threading.local()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        self.last.id = response.headers.get("x-sim-request-id")
        return response

    def close(self) -> None:
        self._inner.close()


@dataclass(frozen=True)
class TracedMeasurement(StreamMeasurement):
    server_id: str | None = None


class TracedOllama(OllamaEngine):
    """OllamaEngine whose measurements carry the simulator's request id (`server_id`).

    The load generator copies it into each LoadSample, so the benchmarks match a sample made in a
    worker process with the simulator's timeline record of the same request.
    """

    def __init__(self, base_url: str, timeouts: Timeouts | None = None) -> None:
        self._ids = _RequestIds()
        super().__init__(base_url, timeouts, transport=self._ids)

    def chat(self, model: str, messages: Sequence[Message], **kwargs: Any) -> StreamMeasurement:
        m = super().chat(model, messages, **kwargs)
        values = {f.name: getattr(m, f.name) for f in fields(m)}
        return TracedMeasurement(**values, server_id=getattr(self._ids.last, "id", None))
