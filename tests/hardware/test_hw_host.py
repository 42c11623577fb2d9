from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import psutil
import pytest

from harness.hardware.backends import host, procs
from harness.hardware.backends.host import HostBackend
from harness.hardware.backends.procfile import ProcFile
from harness.hardware.backends.procs import ServerProcessTracker, find_server_process


@pytest.fixture
def child() -> Iterator[subprocess.Popen[bytes]]:
    """A child of this process, standing in for a model runner under `ollama serve`."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_host_memory_swap_and_cpu() -> None:
    backend = HostBackend()
    first = backend.sample()
    total = first["host.ram_total_bytes"]
    assert first["host.ram_used_bytes"] + first["host.ram_available_bytes"] == total
    assert 0 < first["host.ram_percent"] < 100
    assert first["host.swap_used_bytes"] >= 0
    time.sleep(0.06)  # CPU percent needs two readings some time apart
    assert 0 <= backend.sample()["host.cpu_percent"] <= 100


def test_off_linux_the_readings_come_from_psutil(monkeypatch: pytest.MonkeyPatch) -> None:
    direct = HostBackend().sample()
    monkeypatch.setattr(host, "_MEMINFO", "/nonexistent/meminfo")
    via_psutil = HostBackend().sample()
    assert via_psutil["host.ram_total_bytes"] == direct["host.ram_total_bytes"]
    assert via_psutil["host.swap_total_bytes"] == direct["host.swap_total_bytes"]
    assert abs(via_psutil["host.ram_used_bytes"] - direct["host.ram_used_bytes"]) < 256 * 1024**2


def test_a_simulated_runs_host_is_labelled_as_the_harness_machine() -> None:
    backend = HostBackend(prefix="harness_host")
    assert backend.name == "harness_host"
    assert all(key.startswith("harness_host.") for key in backend.sample())


def test_the_server_is_found_by_the_port_it_listens_on(sim_server: Any) -> None:
    proc, how = find_server_process(sim_server.port)
    assert proc is not None
    assert proc.pid == os.getpid()
    assert how in {"port", "port-scan"}


def test_without_the_system_table_each_process_is_scanned(
    sim_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(kind: str = "inet") -> list[Any]:
        raise psutil.AccessDenied()

    monkeypatch.setattr(psutil, "net_connections", denied)
    proc, how = find_server_process(sim_server.port)
    assert (proc.pid if proc else None, how) == (os.getpid(), "port-scan")


def test_by_name_the_root_of_the_tree_wins(monkeypatch: pytest.MonkeyPatch, free_port: int) -> None:
    def fake(pid: int, ppid: int, name: str, created: float) -> Any:
        return SimpleNamespace(
            pid=pid, info={"name": name}, ppid=lambda: ppid, create_time=lambda: created
        )

    runner = fake(11, 10, "llama-server", 5.0)
    serve = fake(10, 1, "ollama", 9.0)
    other = fake(20, 1, "bash", 1.0)
    monkeypatch.setattr(procs, "_by_process_scan", lambda port: None)
    monkeypatch.setattr(psutil, "process_iter", lambda attrs=None: iter([runner, other, serve]))
    proc, how = find_server_process(free_port)
    assert (proc, how) == (serve, "name")


def test_no_server_is_a_reason(free_port: int) -> None:
    proc, why = find_server_process(free_port, names=("no-such-server-xyz",))
    assert proc is None
    assert f"port {free_port}" in why
    assert "no-such-server-xyz" in why
    tracker = ServerProcessTracker(free_port, names=("no-such-server-xyz",))
    tracker.locate()
    backend = HostBackend(tracker=tracker)
    assert not any(key.startswith("server.") for key in backend.sample())
    assert backend.details()["unavailable"] == {"server_process": why}


def test_the_server_and_all_its_children_are_summed_and_kept_per_process(
    sim_server: Any, child: subprocess.Popen[bytes]
) -> None:
    tracker = ServerProcessTracker(sim_server.port, full_info_interval_s=0.0)
    assert tracker.locate()
    values = tracker.sample()
    assert {os.getpid(), child.pid} <= tracker.pids()
    assert values["server.processes"] == len(tracker.pids())
    found = tracker.details()
    per_process = found["processes"]
    assert per_process[str(os.getpid())]["role"] == "server"
    assert per_process[str(child.pid)]["role"] == "child"
    assert values["server.rss_bytes"] == sum(p["rss_last_bytes"] for p in per_process.values())
    assert values["server.uss_bytes"] > 0
    assert found["found_by"] in {"port", "port-scan"}


def test_a_child_that_exits_leaves_the_tree(
    sim_server: Any, child: subprocess.Popen[bytes]
) -> None:
    tracker = ServerProcessTracker(sim_server.port, tree_interval_s=0.0)
    tracker.locate()
    before = tracker.sample()["server.processes"]
    child.kill()
    child.wait()
    assert tracker.sample()["server.processes"] == before - 1
    assert child.pid not in tracker.pids()


def test_a_server_that_exits_is_reported_not_crashed_on() -> None:
    code = (
        "import socket, sys, time\n"
        "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
        "print(s.getsockname()[1], flush=True); time.sleep(30)\n"
    )
    server = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        tracker = ServerProcessTracker(port, names=("no-such-server-xyz",))
        assert tracker.locate()
        assert tracker.root is not None
        assert tracker.root.pid == server.pid
        assert tracker.sample()["server.processes"] == 1
    finally:
        server.kill()
        server.wait()
        if server.stdout is not None:
            server.stdout.close()
    assert tracker.sample() == {}
    assert tracker.pids() == frozenset()
    assert tracker.details()["unavailable"] == {"server_process": "the server process exited"}


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="Linux /proc only")
def test_the_tree_is_read_from_proc_children_files(child: subprocess.Popen[bytes]) -> None:
    # The fast path must find what psutil's whole-machine scan finds, grandchildren included.
    grand = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys, time; "
         "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']); "
         "print(p.pid, flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert grand.stdout is not None
        grandchild = int(grand.stdout.readline())
        found = procs.linux_descendants(os.getpid())
        if found is None:
            pytest.skip("this kernel has no /proc/<pid>/task/<tid>/children files")
        expected = {p.pid for p in psutil.Process().children(recursive=True)}
        assert {child.pid, grand.pid, grandchild} <= set(found)
        assert set(found) == expected
    finally:
        for proc in psutil.Process(grand.pid).children(recursive=True):
            proc.kill()
        grand.kill()
        grand.wait()
        if grand.stdout is not None:
            grand.stdout.close()


def test_without_proc_children_files_psutil_walks_the_tree(
    monkeypatch: pytest.MonkeyPatch, child: subprocess.Popen[bytes], free_port: int
) -> None:
    monkeypatch.setattr(procs, "linux_descendants", lambda pid: None)
    tracker = ServerProcessTracker(free_port)
    tracker.root = psutil.Process()
    assert tracker.sample()["server.processes"] >= 2
    assert child.pid in tracker.pids()


def test_missing_pid_has_no_descendants() -> None:
    if not os.path.exists("/proc/self/task"):
        assert procs.linux_descendants(2**22 + 1) is None
    else:
        assert procs.linux_descendants(2**22 + 1) == []


def test_proc_file_rereads_grows_and_fails_cleanly(tmp_path: Any) -> None:
    path = tmp_path / "big"
    path.write_bytes(b"x" * 20_000)
    big = ProcFile(str(path))
    assert big.read() == b"x" * 20_000  # larger than the first buffer
    path.write_bytes(b"new")
    assert big.read() == b"new"  # read again from offset 0, through the same descriptor
    big.close()
    missing = ProcFile(str(tmp_path / "missing"))
    assert missing.read() is None
    assert missing.read() is None


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="Linux /proc only")
def test_cpu_times_from_proc_stat_match_psutils() -> None:
    total, idle = host._cpu_times(ProcFile("/proc/stat"))
    times = psutil.cpu_times()
    # Same fields, in clock ticks instead of seconds: the idle share agrees.
    assert idle / total == pytest.approx(host._idle(times) / sum(times), abs=0.01)
    fallback = host._cpu_times(ProcFile("/nonexistent/stat"))
    assert fallback[1] / fallback[0] == pytest.approx(idle / total, abs=0.01)


def test_closing_the_backend_closes_its_proc_files() -> None:
    backend = HostBackend()
    backend.sample()
    backend.close()
    assert backend._meminfo._fd is None
    assert backend._cpu._stat._fd is None


@pytest.mark.skipif(not procs.ProcStat.available(), reason="Linux /proc only")
def test_proc_stat_reads_the_rss_and_cpu_psutil_reads() -> None:
    spin = "import time\nend = time.time() + 20\nwhile time.time() < end: pass"
    busy = subprocess.Popen([sys.executable, "-c", spin])
    try:
        reader, proc = procs.ProcStat(busy.pid), psutil.Process(busy.pid)
        first = reader.read()
        proc.cpu_percent(None)
        assert first is not None
        assert first[1] == 0.0  # as psutil's first cpu_percent(): no interval yet
        time.sleep(0.5)
        found = reader.read()
        cpu = proc.cpu_percent(None)
        assert found is not None
        # Both over the same half second, in 10 ms ticks: a tick or two apart at most.
        assert found[1] == pytest.approx(cpu, abs=10.0)
        assert found[1] > 0.0
        assert found[0] == pytest.approx(proc.memory_info().rss, rel=0.05)
    finally:
        busy.kill()
        busy.wait()
    assert reader.read() is None  # gone: the kept descriptor fails, whatever reuses the pid
    reader.close()


def test_without_proc_stat_psutil_reads_the_tree(
    sim_server: Any, child: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(procs.ProcStat, "available", staticmethod(lambda: False))
    tracker = ServerProcessTracker(sim_server.port, tree_interval_s=0.0)
    assert tracker.locate()
    values = tracker.sample()
    assert values["server.processes"] == len(tracker.pids()) >= 2
    assert values["server.rss_bytes"] > 0
    child.kill()
    child.wait()
    assert tracker.sample()["server.processes"] == values["server.processes"] - 1


def test_closing_the_tracker_closes_its_proc_files(
    sim_server: Any, child: subprocess.Popen[bytes]
) -> None:
    tracker = ServerProcessTracker(sim_server.port)
    assert tracker.locate()
    backend = HostBackend(tracker=tracker)
    backend.sample()
    opened = [r for r in tracker._stat.values() if r is not None]
    assert len(opened) == (len(tracker.pids()) if procs.ProcStat.available() else 0)
    backend.close()
    assert tracker._stat == {}
    assert all(r._file._fd is None for r in opened)
