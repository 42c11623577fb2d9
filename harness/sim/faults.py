"""Faults on demand, parsed from a spec string and drawn from a seeded RNG.

`disconnect=0.01,error_line=0.01,load_500=0.05,hang=0.001,slow_first_token=0.02,
malformed=0.01,slowdown=1.2,seed=7`: each of the first six is a probability per request;
`slowdown` multiplies every simulated time, `seed` makes the draws reproducible (request n
of a server always gets the same faults). `slow_first_token_s` (simulated seconds added before
the first token, default 2) and `hang_s` (wall seconds a hung request holds its connection,
default and maximum 300) tune the two faults that wait.

`load_500` fires only on requests that have to load the model, since it is a load failure.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, fields

from harness.errors import ConfigError

PROBABILITY_KEYS: tuple[str, ...] = (
    "disconnect",
    "error_line",
    "load_500",
    "hang",
    "slow_first_token",
    "malformed",
)
MAX_HANG_S = 300.0


@dataclass(frozen=True)
class FaultPlan:
    """What goes wrong with one request; token indices count content chunks from 0."""

    disconnect_at: int | None = None
    error_at: int | None = None
    malformed_at: int | None = None
    load_500: bool = False
    hang: bool = False
    slow_first_token: bool = False


@dataclass(frozen=True)
class FaultSpec:
    disconnect: float = 0.0
    error_line: float = 0.0
    load_500: float = 0.0
    hang: float = 0.0
    slow_first_token: float = 0.0
    malformed: float = 0.0
    slowdown: float = 1.0
    seed: int = 0
    slow_first_token_s: float = 2.0
    hang_s: float = MAX_HANG_S

    @classmethod
    def parse(cls, spec: str | None) -> FaultSpec:
        """Parse `key=value,...`; an empty or None spec means no faults."""
        allowed = [f.name for f in fields(cls)]
        values: dict[str, float | int] = {}
        for item in (spec or "").split(","):
            if not item.strip():
                continue
            key, sep, raw = (part.strip() for part in item.partition("="))
            if not sep or key not in allowed:
                raise ConfigError(
                    f"bad fault {item.strip()!r} in {spec!r}: expected key=value with key one "
                    f"of {', '.join(allowed)}"
                )
            values[key] = _value(key, raw, spec or "")
        return cls(**values)  # type: ignore[arg-type]

    @property
    def active(self) -> bool:
        return any(getattr(self, k) > 0 for k in PROBABILITY_KEYS) or self.slowdown != 1.0

    def plan(self, request_index: int, tokens: int) -> FaultPlan:
        """The faults of request number `request_index` (reproducible from the seed)."""
        if not self.active:
            return FaultPlan()
        rng = random.Random(f"{self.seed}:{request_index}")
        draws = {key: rng.random() < getattr(self, key) for key in PROBABILITY_KEYS}
        where = [rng.randrange(max(tokens, 1)) for _ in range(3)]
        return FaultPlan(
            disconnect_at=where[0] if draws["disconnect"] else None,
            error_at=where[1] if draws["error_line"] else None,
            malformed_at=where[2] if draws["malformed"] else None,
            load_500=draws["load_500"],
            hang=draws["hang"],
            slow_first_token=draws["slow_first_token"],
        )


def _value(key: str, raw: str, spec: str) -> float | int:
    try:
        value: float | int = int(raw) if key == "seed" else float(raw)
    except ValueError:
        kind = "an integer" if key == "seed" else "a number"
        raise ConfigError(f"fault {key}={raw!r} in {spec!r} must be {kind}") from None
    if not math.isfinite(value):  # nan passes every range check below
        raise ConfigError(f"fault {key}={raw!r} in {spec!r} must be a finite number")
    if key in PROBABILITY_KEYS and not 0.0 <= value <= 1.0:
        raise ConfigError(f"fault {key}={raw!r} in {spec!r} is a probability: use 0..1")
    if key == "slowdown" and value <= 0:
        raise ConfigError(f"fault slowdown={raw!r} in {spec!r} must be > 0 (1 = normal speed)")
    if key in ("slow_first_token_s", "hang_s") and value < 0:
        raise ConfigError(f"fault {key}={raw!r} in {spec!r} must be >= 0 seconds")
    if key == "hang_s":
        value = min(float(value), MAX_HANG_S)
    return value
