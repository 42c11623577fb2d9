"""The simulator as an engine: the Ollama client on a SimServer that the engine started.

The simulator speaks Ollama's API, so the harness reaches it through exactly the code a real
server gets (`OllamaEngine`). What only a simulator has, its own clock, is the `Simulated`
capability of `SimEngine`; callers test for that, never for the engine's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.engines.http import Timeouts
from harness.engines.ollama import OllamaEngine

if TYPE_CHECKING:
    from harness.sim.server import SimServer


@dataclass(frozen=True)
class SimSettings:
    """The simulated machine and its switches (`--sim-*` options)."""

    profile: str
    speed: float
    faults: str | None = None
    behaviour: tuple[str, ...] = ()
    num_parallel: int = 1

    def to_json(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "speed": self.speed,
            "faults": self.faults,
            "behaviour": ",".join(self.behaviour) or None,
            "num_parallel": self.num_parallel,
        }


class SimEngine(OllamaEngine):
    """The Ollama engine on a simulator it started and stops on `close()` (Simulated)."""

    def __init__(self, server: SimServer, timeouts: Timeouts | None = None) -> None:
        super().__init__(server.start(), timeouts)
        self._server = server

    def clock_ns(self) -> int:
        """The simulated machine's clock: modelled work counts at its simulated length and
        nothing else is multiplied by the speed, so durations read here need no time_scale."""
        return self._server.clock_ns()

    def close(self) -> None:
        super().close()
        self._server.stop()


def start_simulator(settings: SimSettings, timeouts: Timeouts | None = None) -> SimEngine:
    """Start a SimServer with `settings` on a free port, and the engine that talks to it."""
    from harness.sim.behaviour import Behaviour
    from harness.sim.server import SimServer

    server = SimServer(
        profile=settings.profile,
        speed=settings.speed,
        faults=settings.faults,
        behaviour=Behaviour(**dict.fromkeys(settings.behaviour, True)),
        num_parallel=settings.num_parallel,
    )
    return SimEngine(server, timeouts)
