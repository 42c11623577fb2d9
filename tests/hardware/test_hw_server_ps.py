from __future__ import annotations

from typing import Any

from harness.engines.base import LoadedModel
from harness.hardware.backends.server_ps import ServerPsBackend

GIB = 1024**3


def test_loaded_models_are_summed(fake_engine: Any) -> None:
    fake_engine.models = [
        LoadedModel("gemma3:12b", size=10 * GIB, size_vram=8 * GIB, context_length=32768),
        LoadedModel("qwen2.5:3b", size=3 * GIB, size_vram=3 * GIB, context_length=8192),
    ]
    backend = ServerPsBackend(fake_engine)
    values = backend.sample()
    assert values == {
        "ps.models_loaded": 2,
        "ps.size_bytes": 13 * GIB,
        "ps.size_vram_bytes": 11 * GIB,
        "ps.size_host_bytes": 2 * GIB,
        "ps.context_length": 32768,
    }
    models = backend.details()["models"]
    assert models["gemma3:12b"]["spilled"] is True
    assert models["qwen2.5:3b"] == {
        "size_peak_bytes": 3 * GIB,
        "size_vram_peak_bytes": 3 * GIB,
        "context_length": 8192,
        "spilled": False,
    }


def test_nothing_loaded_reads_as_zero(fake_engine: Any) -> None:
    values = ServerPsBackend(fake_engine).sample()
    assert values["ps.size_bytes"] == 0
    assert values["ps.models_loaded"] == 0
    assert "ps.context_length" not in values
