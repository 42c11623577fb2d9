"""Hardware and model profiles of the simulator, read once from the package's YAML files.

The YAML is turned at once into frozen dataclasses; nothing downstream sees a raw dict.
Each number in the YAML says where it came from (OLLAMA.md calibration points).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from harness.errors import ConfigError

GIB = 1024**3
SIM_LICENSE = "SIMULATED model: no weights, no license."


@dataclass(frozen=True)
class Device:
    """One memory pool with its speed: a GPU, or the host CPU and its RAM."""

    name: str
    kind: str  # "gpu" | "cpu"
    total_bytes: int
    bandwidth_bytes_s: float
    flops: float  # effective prefill rate
    reserved_bytes: int  # taken before any model loads (CUDA context, the OS)


@dataclass(frozen=True)
class HardwareProfile:
    name: str
    description: str
    gpu: Device | None
    cpu: Device
    disk_bytes_s: float
    load_overhead_s: float
    bandwidth_efficiency: float


@dataclass(frozen=True)
class ModelProfile:
    """A model as the GGUF metadata describes it, plus its file size and quantization."""

    name: str
    aliases: tuple[str, ...]
    architecture: str
    parameter_size: str
    params: float
    active_params: float
    quantization: str
    file_bytes: int  # the blob /api/tags reports (tensors + GGUF metadata)
    weights_bytes: int  # what the loaded weights take in memory (see models.yaml)
    block_count: int
    attention_layers: tuple[int, ...]  # indices of layers that hold a KV cache
    global_layers: int | None  # None: every attention layer is global
    sliding_window: int | None
    embedding_length: int
    feed_forward_length: int
    head_count: int
    head_count_kv: int
    head_dim: int
    context_length: int
    vocab_size: int
    capabilities: tuple[str, ...]
    parameters: tuple[tuple[str, Any], ...]
    template: str | None  # None: the simulator's own Gemma-style chat template
    license: str
    gguf: tuple[tuple[str, Any], ...]  # further GGUF keys /api/show lists verbatim

    @property
    def digest(self) -> str:
        """A stable fake sha256, so /api/tags and /api/ps agree across runs."""
        return hashlib.sha256(self.name.encode()).hexdigest()

    @property
    def family(self) -> str:
        return self.architecture

    @property
    def kv_bytes_per_token_layer(self) -> int:
        """f16 K and V for one token in one attention layer (before the cache-type factor)."""
        return 2 * self.head_count_kv * self.head_dim * 2


def _device(raw: dict[str, Any], kind: str) -> Device:
    return Device(
        name=str(raw["name"]),
        kind=kind,
        total_bytes=int(raw["vram_bytes" if kind == "gpu" else "ram_bytes"]),
        bandwidth_bytes_s=float(raw["bandwidth_gbs"]) * 1e9,
        flops=float(raw["compute_tflops"]) * 1e12,
        reserved_bytes=int(raw.get("reserved_bytes", 0)),
    )


def _hardware(name: str, raw: dict[str, Any]) -> HardwareProfile:
    gpu = raw.get("gpu")
    return HardwareProfile(
        name=name,
        description=str(raw.get("description", "")),
        gpu=_device(gpu, "gpu") if gpu else None,
        cpu=_device(raw["cpu"], "cpu"),
        disk_bytes_s=float(raw["disk_gbs"]) * 1e9,
        load_overhead_s=float(raw["load_overhead_s"]),
        bandwidth_efficiency=float(raw["bandwidth_efficiency"]),
    )


def _model(name: str, raw: dict[str, Any]) -> ModelProfile:
    blocks = int(raw["block_count"])
    params = float(raw["params"])
    return ModelProfile(
        name=name,
        aliases=tuple(raw.get("aliases", ())),
        architecture=str(raw["architecture"]),
        parameter_size=str(raw["parameter_size"]),
        params=params,
        active_params=float(raw.get("active_params", params)),
        quantization=str(raw["quantization"]),
        file_bytes=int(raw["file_bytes"]),
        weights_bytes=int(raw.get("weights_bytes", raw["file_bytes"])),
        block_count=blocks,
        attention_layers=tuple(raw.get("attention_layers", range(blocks))),
        global_layers=raw.get("global_layers"),
        sliding_window=raw.get("sliding_window"),
        embedding_length=int(raw["embedding_length"]),
        feed_forward_length=int(raw["feed_forward_length"]),
        head_count=int(raw["head_count"]),
        head_count_kv=int(raw["head_count_kv"]),
        head_dim=int(raw["head_dim"]),
        context_length=int(raw["context_length"]),
        vocab_size=int(raw["vocab_size"]),
        capabilities=tuple(raw.get("capabilities", ("completion",))),
        parameters=tuple(sorted((raw.get("parameters") or {}).items())),
        template=raw.get("template"),
        license=str(raw.get("license", SIM_LICENSE)),
        gguf=tuple(sorted((raw.get("gguf") or {}).items())),
    )


def _load_yaml(filename: str) -> dict[str, Any]:
    text = resources.files("harness.sim").joinpath("profiles").joinpath(filename).read_text("utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ConfigError(f"sim profile file {filename!r} must be a mapping of name -> profile")
    return data


@cache
def hardware_profiles() -> dict[str, HardwareProfile]:
    """Every hardware profile by name."""
    return {name: _hardware(name, raw) for name, raw in _load_yaml("hardware.yaml").items()}


@cache
def model_profiles() -> dict[str, ModelProfile]:
    """Every model by its canonical name (aliases resolve through `model_profile`)."""
    return {name: _model(name, raw) for name, raw in _load_yaml("models.yaml").items()}


@cache
def _alias_index() -> dict[str, ModelProfile]:
    index: dict[str, ModelProfile] = {}
    for model in model_profiles().values():
        index[model.name] = model
        for alias in model.aliases:
            index[alias] = model
    return index


def find_model(name: str) -> ModelProfile | None:
    """The model a request names, accepting aliases and an implied `:latest` tag."""
    index = _alias_index()
    if name in index:
        return index[name]
    if ":" not in name:
        return index.get(f"{name}:latest")
    return None


def model_profile(name: str) -> ModelProfile:
    model = find_model(name)
    if model is None:
        known = ", ".join(sorted(_alias_index()))
        raise ConfigError(f"unknown sim model {name!r}; known models: {known}")
    return model


def hardware_profile(name: str) -> HardwareProfile:
    profiles = hardware_profiles()
    if name not in profiles:
        known = ", ".join(sorted(profiles))
        raise ConfigError(f"unknown sim profile {name!r}; known profiles: {known}")
    return profiles[name]
