"""The JSON bodies of the read-only endpoints: /api/tags, /api/show, /api/ps, /sim/state.

Shapes follow Ollama's api/types.go field for field, checked against the official Python
client's pydantic models (ListResponse, ShowResponse, ProcessResponse).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from harness.sim.model_runner import Runner
from harness.sim.profiles import HardwareProfile, ModelProfile, model_profiles

SIM_VERSION = "0.12.6"  # the Ollama release the simulator imitates (default num_ctx 4096)
MODIFIED_AT = "2025-10-01T12:00:00.123456Z"
_FOREVER = datetime(2318, 1, 1, tzinfo=UTC)  # what Ollama shows for keep_alive < 0


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def now_rfc3339() -> str:
    return rfc3339(datetime.now(UTC))


def details(model: ModelProfile) -> dict[str, Any]:
    return {
        "parent_model": "",
        "format": "gguf",
        "family": model.family,
        "families": [model.family],
        "parameter_size": model.parameter_size,
        "quantization_level": model.quantization,
    }


def tags() -> dict[str, Any]:
    """Every model under each name a user pulls it by: Ollama lists `gemma3:latest` and
    `gemma3:4b` as two tags of one digest, and matrices name models either way."""
    models = []
    for model in model_profiles().values():
        # A bare name ("gemma3") is how requests may say it; /api/tags always shows a tag.
        for name in (n for n in (model.name, *model.aliases) if ":" in n):
            models.append(
                {
                    "name": name,
                    "model": name,
                    "modified_at": MODIFIED_AT,
                    "size": model.file_bytes,
                    "digest": model.digest,
                    "details": details(model),
                }
            )
    return {"models": models}


def model_info(model: ModelProfile) -> dict[str, Any]:
    arch = model.architecture
    info: dict[str, Any] = {
        "general.architecture": arch,
        "general.parameter_count": int(model.params),
        "general.quantization_version": 2,
        f"{arch}.context_length": model.context_length,
        f"{arch}.block_count": model.block_count,
        f"{arch}.embedding_length": model.embedding_length,
        f"{arch}.feed_forward_length": model.feed_forward_length,
        f"{arch}.attention.head_count": model.head_count,
        "tokenizer.ggml.model": "llama" if arch == "gemma3" else "gpt2",
    }
    if len(model.attention_layers) < model.block_count:
        # Hybrid models list KV heads per layer, 0 for layers without attention.
        info[f"{arch}.attention.head_count_kv"] = [
            model.head_count_kv if i in model.attention_layers else 0
            for i in range(model.block_count)
        ]
    else:
        info[f"{arch}.attention.head_count_kv"] = model.head_count_kv
    if model.head_dim != model.embedding_length // model.head_count:
        info[f"{arch}.attention.key_length"] = model.head_dim
        info[f"{arch}.attention.value_length"] = model.head_dim
    if model.sliding_window is not None:
        info[f"{arch}.attention.sliding_window"] = model.sliding_window
    info.update(model.gguf)
    return dict(sorted(info.items()))


def _parameters_text(model: ModelProfile) -> str:
    lines = []
    for key, value in model.parameters:
        for item in value if isinstance(value, list) else [value]:
            shown = f'"{item}"' if isinstance(item, str) else str(item)
            lines.append(f"{key:<30} {shown}")
    return "\n".join(lines)


TEMPLATE = (
    "{{- range .Messages }}<start_of_turn>{{ .Role }}\n{{ .Content }}<end_of_turn>\n"
    "{{ end }}<start_of_turn>assistant\n"
)


def template(model: ModelProfile) -> str:
    return TEMPLATE if model.template is None else model.template


def _tensor_type(quantization: str) -> str:
    """The ggml type of a model's large tensors: Q4_K_M files hold Q4_K tensors."""
    for suffix in ("_S", "_M", "_L"):
        if quantization.endswith(suffix) and "_K" in quantization:
            return quantization.removesuffix(suffix)
    return quantization


