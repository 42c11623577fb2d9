"""scripts/real-figures.py: the end of CI's output carries what the real groups measured."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "real-figures.py"
STORED = ROOT / "tests" / "fixtures" / "results_v1" / "results.json"


def figures(folder: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(folder)], capture_output=True, text=True, check=True
    )
    return done.stdout.splitlines()


def test_every_case_and_limit_of_the_kept_runs_is_printed(tmp_path: Path) -> None:
    shutil.copyfile(STORED, tmp_path / "context_limits-limits.json")
    lines = figures(tmp_path)
    assert any(
        line.startswith("real limits gemma3:12b: pass, largest context 106,240") for line in lines
    )
    assert sum(line.startswith("real ") for line in lines) >= 9  # the file's nine cases and more
    assert any("TTFT p50 s" in line and "decode tok/s" in line for line in lines)


def test_no_kept_runs_says_so(tmp_path: Path) -> None:
    assert figures(tmp_path / "none") == [
        f"real figures: none kept in {tmp_path / 'none'} (the real groups skipped?)"
    ]
