"""KV cache bytes per token of context, from `/api/show`'s GGUF keys (OLLAMA.md).

    bytes per token per sequence = sum over layers of kv_heads x (key_length + value_length)
                                   x bytes per element (f16 2, q8_0 ~1.06, q4_0 ~0.56)

`head_count_kv` may be a per-layer list (hybrid models list 0 for layers without
attention); `key_length`/`value_length` default to embedding_length / head_count. Models
with a sliding window (Gemma 3) keep most layers at a fixed size, so their growth per token
depends on which layers are global, which `/api/show` does not say: they get None.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

KV_TYPE_BYTES: dict[str, float] = {"f16": 2.0, "q8_0": 1.0625, "q4_0": 0.5625}


def kv_bytes_per_token(show: Mapping[str, Any], kv_type: str = "f16") -> float | None:
    """Bytes one more token of num_ctx adds per sequence; None when it cannot be known."""
    info: Mapping[str, Any] = show.get("model_info") or {}
    arch = info.get("general.architecture")
    if not isinstance(arch, str) or kv_type not in KV_TYPE_BYTES:
        return None
    if info.get(f"{arch}.attention.sliding_window") is not None:
        return None
    blocks = info.get(f"{arch}.block_count")
    heads = info.get(f"{arch}.attention.head_count")
    embedding = info.get(f"{arch}.embedding_length")
    kv_heads = info.get(f"{arch}.attention.head_count_kv", heads)
    if not isinstance(blocks, int) or not isinstance(heads, int) or not heads:
        return None
    default_dim = embedding // heads if isinstance(embedding, int) else None
    key = info.get(f"{arch}.attention.key_length", default_dim)
    value = info.get(f"{arch}.attention.value_length", default_dim)
    if not isinstance(key, int) or not isinstance(value, int):
        return None
    per_layer = kv_heads if isinstance(kv_heads, list) else [kv_heads] * blocks
    if not all(isinstance(n, int) for n in per_layer):
        return None
    return float(sum(per_layer) * (key + value) * KV_TYPE_BYTES[kv_type])
