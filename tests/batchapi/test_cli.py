from __future__ import annotations

import argparse
import subprocess
import sys

from harness.batchapi.cli import register, settings_from
from tests.batchapi.conftest import ROOT


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="harness")
    register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["serve-batch", *argv])


def test_flags_become_batch_settings() -> None:
    args = _parse("--engine", "sim", "--concurrency", "3", "--strategy", "conversation",
                  "--num-ctx", "16384", "--max-attempts", "2")  # fmt: skip
    settings = settings_from(args)
    assert (settings.concurrency, settings.strategy) == (3, "conversation")
    assert settings.options == {"num_ctx": 16384}
    assert settings.retry.max_attempts == 2
    assert args.port == 8090


def test_no_model_server_is_a_clear_error(tmp_path: object) -> None:
    cmd = [sys.executable, "-m", "harness.batchapi.cli", "--port", "0", "--data-dir",
           str(tmp_path), "--server", "http://127.0.0.1:9"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "no ollama server answers at http://127.0.0.1:9" in proc.stderr
    assert "--engine sim" in proc.stderr
