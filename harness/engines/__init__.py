"""HTTP clients for model servers, chosen by kind (`--engine`) from one registry.

`ENGINES` maps each `--engine` value to how its engine is made; every list of engine kinds
(the option's choices, the CLIs') is read from it. Adding an engine is one module beside
this one and one entry here.

Beside the clients, what reaching a server takes: `pool.py` (a session's servers, one engine
per URL, and which cells run on which), `hosts.py` (`OLLAMA_HOST` as Ollama parses it),
`launcher.py` (starting a server whose context is fixed when it starts) and `retry.py` (the
one retry policy for transient faults).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.engines.base import Engine
from harness.engines.http import Timeouts
from harness.engines.ollama import OllamaEngine
from harness.engines.openai import OpenAIEngine
from harness.errors import ConfigError

if TYPE_CHECKING:
    from harness.sim.engine import SimSettings

EngineFactory = Callable[[str, Timeouts | None], Engine]
SimulatorFactory = Callable[["SimSettings", Timeouts | None], Engine]


@dataclass(frozen=True)
class EngineKind:
    """One `--engine` value: how to reach a server of that kind at a URL, and, for the
    simulator, how to start one (results are then in simulated time)."""

    connect: EngineFactory
    simulator: SimulatorFactory | None = None

    @property
    def simulated(self) -> bool:
        return self.simulator is not None


def _start_simulator(settings: SimSettings, timeouts: Timeouts | None) -> Engine:
    from harness.sim.engine import start_simulator  # the simulator loads only when used

    return start_simulator(settings, timeouts)


ENGINES: dict[str, EngineKind] = {
    "ollama": EngineKind(OllamaEngine),
    "openai": EngineKind(OpenAIEngine),
    # The simulator speaks Ollama's API: at a URL it is reached with the Ollama engine.
    "sim": EngineKind(OllamaEngine, simulator=_start_simulator),
}
ENGINE_KINDS: tuple[str, ...] = tuple(ENGINES)


def find_engine_kind(kind: str) -> EngineKind:
    """The registry entry of `kind`; an unknown kind lists the known ones."""
    try:
        return ENGINES[kind]
    except KeyError:
        raise ConfigError(
            f"unknown engine {kind!r}; known engines: {', '.join(ENGINE_KINDS)}"
        ) from None


def create_engine(kind: str, base_url: str, timeouts: Timeouts | None = None) -> Engine:
    """The engine of `kind` for the server at `base_url`."""
    return find_engine_kind(kind).connect(base_url, timeouts)


__all__ = [
    "ENGINES",
    "ENGINE_KINDS",
    "Engine",
    "EngineKind",
    "Timeouts",
    "create_engine",
    "find_engine_kind",
]
