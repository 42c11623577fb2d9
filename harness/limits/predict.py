"""Memory of a model at any context, predicted from `/api/show` and `/api/tags` alone.

    bytes(ctx) = weights (the file size from /api/tags)
               + KV cache: per attention layer 2 (K, V) x kv_heads x head_dim x 2 bytes (f16)
                 x the cells that layer holds, padded to 256: all of ctx for a global layer;
                 for a sliding-window layer window + batch once ctx exceeds the window
               + compute graph: batch x 4 bytes x (4 x feed_forward + 2 x embedding), plus
                 the f16 attention masks, batch x cells x 2 bytes (the window layers' and
                 the global layers'), less batch x 4 x heads x head size while the global
                 mask is small enough to fit into freed space

where batch is num_batch capped at ctx. This is the simulator's physics (harness/sim/
physics.py), which matches Ollama 0.24.0's `/api/ps` size for gemma3:270m to the byte; so
beyond the KV cache, `size` grows by batch x 2 = 1,024 bytes per token of context (the mask).

The prediction comes first so the search can start near the answer, and it is recorded
beside every measurement so a report shows how far off it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from harness.engines.base import Catalogue, ModelDetails

# Gemma 3 interleaves 5 sliding-window layers with 1 global one (OLLAMA.md).
GEMMA3_LOCAL_PER_GLOBAL = 5
F16_BYTES = 2
F32_BYTES = 4
DEFAULT_NUM_BATCH = 512
KV_PADDING = 256  # Ollama pads every KV cache to 256 cells
FFN_BUFFERS = 4  # feed-forward-sized f32 buffers at the compute graph's peak (measured)
# /api/show omits the vocabulary unless asked verbosely; 128K tokens is typical of current
# models and errs on the side of a larger buffer. The first probe corrects any offset.
DEFAULT_VOCAB = 131072
# Average bits per weight of llama.cpp quantizations (their published sizes), used only when
# /api/tags has no size for the name asked (an alias); the first probe corrects the rest.
BITS_PER_WEIGHT = {
    "Q4_0": 4.55,
    "Q4_K_S": 4.58,
    "Q4_K_M": 4.85,
    "Q5_K_M": 5.69,
    "Q6_K": 6.56,
    "Q8_0": 8.5,
    "F16": 16.0,
    "BF16": 16.0,
}


@dataclass(frozen=True)
class ModelShape:
    """What decides a model's memory, read from /api/show and /api/tags."""

    name: str
    architecture: str
    weights_bytes: int
    context_length: int
    block_count: int
    embedding_length: int
    feed_forward_length: int
    head_count: int
    kv_heads: tuple[int, ...]  # per layer; 0 for a layer without attention
    head_dim: int
    global_layers: int  # attention layers that grow with the whole context
    sliding_window: int | None
    vocab_size: int

    @property
    def attention_layers(self) -> int:
        return sum(1 for heads in self.kv_heads if heads > 0)

    @property
    def kv_bytes_per_token_layer(self) -> float:
        """Average f16 K+V bytes for one token in one attention layer."""
        active = [h for h in self.kv_heads if h > 0]
        return 2 * F16_BYTES * self.head_dim * sum(active) / max(1, len(active))

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["kv_heads"] = list(self.kv_heads)
        return out


def _info(show: Mapping[str, Any], arch: str, key: str) -> Any:
    return (show.get("model_info") or {}).get(f"{arch}.{key}")


def _kv_heads(raw: Any, fallback: int, blocks: int) -> tuple[int, ...]:
    if isinstance(raw, list):
        return tuple(int(h) for h in raw)
    return (int(raw if raw is not None else fallback),) * blocks


