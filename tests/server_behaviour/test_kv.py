"""KV bytes per token from /api/show agree with the simulator's physics, model by model."""

from __future__ import annotations

import pytest

from harness.behaviour_checks import kv_bytes_per_token
from harness.sim import catalog, physics
from harness.sim.profiles import model_profile


@pytest.mark.parametrize("name", ["qwen2.5:3b-instruct", "qwen3-coder:30b", "liquid-rag:latest"])
def test_the_show_formula_matches_the_simulated_growth(name: str) -> None:
    model = model_profile(name)
    per_token = kv_bytes_per_token(catalog.show(model))
    grown = physics.kv_bytes(model, 8192) - physics.kv_bytes(model, 4096)
    assert per_token == pytest.approx(grown / 4096)


def test_qwen25_costs_36_kib_per_token() -> None:
    # 36 layers x 2 KV heads x (128 + 128) x 2 bytes (OLLAMA.md's table)
    show = catalog.show(model_profile("qwen2.5:3b-instruct"))
    assert kv_bytes_per_token(show) == 36 * 2 * 256 * 2
    assert kv_bytes_per_token(show, "q8_0") == pytest.approx(36 * 2 * 256 * 1.0625)


def test_sliding_window_models_and_unknown_cache_types_cannot_be_predicted() -> None:
    assert kv_bytes_per_token(catalog.show(model_profile("gemma3:4b"))) is None
    assert kv_bytes_per_token(catalog.show(model_profile("qwen2.5:3b-instruct")), "q2") is None
    assert kv_bytes_per_token({}) is None
