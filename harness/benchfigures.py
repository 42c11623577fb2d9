"""The harness's own benchmarks: one table of figures, saved and compared with the last run.

`make bench` gathers every benchmark's timing stats and `extra_info` into flat figures
(`"<test id> <figure>" -> number`), prints them as one table, compares them with the previous
`reports/bench/latest.json` (changes over 20% are listed: the harness's own regression check)
and then overwrites that file. Also here: a simulator in a child process, so that the client
under test does not share its GIL with the server it measures, and the arithmetic that
matches client arrivals against the simulator's write stamps.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from harness.stats import percentile

SCHEMA = "harness.bench/1"
THRESHOLD = 0.20  # a change larger than this, either way, is reported
# The box's load is context for the other figures, not a result that can regress.
UNCOMPARED = ("loadavg_1m",)


def flatten(prefix: str, value: Any, out: dict[str, float]) -> None:
    """Numeric leaves of nested mappings as `prefix.key` figures; text and bools are dropped."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            flatten(f"{prefix}.{key}" if prefix else str(key), item, out)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        out[prefix] = float(value)


def benchmark_figures(
    test_id: str, stats: Mapping[str, Any] | None, extra: Mapping[str, Any]
) -> dict[str, float]:
    """The figures of one benchmark: its mean/median (when timed) and its extra_info."""
    out: dict[str, float] = {}
    if stats:
        for key in ("mean", "median"):
            if isinstance(stats.get(key), int | float):
                out[f"{test_id} {key}_s"] = float(stats[key])
    flat: dict[str, float] = {}
    flatten("", extra, flat)
    out.update({f"{test_id} {key}": value for key, value in flat.items()})
    return out


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
    previous: Mapping[str, float], current: Mapping[str, float], threshold: float = THRESHOLD
) -> list[Change]:
    """Figures present in both runs whose relative change exceeds `threshold`."""
    changes = [
        Change(name, previous[name], value)
        for name, value in current.items()
        if name in previous and not name.endswith(UNCOMPARED)
    ]
    return [c for c in changes if abs(c.ratio) > threshold]


def machine() -> dict[str, Any]:
    """What the figures depend on: cores, CPU model, Python, and the load when they were taken."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


def load_previous(path: Path) -> dict[str, float]:
    """The figures of the last run, or none if there is no readable file."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(payload, dict):
        return {}
    out: dict[str, float] = {}
    for key in ("carried", "figures"):  # this run's own figures win over carried ones
        figures = payload.get(key)
        if isinstance(figures, dict):
            out.update({k: float(v) for k, v in figures.items() if isinstance(v, int | float)})
    return out


def save(
    path: Path,
    figures: Mapping[str, float],
    info: Mapping[str, Any],
    previous: Mapping[str, float] | None = None,
) -> None:
    """Write this run's figures; those of `previous` it did not measure go under `carried`.

    Carrying them keeps a partial run (`make bench` with `-k`) from erasing the baseline of
    the benchmarks it skipped.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    carried = {k: v for k, v in (previous or {}).items() if k not in figures}
    payload = {
        "schema": SCHEMA,
        "taken_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": dict(info),
        "figures": dict(sorted(figures.items())),
        "carried": dict(sorted(carried.items())),
    }
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")  # ignored like the file itself
    tmp.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)  # a crash mid-write must not destroy the previous baseline


def fmt_value(value: float | None) -> str:
    if value is None:
        return "-"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if abs(value) >= 1000:
        return f"{value:.0f}"
    return f"{value:.4g}"


def render(
    figures: Mapping[str, float], previous: Mapping[str, float], threshold: float = THRESHOLD
) -> list[str]:
    """Table lines: figure, value, previous value, and change (flagged `!` beyond threshold)."""
    rows = [("figure", "value", "previous", "change")]
    for name in sorted(figures):
        old = previous.get(name)
        change = ""
        if old is not None:
            ratio = Change(name, old, figures[name]).ratio
            flagged = abs(ratio) > threshold and not name.endswith(UNCOMPARED)
            change = f"{ratio:+.0%}" + (" !" if flagged else "")
        rows.append((name, fmt_value(figures[name]), fmt_value(old), change))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return [
        f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]}".rstrip()
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
