"""Finding the model server's process and following its tree of runner children.

Ollama's `serve` process listens on the port, but each loaded model runs in a child
(`ollama runner` or `llama-server`) whose memory grows with the context, so the numbers
that matter are the sum over the whole tree, kept per process as well.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import psutil

from harness.hardware.backends.procfile import ProcFile

SERVER_NAMES: tuple[str, ...] = ("ollama", "llama-server")
# Looking for a server that is not there scans every process's sockets: not every tick.
RELOCATE_INTERVAL_S = 5.0
_GONE = (psutil.NoSuchProcess, psutil.ZombieProcess)


def _listens_on(conns: Iterable[Any], port: int) -> bool:
    return any(c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port for c in conns)


def _by_system_table(port: int) -> psutil.Process | None:
    # Needs privileges on some platforms (macOS) and gives pid=None for processes of
    # other users or namespaces on Linux; the per-process scan below covers those.
    try:
        conns = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:
        return None
    for conn in conns:
        if conn.pid and _listens_on([conn], port):
            try:
                return psutil.Process(conn.pid)
            except _GONE:
                return None
    return None


def _by_process_scan(port: int) -> psutil.Process | None:
    for proc in psutil.process_iter():
        try:
            if _listens_on(proc.net_connections(kind="tcp"), port):
                return proc
        except (psutil.AccessDenied, *_GONE):
            continue
    return None


def _base_name(name: str) -> str:
    lowered = name.lower()
    return lowered.removesuffix(".exe")


def _by_name(names: tuple[str, ...]) -> psutil.Process | None:
    matches: list[psutil.Process] = []
    for proc in psutil.process_iter(["name"]):
        if _base_name(proc.info["name"] or "") in names:
            matches.append(proc)
    pids = {p.pid for p in matches}
    # The root of the tree is `ollama serve`; its runners match the name too.
    roots = [p for p in matches if _safe_ppid(p) not in pids]
    return min(roots, key=_safe_create_time) if roots else None


def _safe_ppid(proc: psutil.Process) -> int | None:
    try:
        return proc.ppid()
    except (psutil.AccessDenied, *_GONE):
        return None


def _safe_create_time(proc: psutil.Process) -> float:
    try:
        return proc.create_time()
    except (psutil.AccessDenied, *_GONE):
        return float("inf")


def find_server_process(
    port: int | None, names: tuple[str, ...] = SERVER_NAMES
) -> tuple[psutil.Process | None, str]:
    """(process, how it was found) or (None, why not).

    Tries the system's connection table, then each process's own connections, then the
    process name; "how" is "port", "port-scan" or "name".
    """
    if port is not None:
        proc = _by_system_table(port)
        if proc is not None:
            return proc, "port"
        proc = _by_process_scan(port)
        if proc is not None:
            return proc, "port-scan"
    proc = _by_name(names)
    if proc is not None:
        return proc, "name"
    where = f"listens on port {port}" if port is not None else "was given a port"
    return None, (
        f"no process {where} (system table and per-process scan) and none is named "
        f"{' or '.join(names)}"
    )


@dataclass
class ProcStats:
    """What one process of the server tree did while sampled (bytes, percent of a core)."""

    pid: int
    name: str
    cmdline: str
    role: str
    rss_first_bytes: int = 0
    rss_last_bytes: int = 0
    rss_peak_bytes: int = 0
    uss_peak_bytes: int | None = None
    pss_peak_bytes: int | None = None
    cpu_percent_peak: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def linux_descendants(pid: int) -> list[int] | None:
    """The pids below `pid`, from /proc/<pid>/task/<tid>/children; None where unavailable.

    A few small reads per process of the tree, where psutil's `children(recursive=True)`
    reads the stat file of every process on the machine to build its parent map: 2.7 ms a
    call on a box of 150 processes, most of the sampler's CPU time at one call a second.
    The files need CONFIG_PROC_CHILDREN (on in the common distribution kernels); a child
    that forks or exits during the walk is picked up at the next refresh.
    """
    found: list[int] = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        try:
            tids = os.listdir(f"/proc/{parent}/task")
        except FileNotFoundError:
            if parent == pid:
                return None if not os.path.isdir("/proc/self/task") else []
            continue  # a child that exited mid-walk
        except OSError:
            return None
        for tid in tids:
            try:
                with open(f"/proc/{parent}/task/{tid}/children", "rb") as handle:
                    children = [int(c) for c in handle.read().split()]
            except FileNotFoundError:
                if not os.path.exists(f"/proc/{parent}/task/{tid}"):
                    continue  # the thread ended mid-walk
                return None  # the kernel has no children files
            except OSError:
                return None
            found.extend(children)
            pending.extend(children)
    return found


def _sysconf(name: str) -> int | None:
    try:
        return int(os.sysconf(name)) if hasattr(os, "sysconf") else None
    except (ValueError, OSError):
        return None


_CLOCK_TICKS = _sysconf("SC_CLK_TCK")
_PAGE_BYTES = _sysconf("SC_PAGE_SIZE")


class ProcStat:
    """RSS and CPU percent of one process from its /proc/<pid>/stat, kept open (Linux).

    One pread where psutil's oneshot() + memory_info() + cpu_percent() read two files and
    spend ~40 us of Python a process (about half the host backend's reading at 10 Hz). The
    descriptor belongs to that process: once it exits, reads fail, even if its pid is
    reused. `read()` is None when the process is gone (or the file cannot be read); the
    first reading's CPU percent is 0.0, as psutil's first cpu_percent() is.
    """

    def __init__(self, pid: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._file = ProcFile(f"/proc/{pid}/stat")
        self._clock = clock
        self._last: tuple[float, int] | None = None

    @staticmethod
    def available() -> bool:
        return _CLOCK_TICKS is not None and _PAGE_BYTES is not None and os.path.isdir("/proc/self")

    def read(self) -> tuple[int, float] | None:
        """(rss bytes, CPU percent of one core since the last reading), or None if gone."""
        data = self._file.read()
        now = self._clock()
        if data is None or _CLOCK_TICKS is None or _PAGE_BYTES is None:
            return None
        # The command name (field 2) may hold spaces and parentheses: split after its last ")".
        fields = data[data.rindex(b")") + 2 :].split()
        if fields[0] in (b"Z", b"X"):  # a zombie, as psutil's ZombieProcess: gone
            return None
        ticks = int(fields[11]) + int(fields[12])  # utime + stime (fields 14 and 15)
        rss = int(fields[21]) * _PAGE_BYTES  # field 24, in pages
        cpu = 0.0
        if self._last is not None and now > self._last[0]:
            cpu = 100.0 * (ticks - self._last[1]) / _CLOCK_TICKS / (now - self._last[0])
        self._last = (now, ticks)
        return rss, max(0.0, cpu)

    def close(self) -> None:
        self._file.close()


def _describe(proc: psutil.Process) -> tuple[str, str]:
    try:
        name = proc.name()
        cmdline = " ".join(proc.cmdline()[:4])[:200]
    except (psutil.AccessDenied, *_GONE):
        return "?", ""
    return name, cmdline


class ServerProcessTracker:
    """Follows the server process and all its children; sums and keeps per-process numbers.

    The tree is re-walked every `tree_interval_s` (children(recursive=True) reads every
    process's parent) and USS/PSS read every `full_info_interval_s` (memory_full_info
    reads smaps, slow for a process that maps a many-GB model). Used from the host
    backend's thread; `pids()` may be read from any thread.
    """

    def __init__(
        self,
        port: int | None,
        *,
        names: tuple[str, ...] = SERVER_NAMES,
        tree_interval_s: float = 1.0,
        full_info_interval_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.port = port
        self.names = names
        self.tree_interval_s = tree_interval_s
        self.full_info_interval_s = full_info_interval_s
        self._clock = clock
        self.root: psutil.Process | None = None
        self.found_by: str | None = None
        self.reason: str | None = "not located yet"
        self._procs: dict[int, psutil.Process] = {}
        # Linux: the fast reading of rss and CPU; None for a process only psutil can read.
        self._stat: dict[int, ProcStat | None] = {}
        self._fast = ProcStat.available()
        self._stats: dict[int, ProcStats] = {}
        self._pids: frozenset[int] = frozenset()
        self._lock = threading.Lock()
        self._next_tree = 0.0
        self._next_full = 0.0
        self._next_locate = 0.0

    def locate(self) -> bool:
        """Find the server's root process; True when found."""
        self._next_locate = self._clock() + RELOCATE_INTERVAL_S
        proc, how = find_server_process(self.port, self.names)
        if proc is None:
            self.root, self.found_by, self.reason = None, None, how
            return False
        self.root, self.found_by, self.reason = proc, how, None
        self._next_tree = 0.0
        return True

    def pids(self) -> frozenset[int]:
        with self._lock:
            return self._pids

    def sample(self) -> dict[str, float]:
        """server.* metrics of the whole tree, or {} while no server process is known."""
        now = self._clock()
        if self.root is None and (now < self._next_locate or not self.locate()):
            return {}
        if now >= self._next_tree:
            self._refresh_tree()
            self._next_tree = now + self.tree_interval_s
        full = now >= self._next_full
        if full:
            self._next_full = now + self.full_info_interval_s
        return self._read_tree(full) if self.root is not None else {}

    def _lost_root(self) -> None:
        # The server exited or restarted; look for it again on a later reading.
        self.root, self.found_by, self.reason = None, None, "the server process exited"
        self._procs = {}
        self._close_stats(set())
        with self._lock:
            self._pids = frozenset()

    def _close_stats(self, keep: set[int]) -> None:
        for pid in [p for p in self._stat if p not in keep]:
            reader = self._stat.pop(pid)
            if reader is not None:
                reader.close()

    def close(self) -> None:
        """Close the /proc files kept open between readings."""
        self._close_stats(set())

    def _refresh_tree(self) -> None:
        assert self.root is not None
        tree = self._walk(self.root)
        if tree is None:
            self._lost_root()
            return
        current: dict[int, psutil.Process] = {}
        for pid in tree:
            # Keep the old Process object: cpu_percent() measures from its last call.
            known = self._procs.get(pid)
            if known is None:
                try:
                    root = self.root if pid == self.root.pid else None
                    known = self._adopt(root or psutil.Process(pid))
                except _GONE:
                    continue  # exited between the walk and now
                except psutil.AccessDenied:
                    continue
            current[pid] = known
        self._procs = current
        self._close_stats(set(current))
        with self._lock:
            self._pids = frozenset(current)

    def _walk(self, root: psutil.Process) -> list[int] | None:
        """The pids of the tree, root first; None when the root is gone."""
        if not root.is_running():
            return None
        below = linux_descendants(root.pid)
        if below is not None:
            return [root.pid, *below]
        try:
            return [root.pid, *(p.pid for p in root.children(recursive=True))]
        except _GONE:
            return None
        except psutil.AccessDenied:
            return [root.pid]

    def _adopt(self, proc: psutil.Process) -> psutil.Process:
        try:
            proc.cpu_percent(None)  # primes the counter; the first call always says 0.0
        except (psutil.AccessDenied, *_GONE):
            pass
        if proc.pid not in self._stats:
            name, cmdline = _describe(proc)
            role = "server" if self.root is not None and proc.pid == self.root.pid else "child"
            self._stats[proc.pid] = ProcStats(proc.pid, name, cmdline, role)
        return proc

    def _read_tree(self, full: bool) -> dict[str, float]:
        rss = uss = pss = 0
        cpu = 0.0
        alive = 0
        for pid, proc in list(self._procs.items()):
            try:
                one_rss, one_cpu = self._rss_cpu(pid, proc)
                mem_full = proc.memory_full_info() if full else None
            except _GONE:
                del self._procs[pid]
                self._close_stats(set(self._procs))
                if self.root is not None and pid == self.root.pid:
                    self._lost_root()
                    return {}
                continue
            except psutil.AccessDenied:
                continue
            alive += 1
            stats = self._stats[pid]
            rss += one_rss
            cpu += one_cpu
            self._update(stats, one_rss, one_cpu)
            if mem_full is not None:
                one_uss, one_pss = self._update_full(stats, mem_full)
                uss += one_uss
                pss += one_pss
        values: dict[str, float] = {
            "server.rss_bytes": rss,
            "server.cpu_percent": cpu,
            "server.processes": alive,
        }
        if full and alive:
            values["server.uss_bytes"] = uss
            if pss:
                values["server.pss_bytes"] = pss
        return values

    def _rss_cpu(self, pid: int, proc: psutil.Process) -> tuple[int, float]:
        """RSS bytes and CPU percent of one process: from /proc/<pid>/stat where it can be
        read, else psutil's. Raises psutil's NoSuchProcess when the process is gone."""
        if self._fast and (pid not in self._stat or self._stat[pid] is not None):
            reader = self._stat.get(pid) or ProcStat(pid)
            self._stat[pid] = reader
            found = reader.read()
            if found is not None:
                return found
            reader.close()
            if not proc.is_running():
                raise psutil.NoSuchProcess(pid)
            self._stat[pid] = None  # readable through psutil only (AccessDenied raises there)
        with proc.oneshot():
            return proc.memory_info().rss, proc.cpu_percent(None)

    @staticmethod
    def _update(stats: ProcStats, rss: int, cpu: float) -> None:
        if stats.rss_first_bytes == 0:
            stats.rss_first_bytes = rss
        stats.rss_last_bytes = rss
        stats.rss_peak_bytes = max(stats.rss_peak_bytes, rss)
        stats.cpu_percent_peak = max(stats.cpu_percent_peak, round(cpu, 1))

    @staticmethod
    def _update_full(stats: ProcStats, mem_full: Any) -> tuple[int, int]:
        # USS exists on Linux, macOS and Windows; PSS on Linux only.
        uss = int(getattr(mem_full, "uss", 0))
        pss = int(getattr(mem_full, "pss", 0))
        stats.uss_peak_bytes = max(stats.uss_peak_bytes or 0, uss)
        if pss:
            stats.pss_peak_bytes = max(stats.pss_peak_bytes or 0, pss)
        return uss, pss

    def details(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "port": self.port,
            "pid": self.root.pid if self.root is not None else None,
            "found_by": self.found_by,
            "processes": {str(pid): s.as_dict() for pid, s in sorted(self._stats.items())},
        }
        if self.root is None:
            found["unavailable"] = {"server_process": self.reason}
        return found
