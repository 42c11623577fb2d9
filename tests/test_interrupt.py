"""Ctrl-C at any moment: one line, exit code 130, no traceback (harness/interrupt.py).

SIGINT is sent by the process to itself at a chosen point, so the moment is exact. The child
gets the default SIGINT action even if this test runs where SIGINT is ignored (a background
job), since Python only installs its handler, and the harness only replaces it, then.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

KILL_SELF = "import os, signal; os.kill(os.getpid(), signal.SIGINT)"


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _no_traceback(done: subprocess.CompletedProcess[str]) -> None:
    out = done.stdout + done.stderr
    assert "Traceback" not in out
    assert "KeyboardInterrupt" not in out


def test_during_a_test_session(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_slow=f"import time\n\ndef test_slow():\n    {KILL_SELF}\n    time.sleep(30)\n"
    )
    done = _run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider"], pytester.path)
    assert done.returncode == 130, done.stdout + done.stderr
    assert "harness.interrupt.Interrupted: Ctrl-C" in done.stdout
    _no_traceback(done)


def test_while_pytest_loads_conftests(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(f"{KILL_SELF}\nimport time\ntime.sleep(30)\n")
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    done = _run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider"], pytester.path)
    assert done.returncode == 130, done.stdout + done.stderr
    assert done.stderr.strip() == "harness: interrupted"
    _no_traceback(done)


def test_while_the_command_starts(tmp_path: Path) -> None:
    code = f"import harness.cli\n{KILL_SELF}\nimport time\ntime.sleep(30)\n"
    done = _run([sys.executable, "-c", code], tmp_path)
    assert done.returncode == 130
    assert done.stderr.strip() == "harness: interrupted"
    _no_traceback(done)


def test_during_a_command(tmp_path: Path) -> None:
    # A slow simulator: Ctrl-C arrives while it starts or while the batch runs; either way
    # the batch's own message or the command's one line ends the output.
    code = (
        "import threading, os, signal, sys\n"
        "from harness.cli import main\n"
        "threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT)).start()\n"
        "sys.exit(main(['batch', 'run', 'in.jsonl', '--out', 'out.jsonl', '--engine', 'sim',"
        " '--sim-speed', '0.05', '--model', 'gemma3:4b']))\n"
    )
    # Valid OpenAI batch lines, so the batch is still running at the slow simulator's pace
    # when Ctrl-C comes (lines without `url` were all invalid and finished at once).
    line = (
        '{"custom_id": "r%d", "method": "POST", "url": "/v1/chat/completions", '
        '"body": {"messages": [{"role": "user", "content": "hi"}]}}\n'
    )
    (tmp_path / "in.jsonl").write_text("".join(line % i for i in range(50)))
    done = _run([sys.executable, "-c", code], tmp_path)
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip().splitlines()[-1] in (
        "harness: interrupted",
        "interrupted: run the same command again to resume into out.jsonl",
    )
    _no_traceback(done)
