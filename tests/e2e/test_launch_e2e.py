"""`--launch`: the harness starts the server per context and measures through it.

The launched server is the simulator itself, started as a separate process by the command
template and spoken to over its OpenAI-compatible API, so this runs without llama.cpp; the
same path against llama.cpp is in tests/real_engine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "suites" / "context_scaling"
SIM = "{python} -m harness.cli sim --host {host} --port {port} --profile tiny --speed 1"


def run(tmp_path: Path, template: str, *extra: str) -> tuple[subprocess.CompletedProcess[str], Any]:
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(SUITE),
        "--engine",
        "openai",
        "--matrix",
        "smoke",
        "-k",
        "qwen",
        "--reports-dir",
        str(tmp_path),
        "--launch",
        template,
        "-q",
        *extra,
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    payload = json.loads((tmp_path / "latest" / "results.json").read_text())
    return done, payload


def test_each_context_is_measured_on_a_server_started_for_it(tmp_path: Path) -> None:
    done, payload = run(tmp_path, SIM)
    # 1: a cell missed a threshold of the smoke matrix (stability of 11 ms streams under load):
    # this checks the launch wiring and that every cell was measured, not the verdicts.
    assert done.returncode in (0, 1), done.stdout[-3000:]
    cases = {c["id"]: c for c in payload["cases"]}
    assert set(cases) == {"qwen2.5:3b-instruct-2k", "qwen2.5:3b-instruct-4k"}
    # One address for the launched server, restarted at each context (as Ollama reloads).
    assert len({c["server"] for c in cases.values()}) == 1
    for case in cases.values():
        assert case["verdict"] in ("pass", "fail"), case["reason"]
        assert all(sample["outcome"] == "ok" for sample in case["samples"])
        assert case["loaded"]["context_length"] == case["num_ctx"]
        # The launched process tree's RSS, read by port or through the launcher.
        assert case["memory"]["source"] in {"server_rss", "ps"}
        assert case["memory"]["peak_bytes"] > 0


def test_a_server_that_fails_to_start_is_a_crash_with_its_last_lines(tmp_path: Path) -> None:
    broken = "{python} -c \"import sys; print('no such model file'); sys.exit(3)\""
    done, payload = run(tmp_path, broken)
    assert done.returncode == 1
    for case in payload["cases"]:
        assert case["verdict"] == "crash"
        assert "no such model file" in case["reason"]
