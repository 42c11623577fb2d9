"""Fakes for the limits tests: a server whose memory is known exactly, and a sampler of it.

`FakeServer` answers /api/show, /api/tags, /api/ps, loads and unloads like Ollama, with
failures that can be switched on: an OOM below the real limit, a crash or a hang at some
contexts (after which the server is down for a few polls), and a cap on num_ctx.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness import errors
from harness.engines.base import LoadedModel, LoadResult, ModelTag
from harness.limits.predict import Prediction, shape_from_show

GIB = 1024**3
MODEL = "fake:8b"
SHOW: dict[str, Any] = {
    "details": {"quantization_level": "Q4_K_M"},
    "model_info": {
        "general.architecture": "llama",
        "general.parameter_count": 8_000_000_000,
        "llama.context_length": 131072,
        "llama.block_count": 32,
        "llama.embedding_length": 4096,
        "llama.attention.head_count": 32,
        "llama.attention.head_count_kv": 8,
        "llama.vocab_size": 128256,
    },
}


@dataclass
class FakeServer:
    """An Ollama-like server with a GPU of `total` bytes; the model's memory is exact."""

    weights: int = 5 * GIB
    total: int = 16 * GIB
    overhead: int = 300 * 1024**2  # on the device, outside /api/ps (a CUDA context)
    cap_at: int | None = None
    oom_from: int | None = None
    crash_at: set[int] = field(default_factory=set)
    hang_at: set[int] = field(default_factory=set)
    down_polls: int = 0  # polls of /api/version that fail after a crash or hang
    loaded: LoadedModel | None = None
    loads: list[int] = field(default_factory=list)
    polls: int = 0
    _down: int = 0

    @property
    def prediction(self) -> Prediction:
        return Prediction(shape_from_show(MODEL, SHOW, self.weights))

    def size(self, num_ctx: int) -> int:
        return self.prediction.bytes_at(num_ctx)

    def device_used(self) -> int:
        if self.loaded is None:
            return 0
        return self.loaded.size_vram + self.overhead

    def truth(self, fraction: float = 0.95) -> int:
        """The largest context that stays within `fraction` of the device."""
        return largest(lambda c: self.size(c) + self.overhead <= fraction * self.total)


def largest(ok: Callable[[int], bool], high: int = 131072) -> int:
    """The largest context in [0, high] with ok(), for ok true up to some point."""
    low = 0
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if ok(mid) else (low, mid - 1)
    return low


class FakeEngine:
    """The Engine protocol over a FakeServer."""

    kind = "ollama"
    base_url = "http://fake"
    context_control = "per_request"
    memory_accounting = "server"

    def __init__(self, server: FakeServer) -> None:
        self.server = server

    def version(self) -> str:
        self.server.polls += 1
        if self.server._down > 0:
            self.server._down -= 1
            raise errors.ServerUnreachable("connection refused")
        return "0.12.6"

    def tags(self) -> list[ModelTag]:
        return [ModelTag(name=MODEL, size=self.server.weights, digest="abc")]

    def show(self, model: str) -> dict[str, Any]:
        return SHOW

    def ps(self) -> list[LoadedModel]:
        return [] if self.server.loaded is None else [self.server.loaded]

    def load(
        self, model: str, options: Mapping[str, Any] | None = None, keep_alive: Any = None
    ) -> LoadResult:
        s = self.server
        ctx = int((options or {})["num_ctx"])
        s.loads.append(ctx)
        if ctx in s.crash_at or ctx in s.hang_at:
            s._down = s.down_polls
            if ctx in s.hang_at:
                raise errors.RequestTimeout("ReadTimeout talking to http://fake")
            raise errors.ServerError("llama runner process has terminated: exit status 2")
        if s.oom_from is not None and ctx >= s.oom_from:
            raise errors.OutOfMemory("cudaMalloc failed: out of memory")
        ctx = min(ctx, s.cap_at or ctx)
        size = s.size(ctx)
        free = s.total - s.overhead
        s.loaded = LoadedModel(MODEL, size, min(size, free), ctx)
        return LoadResult(model, "load", 1000, 2000)

    def unload(self, model: str) -> None:
        self.server.loaded = None


class FakeSampler:
    """Reads the fake device before and after the load, like the simulator's backend."""

    def __init__(self, server: FakeServer) -> None:
        self.server = server
        self.values: list[int] = []

    def start(self) -> None:
        self.values.append(self.server.device_used())

    def mark(self, phase: str) -> None:
        self.values.append(self.server.device_used())

    def stop(self) -> None:
        self.values.append(self.server.device_used())

    def summary(self) -> dict[str, Any]:
        base, peak = self.values[0], max(self.values)
        total = self.server.total
        return {
            "overall": {
                "sim.gpu_used_bytes": {"baseline": base, "peak": peak, "delta": peak - base},
                "sim.gpu_total_bytes": {"baseline": total, "peak": total, "delta": 0},
            }
        }

    @property
    def over_budget_reason(self) -> str | None:
        return None
