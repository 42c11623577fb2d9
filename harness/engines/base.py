"""What every engine returns, and the small protocol the rest of the harness calls.

Timestamps are `time.perf_counter_ns()` values taken on the client when the bytes
arrived, before any JSON parsing, so TTFT does not include the harness's own work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Literal, Protocol, runtime_checkable

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
        """Decode steps per second: (eval_count - 1) / eval_duration.

        Ollama's runners (runner/ollamarunner/runner.go and llamarunner, 0.24.0) sample the
        first token from the prompt's last batch and time that batch in
        `prompt_eval_duration`; `eval_duration` runs from that first token to the last, so
        it spans eval_count - 1 decode steps. `eval_count / eval_duration` (Ollama's own
        "eval rate") overstates the decode rate by n/(n-1): 14% at 8 tokens, 1.6% at 64.
        One token has no decode step (Ollama then omits eval_duration): no rate."""
        if not self.eval_count or self.eval_count < 2:
            return None
        return _rate(self.eval_count - 1, self.eval_duration_ns)


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


# How a num_ctx reaches the server, declared by every engine as `context_control`:
# "per_request" (Ollama's `options.num_ctx`), "per_start" (a launched server restarted at
# each context) or "none" (an OpenAI-compatible server keeps the context it was started with).
ContextControl = Literal["per_request", "per_start", "none"]


class Engine(Protocol):
    """The core every engine has: identity and one streamed chat request, timed.

    What only some servers offer is a capability below, which callers test for with
    `isinstance` and report as missing (never faked): a model catalogue, model details,
    load control, the server's memory, the server's fixed context, a simulator.
    Implementations live beside this module; `harness.engines.ENGINES` lists the kinds.
    """

    @property
    def kind(self) -> str:
        """The API the engine speaks ("ollama", "openai"): what results record."""
        ...

    @property
    def base_url(self) -> str: ...

    @property
    def context_control(self) -> ContextControl: ...

    def version(self) -> str:
        """The server's version, or a word saying it has none to give."""
        ...

    def check(self) -> None:
        """One cheap request that proves the server answers; raises EngineError if not."""
        ...

    def chat(
        self,
        model: str,
        messages: Sequence[Message],
        *,
        options: Mapping[str, Any] | None = None,
        keep_alive: float | str | None = None,
        truncate: bool | None = None,
    ) -> StreamMeasurement: ...

    def close(self) -> None: ...


@runtime_checkable
class Catalogue(Protocol):
    """The models a server holds (Ollama's /api/tags, OpenAI's /v1/models)."""

    def tags(self) -> list[ModelTag]: ...


@runtime_checkable
class ModelDetails(Protocol):
    """A model's metadata in /api/show's shape (`model_info`, `details`)."""

    def show(self, model: str) -> dict[str, Any]: ...


@runtime_checkable
class LoadControl(Protocol):
    """Loading a model at a context, and unloading it to give its memory back."""

    def load(
        self,
        model: str,
        options: Mapping[str, Any] | None = None,
        keep_alive: float | str | None = None,
    ) -> LoadResult: ...

    def unload(self, model: str) -> None: ...


# Where a ServerMemory's `ps()` sizes come from: "server" (the server's own accounting,
# /api/ps) or "process_rss" (a server the harness launched: its process tree's RSS).
MemoryAccounting = Literal["server", "process_rss"]


@runtime_checkable
class ServerMemory(Protocol):
    """What the server holds loaded, and how much memory each model takes."""

    @property
    def memory_accounting(self) -> MemoryAccounting: ...

    def ps(self) -> list[LoadedModel]: ...


def memory_accounting(engine: object) -> MemoryAccounting | Literal["none"]:
    """Where the engine's memory figures come from; "none" for an engine that has none."""
    return engine.memory_accounting if isinstance(engine, ServerMemory) else "none"


@runtime_checkable
class ServerContext(Protocol):
    """The context a server was started with, for a server whose context is fixed."""

    def server_context(self) -> int | None: ...


@runtime_checkable
class Simulated(Protocol):
    """A simulated server (harness.sim): its own clock, where modelled work counts at its
    simulated length, and its devices' memory at /sim/state."""

    def clock_ns(self) -> int: ...


def missing_capabilities(engine: object, *capabilities: type) -> list[str]:
    """The names of the `capabilities` (protocols above) that `engine` does not have."""
    return [cap.__name__ for cap in capabilities if not isinstance(engine, cap)]
