"""HTTP clients for model servers, chosen by kind (`--engine`)."""

from __future__ import annotations

from collections.abc import Callable

from harness.engines.base import Engine
from harness.engines.http import Timeouts
from harness.engines.ollama import OllamaEngine
from harness.engines.openai import OpenAIEngine
from harness.errors import ConfigError

EngineFactory = Callable[[str, Timeouts | None], Engine]

# `sim` is not here: it starts the simulator and then talks to it with the ollama engine,
# so the harness reaches it through exactly the code a real server gets.
ENGINES: dict[str, EngineFactory] = {
    "ollama": OllamaEngine,
    "openai": OpenAIEngine,
}
ENGINE_KINDS: tuple[str, ...] = ("ollama", "openai", "sim")


def create_engine(kind: str, base_url: str, timeouts: Timeouts | None = None) -> Engine:
    """The engine of `kind` for `base_url`; an unknown kind lists the known ones."""
    wire_kind = "ollama" if kind == "sim" else kind
    try:
        factory = ENGINES[wire_kind]
    except KeyError:
        raise ConfigError(
            f"unknown engine {kind!r}; known engines: {', '.join(ENGINE_KINDS)}"
        ) from None
    return factory(base_url, timeouts)


__all__ = ["ENGINE_KINDS", "Engine", "Timeouts", "create_engine"]
