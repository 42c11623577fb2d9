"""The physical model: how many bytes a loaded model takes where, and how long work takes.

All times here are *simulated seconds* on the profiled machine; the scheduler divides them
by the server's speed (and multiplies by a slowdown fault) before sleeping.

Memory is what Ollama 0.24.0's engine allocates and `/api/ps` reports as `size`, checked to
the byte against a real server (tests/sim/test_memory_matches_ollama.py):
  weights  the loaded tensors (`ModelProfile.weights_bytes`);
  KV cache every cache holds cells padded to 256 (kvcache/causal.go); a global layer holds
           num_ctx x parallel cells, a sliding-window layer only parallel x window + batch
           once num_ctx exceeds the window;
  graph    the compute buffer ggml reserves for a worst-case batch: activations of a batch
           (feed-forward and residual streams, 4-byte floats) plus the f16 attention masks,
           batch x cells x 2 bytes each (see graph_bytes). The global layers' mask is why
           `size` grows by batch x 2 = 1,024 bytes per token beyond the KV cache.
The batch is num_batch capped at num_ctx (llm/server.go). When the total does not fit the
GPU, whole layers (weights + their KV) move to the host, as llama.cpp offloads.

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
# Ollama's ggml backend pads every KV cache to a multiple of 256 cells (CacheConfig).
KV_PADDING = 256
F32_BYTES, F16_BYTES = 4, 2
# Feed-forward-sized f32 buffers live at once in the compute graph's peak (measured).
FFN_BUFFERS = 4


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


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def batch_size(num_ctx: int, num_batch: int) -> int:
    """The batch a runner is loaded with: num_batch, capped at num_ctx (llm/server.go)."""
    return max(1, min(num_batch, num_ctx))


def kv_cells(
    model: ModelProfile, num_ctx: int, num_parallel: int = 1, num_batch: int = 512
) -> tuple[int, int]:
    """(cells of a global layer's cache, cells of a sliding-window layer's cache).

    A window cache keeps `window` tokens per sequence (one more with several sequences, for
    the stop token) plus a batch being added; when that is not smaller than num_ctx it is
    an ordinary cache (kvcache/causal.go Init)."""
    full = _round_up(num_ctx * num_parallel, KV_PADDING)
    if model.sliding_window is None:
        return full, full
    memory = model.sliding_window + (1 if num_parallel > 1 else 0)
    if memory >= num_ctx:
        return full, full
    windowed = num_parallel * memory + batch_size(num_ctx, num_batch)
    return full, _round_up(windowed, KV_PADDING)


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
    full, local = kv_cells(model, num_ctx, num_parallel, num_batch)
    return int(per_token * (global_layers * full + local_layers * local))


def kv_read_bytes(model: ModelProfile, depth: int, kv_type: str = "f16") -> float:
    """KV bytes one decode step reads for a sequence `depth` tokens deep."""
    per_token = model.kv_bytes_per_token_layer / 2 * KV_TYPE_BYTES[kv_type]
    global_layers, local_layers = _layer_split(model)
    local_depth = min(depth, model.sliding_window or depth)
    return per_token * (global_layers * depth + local_layers * local_depth)


def graph_bytes(
    model: ModelProfile, num_ctx: int, num_parallel: int = 1, num_batch: int = 512
) -> int:
    """Compute buffer: a batch's activations plus the f16 attention masks.

    Measured on Ollama 0.24.0 with gemma3:270m at 19 (num_ctx, num_batch) pairs, every one
    to the byte (tests/sim/test_memory_matches_ollama.py): batch x 4 bytes x (4 x feed-forward
    + 2 x embedding), plus batch x 2 bytes per cell of each mask (the window layers', then the
    global layers'). While the global mask is at most batch x 4 x (q + embedding) bytes
    (q = heads x head size) the buffer is batch x 4 x q bytes smaller: ggml's allocator then
    fits it into space freed by the layers before. Models without a window have one mask; their
    buffer is the formula's larger case (not measured)."""
    batch = batch_size(num_ctx, num_batch)
    full, local = kv_cells(model, num_ctx, num_parallel, num_batch)
    streams = FFN_BUFFERS * model.feed_forward_length + 2 * model.embedding_length
    graph = F32_BYTES * batch * streams
    if model.sliding_window is None:
        return graph + F16_BYTES * batch * full
    q_dim = model.head_count * model.head_dim
    global_mask = F16_BYTES * batch * full
    graph += F16_BYTES * batch * local + global_mask
    if global_mask <= F32_BYTES * batch * (q_dim + model.embedding_length):
        graph -= F32_BYTES * batch * q_dim
    return graph


def place(
    model: ModelProfile, hw: HardwareProfile, cfg: LoadConfig, vram_free: int | None = None
) -> Placement:
    """Split a model between GPU and host the way the scheduler would.

    Raises PlacementError with the runner's CUDA text when `num_gpu` forces more layers
    onto the GPU than fit (the runner dies while loading).
    """
    weights = model.weights_bytes
    kv = kv_bytes(model, cfg.num_ctx, cfg.num_parallel, cfg.num_batch, cfg.kv_type)
    graph = graph_bytes(model, cfg.num_ctx, cfg.num_parallel, cfg.num_batch)
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
    read = model.weights_bytes * model.active_params / model.params
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
