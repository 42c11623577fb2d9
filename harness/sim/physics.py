"""The physical model: how many bytes a loaded model takes where, and how long work takes.

All times here are *simulated seconds* on the profiled machine; the scheduler divides them
by the server's speed (and multiplies by a slowdown fault) before sleeping.

Memory: weights + KV cache + compute graph. Gemma 3's sliding-window layers hold only
`min(ctx x parallel, window x parallel + num_batch)` tokens (OLLAMA.md). When the total does
not fit the GPU, whole layers (weights + their KV) move to the host, as llama.cpp offloads.

Time: a step of the runner is bound either by compute (prefill) or by reading memory
(decode reads the active weights once per step, plus each sequence's KV at its depth). The
two devices of a split model run one after the other, so their times add.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from harness.sim.profiles import Device, HardwareProfile, ModelProfile

# Bytes per KV element for OLLAMA_KV_CACHE_TYPE (OLLAMA.md).
KV_TYPE_BYTES: dict[str, float] = {"f16": 2.0, "q8_0": 1.0625, "q4_0": 0.5625}


@dataclass(frozen=True)
class LoadConfig:
    """Everything that decides a runner's memory; a change of any field means a reload."""

    num_ctx: int  # per sequence
    num_parallel: int = 1
    num_batch: int = 512
    num_gpu: int = -1  # -1: as many layers as fit
    kv_type: str = "f16"


@dataclass(frozen=True)
class Placement:
    """Where a loaded model's bytes sit. `size`/`size_vram` are what /api/ps reports."""

    weights_bytes: int
    kv_bytes: int
    graph_bytes: int
    gpu_layers: int
    block_count: int
    size_vram: int

    @property
    def size(self) -> int:
        return self.weights_bytes + self.kv_bytes + self.graph_bytes

    @property
    def host_bytes(self) -> int:
        return self.size - self.size_vram

    @property
    def gpu_fraction(self) -> float:
        return self.gpu_layers / self.block_count


class PlacementError(Exception):
    """The model cannot be placed; `message` is the text Ollama would answer with."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _layer_split(model: ModelProfile) -> tuple[int, int]:
    """(global, local) attention layer counts."""
    attention = len(model.attention_layers)
    global_layers = attention if model.global_layers is None else model.global_layers
    return global_layers, attention - global_layers


def kv_bytes(
    model: ModelProfile,
    num_ctx: int,
    num_parallel: int = 1,
    num_batch: int = 512,
    kv_type: str = "f16",
) -> int:
    """KV cache allocated for `num_ctx` tokens per sequence and `num_parallel` sequences."""
    per_token = model.kv_bytes_per_token_layer / 2 * KV_TYPE_BYTES[kv_type]
    global_layers, local_layers = _layer_split(model)
    cells = num_ctx * num_parallel
    local_cells = cells
    if model.sliding_window is not None:
        local_cells = min(cells, model.sliding_window * num_parallel + num_batch)
    return int(per_token * (global_layers * cells + local_layers * local_cells))


def kv_read_bytes(model: ModelProfile, depth: int, kv_type: str = "f16") -> float:
    """KV bytes one decode step reads for a sequence `depth` tokens deep."""
    per_token = model.kv_bytes_per_token_layer / 2 * KV_TYPE_BYTES[kv_type]
    global_layers, local_layers = _layer_split(model)
    local_depth = min(depth, model.sliding_window or depth)
    return per_token * (global_layers * depth + local_layers * local_depth)


def graph_bytes(model: ModelProfile, num_batch: int) -> int:
    """Compute buffer: logits for a batch plus activations; grows with vocab and batch."""
    return num_batch * (model.vocab_size + 8 * model.embedding_length) * 4


def place(
    model: ModelProfile, hw: HardwareProfile, cfg: LoadConfig, vram_free: int | None = None
) -> Placement:
    """Split a model between GPU and host the way the scheduler would.

    Raises PlacementError with the runner's CUDA text when `num_gpu` forces more layers
    onto the GPU than fit (the runner dies while loading).
    """
    weights = model.file_bytes
    kv = kv_bytes(model, cfg.num_ctx, cfg.num_parallel, cfg.num_batch, cfg.kv_type)
    graph = graph_bytes(model, cfg.num_batch)
    blocks = model.block_count
    if hw.gpu is None or cfg.num_gpu == 0:
        return Placement(weights, kv, graph, 0, blocks, 0)
    free = hw.gpu.total_bytes - hw.gpu.reserved_bytes if vram_free is None else vram_free
    per_layer = (weights + kv) / blocks
    if cfg.num_gpu < 0:
        if weights + kv + graph <= free:
            return Placement(weights, kv, graph, blocks, blocks, weights + kv + graph)
        layers = max(0, min(blocks, math.floor((free - graph) / per_layer)))
    else:
        layers = min(cfg.num_gpu, blocks)
        if layers * per_layer + graph > free:
            raise PlacementError(
                "llama runner process has terminated: error loading model: unable to "
                "allocate CUDA0 buffer: cudaMalloc failed: out of memory"
            )
    if layers == 0:
        return Placement(weights, kv, graph, 0, blocks, 0)
    vram = weights + kv + graph if layers == blocks else int(layers * per_layer) + graph
    return Placement(weights, kv, graph, layers, blocks, vram)


def check_host(placement: Placement, host_free: int) -> None:
    """Refuse a load whose host part exceeds free RAM, with Ollama's text."""
    if placement.host_bytes > host_free:
        need = placement.host_bytes / 1024**3
        have = max(host_free, 0) / 1024**3
        raise PlacementError(
            f"model requires more system memory ({need:.1f} GiB) than is available ({have:.1f} GiB)"
        )


