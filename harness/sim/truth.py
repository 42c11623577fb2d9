"""What the simulated machine can do, straight from the physics: the answers a benchmark
run against the simulator should find.

Memory limits use budgets the way the harness does (`gpu_budget` of the card,
`ram_budget` of host RAM, each minus what the profile reserves); with `gpu_budget=1.0`
`max_context_gpu` is exactly where the server starts to spill. Rates are at `speed` 1 and
use the placement the server would choose at that context; `bytes_per_token` is what
`/api/ps` size grows by per token (the KV cache plus the attention mask), where
`kv_bytes_per_token` is the KV cache alone; `decode_tok_s[ctx]` is the rate
with the KV cache filled to `ctx` (the end of a request that fills the context).
`aggregate_decode_tok_s[P]` is P slots decoding together, each sequence `aggregate_depth`
tokens deep; `aggregate_decode_bound[P]` says what limits that step and `compute_bound_slots`
is the first P where arithmetic does. The depth matters: each sequence's KV read and
attention grow with it, so a load of short requests (a 20-token prompt and 128 tokens of
answer decode about 84 deep) decodes faster and turns compute bound at fewer slots than the
default depth says (gemma3:4b on ryzen16-128gb at 8 slots: 130 tok/s at 84, 100 at 1,024).
Compare a measurement with the truth at the depth it decodes at.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from harness.sim import physics
from harness.sim.physics import LoadConfig, Placement, PlacementError
from harness.sim.profiles import HardwareProfile, ModelProfile, hardware_profile, model_profile

SLOT_COUNTS = (1, 2, 4, 8, 16, 32, 64)
AGGREGATE_DEPTH = 1024  # default tokens of context per sequence for aggregate_decode_tok_s


def _largest(low: int, high: int, ok: Callable[[int], bool]) -> int | None:
    """The largest n in [low, high] with ok(n), for a predicate true up to some point."""
    if not ok(low):
        return None
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if ok(mid) else (low, mid - 1)
    return low


def _placement(
    model: ModelProfile, hw: HardwareProfile, ctx: int, parallel: int, vram_free: int | None = None
) -> Placement:
    return physics.place(model, hw, LoadConfig(num_ctx=ctx, num_parallel=parallel), vram_free)


def _loads(
    model: ModelProfile, hw: HardwareProfile, ctx: int, parallel: int, vram: int | None, host: int
) -> bool:
    try:
        physics.check_host(_placement(model, hw, ctx, parallel, vram), host)
    except PlacementError:
        return False
    return True


def truth(
    profile: str,
    model: str,
    contexts: Sequence[int] = (),
    gpu_budget: float = 0.95,
    ram_budget: float = 0.80,
    num_parallel: int = 1,
    aggregate_depth: int = AGGREGATE_DEPTH,
) -> dict[str, Any]:
    """Limits, memory and speeds of `model` on hardware `profile` (see module docstring)."""
    if aggregate_depth < 1:
        raise ValueError(f"aggregate_depth must be at least 1 token, not {aggregate_depth}")
    hw, m = hardware_profile(profile), model_profile(model)
    cap = m.context_length
    host_free = int(ram_budget * hw.cpu.total_bytes) - hw.cpu.reserved_bytes
    vram_free = None
    out: dict[str, Any] = {
        "simulated": True,
        "profile": hw.name,
        "model": m.name,
        "num_parallel": num_parallel,
        "gpu_budget": gpu_budget,
        "ram_budget": ram_budget,
        "context_length": cap,
        "weights_bytes": m.weights_bytes,
        "kv_bytes_per_token": (
            physics.kv_bytes(m, cap, num_parallel) - physics.kv_bytes(m, cap // 2, num_parallel)
        )
        / (cap - cap // 2),
        # What /api/ps `size` grows by: the KV cache and the attention mask of the graph.
        "bytes_per_token": (
            _placement(m, hw, cap, num_parallel).size
            - _placement(m, hw, cap // 2, num_parallel).size
        )
        / (cap - cap // 2),
    }
    if hw.gpu is not None:
        vram_free = int(gpu_budget * hw.gpu.total_bytes) - hw.gpu.reserved_bytes

        def on_gpu(ctx: int) -> bool:
            p = _placement(m, hw, ctx, num_parallel, vram_free)
            return p.size_vram == p.size

        out["max_context_gpu"] = _largest(1, cap, on_gpu)
    out["max_context_load"] = _largest(
        1, cap, lambda ctx: _loads(m, hw, ctx, num_parallel, vram_free, host_free)
    )
    memory: dict[int, int] = {}
    vram_at: dict[int, int] = {}
    prefill: dict[int, float] = {}
    decode: dict[int, float] = {}
    for requested in contexts:
        ctx = min(requested, cap)
        placed = _placement(m, hw, ctx, num_parallel)  # as the server places it
        memory[requested], vram_at[requested] = placed.size, placed.size_vram
        prefill[requested] = ctx / physics.prefill_seconds(m, hw, placed, ctx)
        decode[requested] = 1.0 / physics.decode_seconds(m, hw, placed, ctx)
    out.update(
        memory_at=memory,
        size_vram_at=vram_at,
        prefill_tok_s=prefill,
        decode_tok_s=decode,
        aggregate_depth=aggregate_depth,
        aggregate_decode_tok_s=_aggregate(m, hw, aggregate_depth),
        aggregate_decode_bound=_bounds(m, hw, aggregate_depth),
    )
    out["compute_bound_slots"] = next(
        (n for n, bound in out["aggregate_decode_bound"].items() if bound == "compute"), None
    )
    return out


def _bounds(m: ModelProfile, hw: HardwareProfile, depth: int) -> dict[int, str]:
    """What limits each slot count's batched decode step (same step as `_aggregate`).

    "compute" when infinitely fast arithmetic would shorten the step, "spilled" when the
    slots' KV pushed layers off the GPU, else "bandwidth". Batching pays until compute binds.
    """
    fast = replace(
        hw,
        cpu=replace(hw.cpu, flops=float("inf")),
        gpu=None if hw.gpu is None else replace(hw.gpu, flops=float("inf")),
    )
    bounds: dict[int, str] = {}
    for slots in SLOT_COUNTS:
        placed = _placement(m, hw, min(4096, m.context_length), slots)
        depths = [depth] * slots
        step = physics.step_seconds(m, hw, placed, [], depths)
        memory_only = physics.step_seconds(m, fast, placed, [], depths)
        if hw.gpu is not None and placed.size_vram < placed.size:
            bounds[slots] = "spilled"  # the host's share of the step dominates whatever binds it
        elif step > memory_only * (1 + 1e-9):
            bounds[slots] = "compute"
        else:
            bounds[slots] = "bandwidth"
    return bounds


def _aggregate(m: ModelProfile, hw: HardwareProfile, depth: int) -> dict[int, float]:
    """Tokens/s of all slots together when every slot decodes `depth` tokens deep."""
    rates: dict[int, float] = {}
    for slots in SLOT_COUNTS:
        placed = _placement(m, hw, min(4096, m.context_length), slots)
        step = physics.step_seconds(m, hw, placed, [], [depth] * slots)
        rates[slots] = slots / step
    return rates
