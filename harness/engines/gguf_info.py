"""A GGUF file's metadata in the shape of Ollama's `/api/show`, for servers without one.

A server the harness launches (llama.cpp's, vLLM) has no `/api/show`, but its model file is
on disk (`--launch-var model_path=...`): its GGUF keys are the same ones Ollama copies into
`model_info`, so the memory prediction works through a launched server as through Ollama.
Needs the `gguf` package (the `llamacpp` extra); without it, or for a file that is not
GGUF, the caller gets None and the search goes on without a prediction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

_SCALARS = (int, float, str, bool)


def show_from_gguf(path: Path) -> dict[str, Any] | None:
    """`{"model_info": {...}, "details": {...}}` read from the file, or None."""
    try:
        import gguf
    except ModuleNotFoundError:
        return None
    try:
        reader = gguf.GGUFReader(str(path))
    except (OSError, ValueError):
        return None
    info: dict[str, Any] = {}
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        if key == "tokenizer.ggml.tokens":
            info["tokenizer.ggml.tokens_count"] = len(field.data)
            continue
        if key.startswith("tokenizer.ggml.") and key != "tokenizer.ggml.model":
            continue  # token tables: large, and nothing the prediction reads
        value = _value(field)
        if value is not None:
            info[key] = value
    arch = str(info.get("general.architecture", ""))
    if "tokenizer.ggml.tokens_count" in info:
        info.setdefault(f"{arch}.vocab_size", info["tokenizer.ggml.tokens_count"])
    return {"model_info": info, "details": {"format": "gguf", "family": arch}}


def _value(field: Any) -> Any:
    try:
        value = field.contents()
    except (ValueError, IndexError, TypeError):
        return None
    if isinstance(value, _SCALARS):
        return value
    # Per-layer lists (head_count_kv of hybrid models) are numbers; string lists are tags.
    if isinstance(value, list) and value and all(isinstance(v, int | float) for v in value):
        return value
    return None