def _attention_flops(model: ModelProfile, depth: float) -> float:
    """QK^T and AV for one token attending to `depth` earlier tokens, over all layers."""
    global_layers, local_layers = _layer_split(model)
    local_depth = min(depth, model.sliding_window or depth)
    per_layer = 4.0 * model.head_count * model.head_dim
    return per_layer * (global_layers * depth + local_layers * local_depth)


def _device_time(dev: Device, share: float, flops: float, read: float, eff: float) -> float:
    if share <= 0:
        return 0.0
    return max(flops * share / dev.flops, read * share / (dev.bandwidth_bytes_s * eff))


def step_seconds(
    model: ModelProfile,
    hw: HardwareProfile,
    placement: Placement,
    prefill: Sequence[tuple[int, int]],
    decode_depths: Sequence[int],
    kv_type: str = "f16",
) -> float:
    """One runner step: `prefill` holds (tokens, start depth) chunks, plus one token per
    decoding sequence. Weights are read once per step, which is why batching pays."""
    flops = 0.0
    read = model.file_bytes * model.active_params / model.params
    for tokens, start in prefill:
        flops += tokens * (2 * model.active_params + _attention_flops(model, start + tokens / 2))
        read += kv_read_bytes(model, start + tokens, kv_type)
    for depth in decode_depths:
        flops += 2 * model.active_params + _attention_flops(model, depth)
        read += kv_read_bytes(model, depth, kv_type)
    eff = hw.bandwidth_efficiency
    gpu_share = placement.gpu_fraction if hw.gpu is not None else 0.0
    seconds = _device_time(hw.cpu, 1.0 - gpu_share, flops, read, eff)
    if hw.gpu is not None:
        seconds += _device_time(hw.gpu, gpu_share, flops, read, eff)
    return seconds


def prefill_seconds(
    model: ModelProfile,
    hw: HardwareProfile,
    placement: Placement,
    tokens: int,
    start: int = 0,
    num_batch: int = 512,
    kv_type: str = "f16",
) -> float:
    """A single sequence's prompt, processed in `num_batch` chunks."""
    seconds, done = 0.0, 0
    while done < tokens:
        chunk = min(num_batch, tokens - done)
        seconds += step_seconds(model, hw, placement, [(chunk, start + done)], [], kv_type)
        done += chunk
    return seconds


def decode_seconds(
    model: ModelProfile, hw: HardwareProfile, placement: Placement, depth: int, kv_type: str = "f16"
) -> float:
    return step_seconds(model, hw, placement, [], [depth], kv_type)


def load_seconds(model: ModelProfile, hw: HardwareProfile) -> float:
    """Read the file from disk plus a fixed start-up cost of the runner."""
    return hw.load_overhead_s + model.file_bytes / hw.disk_bytes_s
