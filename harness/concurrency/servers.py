"""Which OLLAMA_NUM_PARALLEL each sweep runs at, the server that runs it, and its memory.

Slots are fixed when a server starts, so they are a matrix axis only where the harness
starts the server: under `--engine sim` the suite starts one SimServer per slot value (same
profile and speed as the session's simulator; it is "a server the harness launches"), and
with a `launch:` block one process per slot value through `harness.engines.launcher`. Against a
running server the value in use is recorded: the matrix's single `slots: [N]`, else the
`OLLAMA_NUM_PARALLEL` of this environment (correct when the server was started from it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from harness.concurrency.section import ConcurrencySection
from harness.engines import Engine, create_engine, find_engine_kind
from harness.engines.base import LoadControl, ServerMemory
from harness.errors import ConfigError, EngineError

PARALLEL_ENV = "OLLAMA_NUM_PARALLEL"


@dataclass(frozen=True)
class SlotPlan:
    """The slot values to sweep and who sets them: simulator, launcher, matrix or env."""

    values: tuple[int, ...]
    source: str

    @property
    def axis(self) -> bool:
        return self.source in ("simulator", "launcher")


def slot_plan(
    section: ConcurrencySection,
    *,
    simulated: bool,
    sim_parallel: int = 1,
    environ: Mapping[str, str] | None = None,
) -> SlotPlan:
    """The slot values of `section` for this session (module docstring); ConfigError if unknown."""
    if simulated:
        return SlotPlan(section.slots or (sim_parallel,), "simulator")
    if section.launch is not None:
        return SlotPlan(section.slots or (1,), "launcher")
    if len(section.slots) > 1:
        raise ConfigError(
            f"concurrency.slots {list(section.slots)!r}: a running server has one "
            f"{PARALLEL_ENV}; give one value, or a `launch:` block so the harness starts "
            "a server per value"
        )
    if section.slots:
        return SlotPlan(section.slots, "matrix")
    raw = (os.environ if environ is None else environ).get(PARALLEL_ENV, "").strip()
    if raw.isdigit() and int(raw) > 0:
        return SlotPlan((int(raw),), "env")
    raise ConfigError(
        f"concurrency: the server's {PARALLEL_ENV} is unknown; add `slots: [N]` to the "
        f"matrix (N = the server's {PARALLEL_ENV}, 1 by default since Ollama 0.9.7)"
    )


@dataclass(frozen=True)
class ServerSource:
    """How to reach a server with a given slot count."""

    engine_kind: str
    session_engine: Engine
    sim_profile: str | None = None
    sim_speed: float = 1.0
    launch: Any = None  # LaunchBlock


@contextmanager
def slot_server(source: ServerSource, slots: int, plan: SlotPlan, num_ctx: int) -> Iterator[Engine]:
    """An engine on a server running `slots` slots; servers started here stop on exit."""
    if not plan.axis:
        yield source.session_engine
        return
    if plan.source == "simulator":
        from harness.sim.engine import SimSettings

        simulator = find_engine_kind(source.engine_kind).simulator
        if simulator is None:
            raise ConfigError(f"engine {source.engine_kind!r} cannot start a simulator")
        settings = SimSettings(source.sim_profile or "tiny", source.sim_speed, num_parallel=slots)
        engine = simulator(settings, None)
        try:
            yield engine
        finally:
            engine.close()  # stops the simulator it started
        return
    from harness.engines.launcher import Launcher, LaunchSpec

    block = source.launch
    spec = LaunchSpec(
        template=block.template,
        ready_path=block.ready_path,
        ready_timeout_s=block.ready_timeout_s,
        num_parallel=slots,
    )
    with Launcher(spec) as launcher:
        launched = create_engine(source.engine_kind, launcher.ensure(num_ctx))
        try:
            yield launched
        finally:
            launched.close()


def loaded_size(engine: Engine, model: str) -> tuple[int, int, int | None] | None:
    """(size, size_vram, context_length) of `model` in /api/ps, or None if not listed (or
    the server reports no memory)."""
    if not isinstance(engine, ServerMemory):
        return None
    names = {model, f"{model}:latest"}
    loaded = engine.ps()
    found = next((m for m in loaded if m.name in names), None)
    if found is None and len(loaded) == 1:
        found = loaded[0]  # an alias (gemma3:latest) is listed under its target's name
    return None if found is None else (found.size, found.size_vram, found.context_length)


def memory_line(
    engine: Engine, model: str, contexts: Sequence[int], options: Mapping[str, Any]
) -> tuple[float, float, list[dict[str, int]]] | None:
    """Intercept and slope of /api/ps `size` against num_ctx, from loads at `contexts`.

    Two loads are cheap (no prompt), which is why this is used instead of a full
    context-limit search; the search's fit can be passed in instead (capacity.py).
    """
    if not isinstance(engine, LoadControl) or not isinstance(engine, ServerMemory):
        return None  # no loads at a context, or no sizes to fit: nothing to measure
    points: list[dict[str, int]] = []
    for ctx in contexts:
        try:
            engine.load(model, {**options, "num_ctx": ctx})
            size = loaded_size(engine, model)
        except EngineError:
            size = None
        if size is not None:
            points.append({"num_ctx": size[2] or ctx, "size": size[0], "size_vram": size[1]})
    xs = {p["num_ctx"] for p in points}
    if len(xs) < 2:
        return None
    (x0, y0), (x1, y1) = ((p["num_ctx"], p["size"]) for p in (points[0], points[-1]))
    slope = (y1 - y0) / (x1 - x0)
    return y0 - slope * x0, slope, points