def shape_from_show(name: str, show: Mapping[str, Any], weights_bytes: int) -> ModelShape:
    """Read the GGUF keys (OLLAMA.md "/api/show"); absent head sizes are embedding / heads."""
    info = show.get("model_info") or {}
    arch = str(info.get("general.architecture", ""))
    blocks = int(_info(show, arch, "block_count") or 0)
    embedding = int(_info(show, arch, "embedding_length") or 0)
    heads = int(_info(show, arch, "attention.head_count") or 1)
    kv_heads = _kv_heads(_info(show, arch, "attention.head_count_kv"), heads, blocks)
    head_dim = int(_info(show, arch, "attention.key_length") or embedding // max(1, heads))
    ffn = _info(show, arch, "feed_forward_length")
    if isinstance(ffn, list):  # per layer in some architectures: the largest decides
        ffn = max((int(f) for f in ffn), default=0)
    window = _info(show, arch, "attention.sliding_window")
    attention = sum(1 for h in kv_heads if h > 0)
    global_layers = attention
    if arch == "gemma3" and window:
        # Layer i is global when (i + 1) % 6 == 0: 48 layers -> 8, 62 -> 10, 34 -> 5.
        global_layers = blocks // (GEMMA3_LOCAL_PER_GLOBAL + 1)
    return ModelShape(
        name=name,
        architecture=arch,
        weights_bytes=weights_bytes,
        context_length=int(_info(show, arch, "context_length") or 0),
        block_count=blocks,
        embedding_length=embedding,
        # Without the key, the usual 4 x embedding of a transformer's feed-forward layer.
        feed_forward_length=int(ffn or 4 * embedding),
        head_count=heads,
        kv_heads=kv_heads,
        head_dim=head_dim,
        global_layers=global_layers,
        sliding_window=int(window) if window and global_layers < attention else None,
        vocab_size=int(_info(show, arch, "vocab_size") or DEFAULT_VOCAB),
    )


@dataclass(frozen=True)
class Prediction:
    """Predicted bytes of `shape` loaded at a context, for one batch size and slot count."""

    shape: ModelShape
    num_batch: int = DEFAULT_NUM_BATCH
    num_parallel: int = 1
    # A server that allocates sliding-window layers at the full context too
    # (llama-cpp-python's swa_full): every attention layer then grows with it.
    full_window_caches: bool = False

    @property
    def kv_bytes_per_token(self) -> float:
        """Marginal KV bytes per token of context: only global layers keep growing."""
        if self.full_window_caches:
            return self.kv_bytes_per_token_all_layers
        return self.shape.kv_bytes_per_token_layer * self.shape.global_layers * self.num_parallel

    @property
    def mask_bytes_per_token(self) -> int:
        """The f16 attention-mask row a cell of the global cache adds to Ollama's compute
        graph. Not for llama-cpp-python's server (the one that keeps full window caches):
        its memory grew 18,546 bytes/token where its KV cache takes 18,432 (issue 17)."""
        if self.full_window_caches:
            return 0
        return F16_BYTES * self.num_batch * self.num_parallel

    @property
    def bytes_per_token(self) -> float:
        """What `/api/ps` size grows by per token of context: KV cache plus mask."""
        return self.kv_bytes_per_token + self.mask_bytes_per_token

    def _batch(self, num_ctx: int) -> int:
        return max(1, min(self.num_batch, num_ctx))

    def _cells(self, num_ctx: int) -> tuple[int, int]:
        """(cells of a global layer's cache, of a sliding-window layer's cache), padded."""
        s = self.shape
        full = _round_up(num_ctx * self.num_parallel, KV_PADDING)
        if s.sliding_window is None or self.full_window_caches:
            return full, full
        memory = s.sliding_window + (1 if self.num_parallel > 1 else 0)
        if memory >= num_ctx:
            return full, full
        windowed = self.num_parallel * memory + self._batch(num_ctx)
        return full, _round_up(windowed, KV_PADDING)

    def compute_bytes(self, num_ctx: int) -> int:
        """The compute graph at `num_ctx`: a batch's activations and the attention masks
        (harness/sim/physics.py graph_bytes says what was measured)."""
        s = self.shape
        batch = self._batch(num_ctx)
        full, local = self._cells(num_ctx)
        streams = FFN_BUFFERS * s.feed_forward_length + 2 * s.embedding_length
        graph = F32_BYTES * batch * streams
        if self.full_window_caches:  # not Ollama's engine: no growing mask (see above)
            return graph
        if s.sliding_window is None:
            return graph + F16_BYTES * batch * full
        q_dim = s.head_count * s.head_dim
        global_mask = F16_BYTES * batch * full
        graph += F16_BYTES * batch * local + global_mask
        if global_mask <= F32_BYTES * batch * (q_dim + s.embedding_length):
            graph -= F32_BYTES * batch * q_dim  # the mask fits into freed space
        return graph

    def linear_start(self) -> int:
        """The context from which `bytes_at` grows in a straight line.

        Below it the compute graph steps once (the mask fits into freed space until the global
        mask passes 2 x (q + embedding) cells, see compute_bytes): a real Ollama grows
        gemma3:270m by 5,120 bytes/token from 2,048 to 4,096 and by 4,096 above.
        """
        s = self.shape
        if self.full_window_caches or s.sliding_window is None:
            return 0
        step = 2 * (s.head_count * s.head_dim + s.embedding_length)
        return _round_up(step + 1, KV_PADDING)

    def kv_bytes(self, num_ctx: int) -> int:
        s = self.shape
        full, local = self._cells(num_ctx)
        local_layers = s.attention_layers - s.global_layers
        per_layer = s.kv_bytes_per_token_layer
        return int(per_layer * (s.global_layers * full + local_layers * local))

    def bytes_at(self, num_ctx: int) -> int:
        return self.shape.weights_bytes + self.kv_bytes(num_ctx) + self.compute_bytes(num_ctx)

    def largest_fitting(self, available: float, correction: float = 0.0) -> int | None:
        """The largest context up to the trained one with bytes_at + correction <= available."""
        limit = self.shape.context_length
        if self.bytes_at(1) + correction > available:
            return None
        low, high = 1, limit
        while low < high:
            mid = (low + high + 1) // 2
            low, high = (
                (mid, high) if self.bytes_at(mid) + correction <= available else (low, mid - 1)
            )
        return low

    @property
    def kv_bytes_per_token_all_layers(self) -> float:
        """KV bytes per token if every attention layer kept the whole context.

        What a server that allocates full-size sliding-window caches grows by
        (llama-cpp-python's server: `swa_full` is on and has no flag), where Ollama keeps
        the window only and grows by `kv_bytes_per_token`.
        """
        s = self.shape
        return s.kv_bytes_per_token_layer * s.attention_layers * self.num_parallel

    def as_dict(self) -> dict[str, Any]:
        return {
            "shape": self.shape.as_dict(),
            "num_batch": self.num_batch,
            "num_parallel": self.num_parallel,
            "weights_bytes": self.shape.weights_bytes,
            "kv_bytes_per_token": self.kv_bytes_per_token,
            "kv_bytes_per_token_all_layers": self.kv_bytes_per_token_all_layers,
            "bytes_per_token": self.bytes_per_token,
            "mask_bytes_per_token": self.mask_bytes_per_token,
            "compute_bytes_at_context_length": self.compute_bytes(self.shape.context_length),
            "full_window_caches": self.full_window_caches,
        }


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def estimated_weights(show: Mapping[str, Any]) -> int:
    """Parameters x bits per weight, for a model /api/tags does not list by this name."""
    info = show.get("model_info") or {}
    quant = str((show.get("details") or {}).get("quantization_level", "")).upper()
    bits = BITS_PER_WEIGHT.get(quant, BITS_PER_WEIGHT["Q4_K_M"])
    return int(float(info.get("general.parameter_count") or 0) * bits / 8)


def predict_model(engine: Any, model: str, num_batch: int = DEFAULT_NUM_BATCH) -> Prediction:
    """Ask the server for the model's metadata (/api/show) and file size (/api/tags).

    A server that offers neither gives an empty shape: the search then runs up to the
    section's `max_context` and the first probe sets the scale."""
    show = engine.show(model) if isinstance(engine, ModelDetails) else {}
    sizes = {t.name: t.size for t in engine.tags()} if isinstance(engine, Catalogue) else {}
    weights = sizes.get(model) or sizes.get(f"{model}:latest") or estimated_weights(show)
    if not weights and len(sizes) == 1:
        weights = next(iter(sizes.values()))  # a launched server serves one model file
    return Prediction(
        shape_from_show(model, show, int(weights)),
        num_batch=num_batch,
        full_window_caches=bool(getattr(engine, "keeps_full_window_caches", False)),
    )
