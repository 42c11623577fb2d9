"""What a run was measured on: machine, server, models, settings.

Baselines compare only runs whose fingerprints agree on what matters (GPU, model digest,
engine), so every field that can change a number belongs here.
"""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from harness import __version__
from harness.engines.base import Catalogue, Engine
from harness.errors import EngineError

# Server settings that change memory or speed; recorded when the harness can see them.
SERVER_ENV = (
    "OLLAMA_NUM_PARALLEL",
    "OLLAMA_KV_CACHE_TYPE",
    "OLLAMA_FLASH_ATTENTION",
    "OLLAMA_CONTEXT_LENGTH",
    "OLLAMA_MAX_LOADED_MODELS",
    "OLLAMA_KEEP_ALIVE",
)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_sha(cwd: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def gpus() -> list[dict[str, Any]]:
    """Name, memory and driver of each NVIDIA GPU; empty when NVML is not there."""
    try:
        import pynvml
    except ImportError:
        return []
    try:
        pynvml.nvmlInit()
    except Exception:  # NVMLError has many subclasses; any of them means "no GPU to report"
        return []
    try:
        driver = pynvml.nvmlSystemGetDriverVersion()
        out = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            out.append(
                {
                    "name": _text(pynvml.nvmlDeviceGetName(handle)),
                    "memory_bytes": int(pynvml.nvmlDeviceGetMemoryInfo(handle).total),
                    "driver": _text(driver),
                }
            )
        return out
    finally:
        pynvml.nvmlShutdown()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def machine_fingerprint(rootdir: Path) -> dict[str, Any]:
    import psutil

    return {
        "host": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "ram_bytes": psutil.virtual_memory().total,
        "gpus": gpus(),
        "harness_version": __version__,
        "git_sha": git_sha(rootdir),
        "env": {name: os.environ.get(name) for name in SERVER_ENV},
    }


def server_fingerprint(engine: Engine, models: Iterable[str]) -> dict[str, Any]:
    """Server version and, per model the run uses, digest, quantization and size."""
    wanted = set(models)
    out: dict[str, Any] = {"engine": engine.kind, "server_url": engine.base_url}
    try:
        out["server_version"] = engine.version()
        if not isinstance(engine, Catalogue):
            return out  # a server that lists no models: no digests or sizes to record
        tags = engine.tags()
    except EngineError as exc:
        out["server_version"] = None
        out["server_error"] = str(exc)
        return out
    out["models"] = {
        tag.name: {
            "digest": tag.digest,
            "quantization": _details(tag.details).get("quantization_level"),
            "size": tag.size,
        }
        for tag in tags
        if tag.name in wanted
    }
    return out


def _details(details: Mapping[str, Any]) -> Mapping[str, Any]:
    return details if isinstance(details, Mapping) else {}
