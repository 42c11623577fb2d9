"""Request options the way Ollama reads them: types, defaults, load-time keys, keep_alive.

Ollama decodes `options` into a Go struct (api/types.go `FromMap`): unknown keys are skipped
with a warning, a value of the wrong JSON type fails the request with HTTP 500.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("harness.sim")

DEFAULT_NUM_CTX = 4096  # Ollama 0.6.7-0.15.4; SIM_VERSION is 0.12.6 (OLLAMA.md)
DEFAULT_KEEP_ALIVE_S = 300.0  # OLLAMA_KEEP_ALIVE default 5m

# Options current servers know, with the Go type name FromMap reports on a mismatch.
_TYPES: dict[str, str] = {
    **dict.fromkeys(
        (
            "num_ctx",
            "num_batch",
            "num_gpu",
            "main_gpu",
            "num_thread",
            "num_keep",
            "seed",
            "num_predict",
            "top_k",
            "repeat_last_n",
        ),
        "integer",
    ),
    **dict.fromkeys(
        (
            "temperature",
            "top_p",
            "min_p",
            "typical_p",
            "repeat_penalty",
            "presence_penalty",
            "frequency_penalty",
        ),
        "float",
    ),
    "use_mmap": "boolean",
    "numa": "boolean",
    "stop": "array of strings",
}

# Changing one of these restarts the runner (server/sched.go needsReload).
LOAD_KEYS: tuple[str, ...] = (
    "num_ctx",
    "num_batch",
    "num_gpu",
    "main_gpu",
    "use_mmap",
    "num_thread",
)

DEFAULTS: dict[str, Any] = {
    "num_ctx": DEFAULT_NUM_CTX,
    "num_batch": 512,
    "num_gpu": -1,
    "main_gpu": 0,
    "use_mmap": None,
    "num_thread": 0,
    "num_keep": 4,
    "seed": -1,
    "num_predict": -1,
    "temperature": 0.8,
    "top_k": 40,
    "top_p": 0.9,
}


class ApiError(Exception):
    """An error the server answers with: HTTP status and Ollama's `error` text."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Options:
    values: Mapping[str, Any]
    ignored: tuple[str, ...]

    def int(self, key: str) -> int:
        return int(self.values[key])

    def load_key(self) -> tuple[Any, ...]:
        return tuple(self.values[k] for k in LOAD_KEYS)


def _check(key: str, value: Any) -> Any:
    kind = _TYPES[key]
    ok = {
        "integer": isinstance(value, int | float) and not isinstance(value, bool),
        "float": isinstance(value, int | float) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "array of strings": isinstance(value, list) and all(isinstance(v, str) for v in value),
    }[kind]
    if not ok:
        raise ApiError(500, f'option "{key}" must be of type {kind}')
    return int(value) if kind == "integer" else value


def parse_options(raw: Any, baked: Mapping[str, Any] | None = None) -> Options:
    """Defaults, then the model's baked parameters, then the request's options."""
    values = dict(DEFAULTS)
    values.update(baked or {})
    ignored: list[str] = []
    for key, value in (raw or {}).items() if isinstance(raw, dict) else ():
        if key not in _TYPES:
            ignored.append(key)
            continue
        values[key] = _check(key, value)
    if ignored:
        log.warning("invalid option provided: %s (ignored)", ", ".join(sorted(ignored)))
    return Options(values, tuple(sorted(ignored)))


_GO_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_GO_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration string ("10m", "1h30m", "300ms", "-1s")."""
    body = text.strip()
    sign = -1.0 if body.startswith("-") else 1.0
    body = body.lstrip("+-")
    if body == "0":
        return 0.0
    pos, total = 0, 0.0
    while pos < len(body):
        match = _GO_PART.match(body, pos)
        if match is None:
            raise ApiError(400, f'time: invalid duration "{text}"')
        total += float(match.group(1)) * _GO_UNITS[match.group(2)]
        pos = match.end()
    if not body:
        raise ApiError(400, f'time: invalid duration "{text}"')
    return sign * total


def parse_keep_alive(value: Any) -> float | None:
    """Seconds to keep the model loaded; None means forever (any negative value)."""
    if value is None:
        return DEFAULT_KEEP_ALIVE_S
    if isinstance(value, bool):
        raise ApiError(400, "json: cannot unmarshal bool into keep_alive")
    seconds = parse_go_duration(value) if isinstance(value, str) else float(value)
    return None if seconds < 0 else seconds
