from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

import harness.cli
from tests.batch.fakes import read_out


def main(argv: list[str]) -> int:
    return harness.cli.main(argv)


def test_run_against_the_simulator_with_faults_retries_and_analyzes(
    write_batch: Callable[[int], Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.jsonl"
    code = main([
        "batch", "run", str(write_batch(40)), "--model", "qwen2.5:3b-instruct", "--out", str(out),
        "--engine", "sim", "--sim-speed", "50", "--sim-faults", "disconnect=0.05,seed=3",
        "--retry-delay", "0.001", "--strategy", "conversation", "--trim-interval", "10",
        "--concurrency", "2",
    ])  # fmt: skip
    assert code == 0
    records = read_out(out)
    assert sorted(r["custom_id"] for r in records) == sorted(f"c{i}" for i in range(40))
    assert all(r["error"] is None for r in records)
    assert any(r["harness"]["attempts"] > 1 for r in records)  # disconnects were retried
    err = capsys.readouterr().err
    assert "batch finished: 40 ok" in err
    assert main(["batch", "analyze", str(out), "--json"]) == 0
    analysis = json.loads(capsys.readouterr().out)
    assert analysis["succeeded"] == 40
    assert analysis["duplicates"] == 0
    assert analysis["trims"]["count"] == 2  # turns 20 and 30: at 10 there were < 40 messages
    assert set(analysis["latency_s"]) >= {"p50", "p90", "p99"}


def test_worker_processes_send_the_requests_and_every_one_is_recorded(
    write_batch: Callable[[int], Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.jsonl"
    code = main([
        "batch", "run", str(write_batch(40)), "--model", "qwen2.5:3b-instruct", "--out", str(out),
        "--engine", "sim", "--sim-speed", "50", "--strategy", "conversation",
        "--concurrency", "10", "--worker-processes",
    ])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    records = read_out(out)
    assert sorted(r["custom_id"] for r in records) == sorted(f"c{i}" for i in range(40))
    assert all(r["error"] is None and r["harness"]["ttft_s"] > 0 for r in records)
    assert "batch finished: 40 ok" in capsys.readouterr().err


def test_bad_input_is_a_config_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.jsonl"
    assert main(["batch", "run", str(missing), "--out", str(tmp_path / "o")]) == 2
    assert f"batch input {str(missing)!r} is not a file" in capsys.readouterr().err


def test_unreachable_server_says_what_to_do(
    write_batch: Callable[[int], Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["batch", "run", str(write_batch(1)), "--out", str(tmp_path / "o"),
            "--server", "http://127.0.0.1:9"]  # fmt: skip
    assert main(args) == 3  # a network fault, not bad input (2)
    err = capsys.readouterr().err
    assert "no ollama server answers at http://127.0.0.1:9" in err
    assert "--engine sim" in err


def test_a_resumed_run_counts_the_error_records_already_in_its_output(
    write_batch: Callable[[int], Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = write_batch(2)
    batch.write_text(batch.read_text() + "{not json\n")
    args = ["batch", "run", str(batch), "--out", str(tmp_path / "o.jsonl"), "--engine", "sim",
            "--sim-speed", "100", "--model", "gemma3:4b"]  # fmt: skip
    assert main(args) == 1
    assert "2 ok, 0 failed, 1 invalid" in capsys.readouterr().err
    assert main(args) == 1  # nothing left to run, but the invalid line is still not done right
    err = capsys.readouterr().err
    assert "0 ok, 0 failed, 0 invalid, 2 already done" in err
    assert "errors: none" not in err
    assert "from earlier runs" in err


def test_from_csv_builds_batch_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_path = tmp_path / "people.csv"
    csv_path.write_text('id,name,skills\n7,Ada,math\n8,Alan,"logic, crypto"\n')
    system = tmp_path / "system.txt"
    system.write_text("Score 1-10.\n")
    out = tmp_path / "batch.jsonl"
    code = main([
        "batch", "from-csv", str(csv_path), "--system-prompt", str(system),
        "--template", "{name} knows {skills}", "--out", str(out), "--model", "m",
    ])  # fmt: skip
    assert code == 0
    lines = read_out(out)
    assert [line["custom_id"] for line in lines] == ["7", "8"]
    assert lines[1]["body"]["messages"] == [
        {"role": "system", "content": "Score 1-10."},
        {"role": "user", "content": "Alan knows logic, crypto"},
    ]
    assert lines[0]["body"]["model"] == "m"
    shown = capsys.readouterr().out
    assert "conversation growth (estimated, 2 requests)" in shown
    assert "harness batch run batch.jsonl" in shown


def test_from_csv_names_a_missing_column_and_the_header(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_path = tmp_path / "people.csv"
    csv_path.write_text("id,name\n1,Ada\n")
    system = tmp_path / "s.txt"
    system.write_text("x")
    code = main(["batch", "from-csv", str(csv_path), "--system-prompt", str(system),
                 "--template", "{name} {skill}", "--out", str(tmp_path / "o.jsonl")])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "{skill} is not in people.csv" in err
    assert "header is: id, name" in err


# `python -m harness.batch.cli`, with SIGINT's default action first, as a terminal's Ctrl-C
# finds it. A test session started as a background job (`cmd &` in a script, as a CI run may
# be) ignores SIGINT, children inherit that, and the harness keeps an ignored SIGINT ignored
# (harness/interrupt.py): the batch then ran to the end and exited 0. Not preexec_fn: the
# simulator's threads run in this process.
_AS_AT_A_TERMINAL = (
    "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "runpy.run_module('harness.batch.cli', run_name='__main__', alter_sys=True)"
)


def _launch(src: Path, out: Path, url: str, *extra: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-c", _AS_AT_A_TERMINAL, "run", str(src), "--out", str(out),
           "--model", "qwen2.5:3b-instruct", "--server", url, "--concurrency", "2",
           *extra]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_for_lines(out: Path, n: int, proc: subprocess.Popen[bytes]) -> bool:
    """Whether `out` reached `n` lines while `proc` ran (a liveness wait, not a verdict)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and out.read_bytes().count(b"\n") >= n:
            return True
        time.sleep(0.005)
    return False


def test_sigkill_then_resume_runs_every_request_exactly_once(
    write_batch: Callable[[int], Path], tmp_path: Path, sim_url: str
) -> None:
    src, out = write_batch(300), tmp_path / "out.jsonl"
    for kill_after in (20, 120):
        proc = _launch(src, out, sim_url)
        _wait_for_lines(out, kill_after, proc)
        proc.kill()
        proc.communicate()  # also closes the stderr pipe
        assert proc.returncode == -signal.SIGKILL
    proc = _launch(src, out, sim_url)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    counts = Counter(r["custom_id"] for r in read_out(out))
    assert set(counts) == {f"c{i}" for i in range(300)}
    assert set(counts.values()) == {1}


@pytest.mark.skipif(os.name != "posix", reason="SIGINT delivery to a child is POSIX here")
@pytest.mark.parametrize("extra", [(), ("--concurrency", "10", "--worker-processes")])
def test_ctrl_c_stops_cleanly_with_a_summary(
    write_batch: Callable[[int], Path], tmp_path: Path, sim_url: str, extra: tuple[str, ...]
) -> None:
    src, out = write_batch(2000), tmp_path / "out.jsonl"
    proc = _launch(src, out, sim_url, *extra)
    # Ctrl-C is sent mid-run, not during start-up (tests/test_interrupt.py covers that).
    assert _wait_for_lines(out, 30, proc), f"no 30 results in 30 s; exit {proc.poll()}"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert b"batch interrupted" in err
    assert b"run the same command again to resume" in err
    records = read_out(out)  # no torn line: requests in flight finished and were written
    assert 30 <= len(records) < 2000
    assert len({r["custom_id"] for r in records}) == len(records)
