"""The simulator's memory is a real Ollama's: gemma3:270m's `/api/ps` sizes to the byte.

The figures are what Ollama 0.24.0 reported (tests/sim/data/ollama-0.24.0/README.md); the
harness's own prediction (harness/limits/predict.py) must compute the same from the
simulator's `/api/show`, so a search on the simulator starts where one on a real server does.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.limits.predict import Prediction, shape_from_show
from harness.sim import physics
from harness.sim.catalog import show
from harness.sim.physics import LoadConfig
from harness.sim.profiles import hardware_profile, model_profile, model_profiles

RECORDED = Path(__file__).parent / "data" / "ollama-0.24.0"
MIB = 1024**2
MODEL = "gemma3:270m"

# /api/ps size by num_ctx: two recorded answers, three from the same server's README.
REAL_SIZE = {
    2048: json.loads((RECORDED / "api_ps_ctx2048.json").read_text())["models"][0]["size"],
    8192: json.loads((RECORDED / "api_ps_ctx8192.json").read_text())["models"][0]["size"],
    16384: 528_130_560,
    24576: 561_684_992,
    32768: 595_239_424,
}
# The server log's split (MiB, one decimal): KV cache and compute graph.
REAL_KV_MIB = {2048: 21.0, 8192: 39.0, 32768: 111.0}
REAL_GRAPH_MIB = {2048: 19.5, 8192: 27.5, 32768: 51.5}
REAL_WEIGHTS_MIB = 405.2


def _measured() -> list[tuple[int, int, int | None, float, float]]:
    """(num_ctx, num_batch, size or None, kv MiB, graph MiB) from ps_size_by_num_ctx.txt."""
    rows = []
    for line in (RECORDED / "ps_size_by_num_ctx.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            ctx, batch, size, kv, graph = line.split()
            rows.append(
                (int(ctx), int(batch), None if size == "-" else int(size), float(kv), float(graph))
            )
    return rows


def _placed(num_ctx: int) -> physics.Placement:
    return physics.place(model_profile(MODEL), hardware_profile("cpu2-ci"), LoadConfig(num_ctx))


@pytest.mark.parametrize("num_ctx", sorted(REAL_SIZE))
def test_ps_size_is_the_real_servers(num_ctx: int) -> None:
    placed = _placed(num_ctx)
    assert placed.size == REAL_SIZE[num_ctx]
    assert placed.size_vram == 0  # no GPU: everything is on the host, as the real one said


@pytest.mark.parametrize("num_ctx", sorted(REAL_KV_MIB))
def test_the_split_is_the_server_logs(num_ctx: int) -> None:
    placed = _placed(num_ctx)
    assert round(placed.weights_bytes / MIB, 1) == REAL_WEIGHTS_MIB
    assert round(placed.kv_bytes / MIB, 1) == REAL_KV_MIB[num_ctx]
    assert round(placed.graph_bytes / MIB, 1) == REAL_GRAPH_MIB[num_ctx]


@pytest.mark.parametrize(
    ("num_ctx", "num_batch", "size", "kv_mib", "graph_mib"),
    _measured(),
    ids=[f"ctx{row[0]}-batch{row[1]}" for row in _measured()],
)
def test_every_measured_load_is_the_real_servers(
    num_ctx: int, num_batch: int, size: int | None, kv_mib: float, graph_mib: float
) -> None:
    """Small contexts (the window, the padding, the batch capped at num_ctx), the step where
    the global mask stops fitting into freed space, and other batch sizes."""
    cfg = LoadConfig(num_ctx, num_batch=num_batch)
    placed = physics.place(model_profile(MODEL), hardware_profile("cpu2-ci"), cfg)
    if size is not None:
        assert placed.size == size
    assert round(placed.kv_bytes / MIB, 1) == kv_mib
    # The log rounds to 0.1 MiB, half to even as Go's fmt and Python's round both do.
    assert round(placed.graph_bytes / MIB, 1) == graph_mib


def test_size_grows_4096_bytes_per_token_beyond_8k() -> None:
    # 3,072 of KV in the 3 global layers + 1,024 of f16 mask (batch 512 x 2 bytes) per cell.
    grown = _placed(32768).size - _placed(8192).size
    assert grown / (32768 - 8192) == 4096
    kv = _placed(32768).kv_bytes - _placed(8192).kv_bytes
    assert kv / (32768 - 8192) == 3072


def test_the_prediction_from_show_is_the_simulators_physics() -> None:
    """For every simulated model, the harness's prediction (given the loaded weights) is the
    size the simulator reports, at contexts on and off the 256-cell steps and the window."""
    for name, model in model_profiles().items():
        shape = shape_from_show(name, show(model), model.weights_bytes)
        for parallel in (1, 2):
            prediction = Prediction(shape, num_parallel=parallel)
            for requested in (1, 300, 512, 700, 1536, 2048, 3328, 3584, 8192, 40000, 131072):
                ctx = min(requested, model.context_length)
                cfg = LoadConfig(ctx, num_parallel=parallel)
                size = physics.place(model, hardware_profile("cpu2-ci"), cfg).size
                assert prediction.bytes_at(ctx) == size, (name, parallel, ctx)


def test_the_prediction_knows_the_growth_of_the_real_server() -> None:
    shape = shape_from_show(MODEL, json.loads((RECORDED / "api_show.json").read_text()), 1)
    prediction = Prediction(shape)
    assert prediction.kv_bytes_per_token == 3072
    assert prediction.bytes_per_token == 4096
    assert prediction.kv_bytes_per_token_all_layers == 18432
    # From the real /api/show the prediction differs from the real size only by the weights
    # (it takes the file size; the server loads the tied output layer a second time).
    offset = REAL_SIZE[8192] - prediction.bytes_at(8192)
    assert all(REAL_SIZE[ctx] - prediction.bytes_at(ctx) == offset for ctx in REAL_SIZE)
