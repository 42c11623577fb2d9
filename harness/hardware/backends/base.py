"""What a sampling backend is, and the set of them a sampler runs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Rate = Literal["fast", "slow"]
Scope = Literal["local", "remote", "simulated"]


class Backend(Protocol):
    """One source of readings.

    `rate` picks the sampler's period: "fast" runs at `SamplerConfig.hz`, "slow" (an
    HTTP request per reading) at `SamplerConfig.ps_hz`. `sample()` returns metric name
    -> value in the units its name says (bytes, percent, W, degrees C, MHz) and may
    raise; the sampler records the error and keeps going. `details()` is called after
    sampling stopped and returns JSON-ready facts that are not time series (device
    names, per-process peaks); an "unavailable" key in it ({part: reason}) is lifted
    into the summary's `unavailable`.
    """

    name: str
    rate: Rate

    def sample(self) -> dict[str, float]: ...

    def details(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


@dataclass
class BackendSet:
    """The backends of one server, with where they sample and why any are missing.

    `unavailable` maps a backend's name to the reason it is not sampled; `notes` are
    sentences a report shows beside the numbers (e.g. that a server is remote).
    """

    backends: list[Backend]
    scope: Scope
    unavailable: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[Backend]:
        return iter(self.backends)

    @property
    def names(self) -> list[str]:
        return [backend.name for backend in self.backends]

    def close(self) -> None:
        for backend in self.backends:
            backend.close()