def tensors(model: ModelProfile) -> list[dict[str, Any]]:
    """The GGUF tensor table /api/show lists: real names and shapes, one type for all
    matrices (a real file mixes several), F32 for the norms."""
    emb, ffn, hd = model.embedding_length, model.feed_forward_length, model.head_dim
    big = _tensor_type(model.quantization)
    gemma = model.architecture == "gemma3"
    rows: list[tuple[str, str, list[int]]] = [
        ("output_norm.weight", "F32", [emb]),
        ("token_embd.weight", big, [emb, model.vocab_size]),
    ]
    for i in range(model.block_count):
        layer: list[tuple[str, str, list[int]]] = [
            ("attn_norm.weight", "F32", [emb]),
            ("ffn_down.weight", big, [ffn, emb]),
            ("ffn_gate.weight", big, [emb, ffn]),
            ("ffn_norm.weight", "F32", [emb]),
            ("ffn_up.weight", big, [emb, ffn]),
        ]
        if i in model.attention_layers:
            layer += [
                ("attn_k.weight", big, [emb, model.head_count_kv * hd]),
                ("attn_output.weight", big, [model.head_count * hd, emb]),
                ("attn_q.weight", big, [emb, model.head_count * hd]),
                ("attn_v.weight", big, [emb, model.head_count_kv * hd]),
            ]
        if gemma:
            layer += [
                ("attn_k_norm.weight", "F32", [hd]),
                ("attn_q_norm.weight", "F32", [hd]),
                ("post_attention_norm.weight", "F32", [emb]),
                ("post_ffw_norm.weight", "F32", [emb]),
            ]
        rows += [(f"blk.{i}.{name}", kind, shape) for name, kind, shape in sorted(layer)]
    return [{"name": name, "type": kind, "shape": shape} for name, kind, shape in rows]


def show(model: ModelProfile) -> dict[str, Any]:
    """Ollama's ShowResponse: empty strings are left out (`omitempty`), as the server does."""
    text = template(model)
    # The Modelfile quotes a value only when it needs it (parser.quote).
    shown = f'"""{text}"""' if "\n" in text or '"' in text else text
    body: dict[str, Any] = {
        "license": model.license,
        "modelfile": f"# SIMULATED\nFROM {model.name}\nTEMPLATE {shown}\n",
        "parameters": _parameters_text(model),
        "template": text,
        "details": details(model),
        "model_info": model_info(model),
        "tensors": tensors(model),
        "capabilities": list(model.capabilities),
        "modified_at": MODIFIED_AT,
    }
    return {key: value for key, value in body.items() if value != ""}


def _expires(runner: Runner) -> str:
    if runner.expires_at is None:
        return rfc3339(_FOREVER)
    left = max(0.0, runner.expires_at - time.monotonic())
    return rfc3339(datetime.now(UTC) + timedelta(seconds=left))


def ps(runners: list[Runner]) -> dict[str, Any]:
    return {
        "models": [
            {
                "name": r.model.name,
                "model": r.model.name,
                "size": r.placement.size,
                "digest": r.model.digest,
                "details": details(r.model),
                "expires_at": _expires(r),
                "size_vram": r.placement.size_vram,
                "context_length": r.context_length,
            }
            for r in runners
        ]
    }


def state(
    hw: HardwareProfile, speed: float, runners: list[Runner], ignored: dict[str, int]
) -> dict[str, Any]:
    """The hardware sampler's view of the simulated machine."""
    host_used = hw.cpu.reserved_bytes + sum(r.placement.host_bytes for r in runners)
    devices = []
    if hw.gpu is not None:
        vram = sum(r.placement.size_vram for r in runners)
        devices.append(
            {
                "name": hw.gpu.name,
                "kind": "gpu",
                "total_bytes": hw.gpu.total_bytes,
                "used_bytes": vram + (hw.gpu.reserved_bytes if vram else 0),
            }
        )
    devices.append(
        {
            "name": hw.cpu.name,
            "kind": "cpu",
            "total_bytes": hw.cpu.total_bytes,
            "used_bytes": host_used,
        }
    )
    return {
        "simulated": True,
        "profile": hw.name,
        "speed": speed,
        "devices": devices,
        "host": {"total_bytes": hw.cpu.total_bytes, "used_bytes": host_used},
        "loaded": [
            {
                "name": r.model.name,
                "runner_id": r.runner_id,
                "num_ctx": r.context_length,
                "size": r.placement.size,
                "size_vram": r.placement.size_vram,
            }
            for r in runners
        ],
        "ignored_options": dict(ignored),
    }
