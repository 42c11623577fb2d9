"""Run a suite against the real Ollama the way a user types it, and read what it wrote."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .server import RealOllama

ROOT = Path(__file__).resolve().parents[2]
MATRIX = Path(__file__).with_name("gemma3-270m.yaml")
KEEP_ENV = "HARNESS_REAL_REPORTS"  # a folder that keeps each run's results.json
SUITE_TIMEOUT_S = 1200  # a 270M model on 2 busy cores; the group's runs take a minute or two


@dataclass(frozen=True)
class SuiteRun:
    """What one `pytest suites/...` run printed and wrote."""

    returncode: int
    output: str
    payload: dict[str, Any]


def run_suite(
    server: RealOllama, suite: str, reports: Path, *extra: str, env: dict[str, str] | None = None
) -> SuiteRun:
    command = [
        sys.executable, "-m", "pytest", str(ROOT / "suites" / suite),
        "--engine", "ollama", "--server", server.base_url, "--matrix", str(MATRIX),
        "--reports-dir", str(reports), "-q", *extra,
    ]  # fmt: skip
    done = subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=SUITE_TIMEOUT_S,
        check=False,
        env={**os.environ, **(env or {})},
    )
    results = reports / "latest" / "results.json"
    payload = json.loads(results.read_text()) if results.is_file() else {}
    keep = os.environ.get(KEEP_ENV)
    if keep and results.is_file():  # .ci/run prints the figures of the runs kept here
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(results, Path(keep) / f"{suite}-{reports.name}.json")
    return SuiteRun(done.returncode, done.stdout + done.stderr, payload)
