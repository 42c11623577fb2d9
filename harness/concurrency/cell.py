"""One (model, context) of a `concurrency` section: a sweep per slot value, then its capacity.

Per slot value P: start (or reuse) the server, read what P slots cost in memory (/api/ps at
two contexts), load the model at the cell's context, sweep, and note whether it spilled off
the GPU. The sweeps and the memory lines then give the capacity entry (capacity.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.concurrency.capacity import MemoryModel, capacity_entry
from harness.concurrency.section import ConcurrencySection
from harness.concurrency.servers import (
    ServerSource,
    SlotPlan,
    loaded_size,
    memory_line,
    slot_server,
)
from harness.concurrency.sweep import SweepPlan, run_sweep
from harness.concurrency.workers import ChatRequest
from harness.engines import Engine
from harness.engines.loading import load_model
from harness.limits.probe import Capacity
from harness.measure.prompts import PromptBuilder, calibrate

# Both past any sliding window (so memory is linear in num_ctx) and inside every model's
# trained context; loads without a prompt, so two of them cost seconds, not a search.
PROBE_CONTEXTS = (8192, 16384)


@dataclass
class CellState:
    """What later cells of the same model reuse: memory lines by P, and the budget."""

    lines: dict[int, tuple[float, float]] = field(default_factory=dict)
    budget: Capacity | None = None


def run_cell(
    section: ConcurrencySection,
    model: str,
    context: int,
    *,
    plan: SlotPlan,
    source: ServerSource,
    scale: float,
    read_budget: Callable[[Engine], Capacity],
    state: CellState,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The `concurrency[]` entries of this cell (one per P) and its `capacity` entry."""
    sweeps = []
    for slots in plan.values:
        with slot_server(source, slots, plan, context) as engine:
            if state.budget is None:
                state.budget = read_budget(engine)
            if slots not in state.lines:
                line = memory_line(engine, model, PROBE_CONTEXTS, {})
                if line is not None:
                    state.lines[slots] = line[:2]
            sweeps.append(_sweep_one(engine, section, model, context, slots, plan, scale, state))
    memory = MemoryModel.from_lines(state.lines) if state.lines else None
    available = state.budget.available_bytes if state.budget else None
    entry = capacity_entry(model, context, sweeps, memory, available, section.job_requests)
    entry["device"] = None if state.budget is None else ("gpu" if state.budget.gpu else "ram")
    return sweeps, entry


def _sweep_one(
    engine: Engine,
    section: ConcurrencySection,
    model: str,
    context: int,
    slots: int,
    plan: SlotPlan,
    scale: float,
    state: CellState,
) -> dict[str, Any]:
    options = {"num_ctx": context, "num_predict": section.num_predict, "temperature": 0}
    load_model(engine, model, {"num_ctx": context})
    placed = loaded_size(engine, model)
    builder = PromptBuilder(seed=section.seed)
    words = calibrate(engine, model, options, builder).words_for(section.prompt_tokens)

    # The sweep's streams run in worker processes, which build their own engines from this
    # (workers.py: one process's GIL adds milliseconds to every TTFT at 64 streams). They
    # once measured a 16-stream level ~9% below threads; that was the replies' lengths, not
    # the clock: the simulator draws each reply's length from its prompt's random nonce
    # (16-128 tokens), so a level of 16-32 requests varies 10-30% run to run in either mode.
    # With every reply the same length the two agree within 1% (issue 21).
    request = ChatRequest(
        engine.kind, engine.base_url, model, options, prompt_words=words, seed=section.seed
    )
    sweep_plan = SweepPlan(
        levels=section.levels,
        slo=section.slo,
        requests_per_level=section.requests_per_level,
        rates=section.rates,
        scale=scale,
        seed=section.seed,
        slots=slots,
    )
    result = run_sweep(request, sweep_plan)
    gpu = state.budget is not None and state.budget.gpu
    spilled = bool(placed and gpu and placed[1] < placed[0])
    return {
        "model": model,
        "context": context,
        "slots": slots,
        "slots_source": plan.source,
        "server": engine.base_url if plan.source not in ("simulator", "launcher") else plan.source,
        "size_bytes": None if placed is None else placed[0],
        "size_vram_bytes": None if placed is None else placed[1],
        "spilled": spilled,
        "slo": section.slo.as_dict(),
        "prompt_tokens": section.prompt_tokens,
        "num_predict": section.num_predict,
        "time_scale": scale,
        **result,
    }
