"""What every engine returns, and the small protocol the rest of the harness calls.

Timestamps are `time.perf_counter_ns()` values taken on the client when the bytes
arrived, before any JSON parsing, so TTFT does not include the harness's own work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Literal, Protocol

Message = Mapping[str, Any]

NS_PER_S = 1_000_000_000


@dataclass(frozen=True)
class ServerCounters:
    """The final chunk's counters, as the server reported them (durations in ns)."""

    total_duration_ns: int | None = None
    load_duration_ns: int | None = None
    prompt_eval_count: int | None = None
    prompt_eval_duration_ns: int | None = None
    eval_count: int | None = None
    eval_duration_ns: int | None = None

    @property
    def prompt_tok_s(self) -> float | None:
        return _rate(self.prompt_eval_count, self.prompt_eval_duration_ns)

    @property
    def decode_tok_s(self) -> float | None:
        return _rate(self.eval_count, self.eval_duration_ns)


def _rate(count: int | None, duration_ns: int | None) -> float | None:
    if not count or not duration_ns or duration_ns <= 0:
        return None
    return count * NS_PER_S / duration_ns


@dataclass(frozen=True)
class StreamMeasurement:
    """One streamed chat request, timed on the client.

    `chunk_ns` holds the arrival time of every chunk that carried non-empty content;
    `first_content_ns` is its first element and defines TTFT.
    """

    model: str
    sent_ns: int
    first_byte_ns: int | None
    first_content_ns: int | None
    end_ns: int
    chunk_ns: tuple[int, ...]
    done_reason: str | None
    counters: ServerCounters
    text: str = ""

    @property
    def ttft_s(self) -> float | None:
        if self.first_content_ns is None:
            return None
        return (self.first_content_ns - self.sent_ns) / NS_PER_S

    @property
    def e2e_s(self) -> float:
        return (self.end_ns - self.sent_ns) / NS_PER_S

    @property
    def itl_s(self) -> tuple[float, ...]:
        """Gaps between consecutive content chunks (inter-token latency)."""
        ticks = self.chunk_ns
        return tuple((b - a) / NS_PER_S for a, b in pairwise(ticks))

    @property
    def client_decode_tok_s(self) -> float | None:
        """Content chunks per second after the first, as the client saw them arrive."""
        if len(self.chunk_ns) < 2:
            return None
        span = self.chunk_ns[-1] - self.chunk_ns[0]
        return (len(self.chunk_ns) - 1) * NS_PER_S / span if span > 0 else None


@dataclass(frozen=True)
class LoadResult:
    """The answer to a load (empty prompt) request."""

    model: str
    done_reason: str | None
    load_duration_ns: int | None
    wall_ns: int


@dataclass(frozen=True)
class LoadedModel:
    """One entry of `/api/ps` (or what an engine knows of its loaded model)."""

    name: str
    size: int
    size_vram: int
    context_length: int | None
    digest: str = ""
    expires_at: str | None = None

    @property
    def placement(self) -> str:
        """ "gpu" (all in VRAM), "split" (part in host memory) or "cpu" (no VRAM at all)."""
        if self.size_vram <= 0:
            return "cpu"
        return "gpu" if self.size_vram >= self.size else "split"

    @property
    def spilled(self) -> bool:
        """Part of the model on the GPU and part in host memory: slower, not an error.

        `size_vram` 0 is a server without a GPU (or one that put nothing there), which
        /api/ps cannot tell apart; callers that know a GPU exists judge that case.
        """
        return self.placement == "split"


@dataclass(frozen=True)
class ModelTag:
    """One entry of `/api/tags`."""

    name: str
    size: int
    digest: str
    details: Mapping[str, Any] = field(default_factory=dict)


# Where an engine's `ps()` sizes come from, declared by an engine as `memory_accounting`:
# "server" (the server's own accounting, /api/ps), "process_rss" (a server the harness
# launched: its process tree's RSS) or "none" (ps() is always empty).
MemoryAccounting = Literal["server", "process_rss", "none"]


def memory_accounting(engine: object) -> MemoryAccounting:
    """The engine's declared accounting; an engine that declares none is Ollama-like."""
    declared: MemoryAccounting = getattr(engine, "memory_accounting", "server")
    return declared


# How a num_ctx reaches the server, declared by an engine as `context_control`: "per_request"
# (Ollama's `options.num_ctx`), "per_start" (a launched server restarted at each context) or
# "none" (an OpenAI-compatible server keeps the context it was started with).
ContextControl = Literal["per_request", "per_start", "none"]


def context_control(engine: object) -> ContextControl:
    declared: ContextControl = getattr(engine, "context_control", "per_request")
    return declared


class Engine(Protocol):
    """A client for one model server. Implementations live beside this module."""

    @property
    def kind(self) -> str: ...

    @property
    def base_url(self) -> str: ...

    def version(self) -> str: ...

    def tags(self) -> list[ModelTag]: ...

    def show(self, model: str) -> dict[str, Any]: ...

    def ps(self) -> list[LoadedModel]: ...

    def chat(
        self,
        model: str,
        messages: Sequence[Message],
        *,
        options: Mapping[str, Any] | None = None,
        keep_alive: float | str | None = None,
        truncate: bool | None = None,
    ) -> StreamMeasurement: ...

    def load(
        self,
        model: str,
        options: Mapping[str, Any] | None = None,
        keep_alive: float | str | None = None,
    ) -> LoadResult: ...

    def unload(self, model: str) -> None: ...

    def close(self) -> None: ...
