"""The prediction from /api/show and /api/tags against the simulator's own physics."""

from __future__ import annotations

import pytest

from harness.limits.predict import Prediction, estimated_weights, shape_from_show
from harness.sim import physics
from harness.sim.catalog import show
from harness.sim.profiles import model_profile

SIM_MODELS = [
    "gemma3:12b",
    "gemma3:4b",
    "orieg/gemma3-tools:27b-it-qat",
    "liquid-rag:latest",
    "qwen2.5:3b-instruct",
    "qwen3-coder:30b",
]


@pytest.mark.parametrize("name", SIM_MODELS)
@pytest.mark.parametrize("ctx", [512, 1536, 4096, 32768, 131072])
def test_kv_cache_matches_the_simulator_for_every_architecture(name: str, ctx: int) -> None:
    model = model_profile(name)
    shape = shape_from_show(name, show(model), model.file_bytes)
    ctx = min(ctx, model.context_length)
    assert Prediction(shape).kv_bytes(ctx) == physics.kv_bytes(model, ctx)


def test_gemma3_has_one_global_layer_in_six_and_a_window() -> None:
    shape = shape_from_show("gemma3:12b", show(model_profile("gemma3:12b")), 1)
    assert (shape.global_layers, shape.sliding_window, shape.head_dim) == (8, 1024, 256)
    # Only the global layers grow: 8 x (2 x 8 heads x 256 x 2 bytes) per token.
    assert Prediction(shape).kv_bytes_per_token == 8 * 2 * 8 * 256 * 2


def test_per_layer_kv_heads_count_only_attention_layers() -> None:
    shape = shape_from_show("liquid-rag", show(model_profile("liquid-rag:latest")), 1)
    assert shape.attention_layers == 6
    assert shape.sliding_window is None
    assert shape.head_dim == 2048 // 32  # no key_length: embedding / heads


def test_weights_are_estimated_when_tags_do_not_list_the_name() -> None:
    info = show(model_profile("gemma3:4b"))
    assert estimated_weights(info) == pytest.approx(4.3e9 * 4.85 / 8, rel=0.05)


def test_largest_fitting_is_the_boundary() -> None:
    shape = shape_from_show("q", show(model_profile("qwen2.5:3b-instruct")), 2 * 1024**3)
    p = Prediction(shape)
    # Caches grow in steps of 256 cells, so a boundary is the last context of a step.
    n = p.largest_fitting(p.bytes_at(20000) + 10)
    assert n == 20224
    assert p.bytes_at(20224) == p.bytes_at(19969) < p.bytes_at(20225)
    assert p.largest_fitting(1) is None
    assert p.largest_fitting(10**15) == 32768  # never past the trained context
