from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from harness.batchapi.cli import exposure_warning, register, settings_from
from harness.batchapi.client import API_KEY_ENV
from harness.batchapi.server import BatchApiServer
from harness.engines import Engine
from harness.errors import ConfigError
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


def test_the_api_key_comes_from_the_flag_else_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _parse().api_key is None
    monkeypatch.setenv(API_KEY_ENV, "from-env")
    assert _parse().api_key == "from-env"
    assert _parse("--api-key", "from-flag").api_key == "from-flag"
    monkeypatch.setenv(API_KEY_ENV, "")
    assert _parse().api_key is None  # an empty variable is no key, not the empty key


@pytest.mark.parametrize(
    ("host", "key", "warned"),
    [("127.0.0.1", None, False), ("::1", None, False), ("localhost", None, False),
     ("0.0.0.0", None, True), ("192.0.2.7", None, True), ("gpu-box", None, True),
     ("0.0.0.0", "k", False)],
)  # fmt: skip
def test_serving_beyond_loopback_without_a_key_warns(
    host: str, key: str | None, warned: bool
) -> None:
    warning = exposure_warning(host, key)
    assert (warning is not None) == warned
    if warning:
        assert f"listening on {host} without an API key" in warning
        assert "--api-key" in warning


def test_help_documents_the_key_and_the_api_page() -> None:
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "serve-batch", "--help"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    assert "--api-key KEY" in text
    assert API_KEY_ENV in text
    assert "/docs" in text
    assert "127.0.0.1: this machine only" in text


def test_serve_batch_with_the_key_in_the_environment_requires_it(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "harness.batchapi.cli", "--port", "0", "--data-dir",
           str(tmp_path), "--engine", "sim", "--sim-speed", "1000"]  # fmt: skip
    env = {**os.environ, API_KEY_ENV: "sk-cli"}
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("batch API at ")
        assert line.rstrip().endswith("; API key required)")
        url = line.split()[3]
        assert httpx.get(f"{url}/v1/batches").status_code == 401
        headers = {"Authorization": "Bearer sk-cli"}
        assert httpx.get(f"{url}/v1/batches", headers=headers).status_code == 200
    finally:
        proc.terminate()
        assert proc.wait(30) == 0
        assert proc.stdout is not None
        proc.stdout.close()


def test_a_port_in_use_is_a_config_error(sim_engine: Engine, tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        server = BatchApiServer(sim_engine, tmp_path, port=port)
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
            server.start()
