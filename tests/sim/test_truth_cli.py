"""`truth` against the server it describes, and the `harness sim` command."""

from __future__ import annotations

import json

import httpx
import pytest

from harness.cli import main
from harness.sim.generation import MAX_REPLY, MIN_REPLY
from harness.sim.server import SimServer
from harness.sim.truth import AGGREGATE_DEPTH, truth

KEYS = {
    "max_context_gpu",
    "max_context_load",
    "kv_bytes_per_token",
    "bytes_per_token",
    "weights_bytes",
    "memory_at",
    "prefill_tok_s",
    "decode_tok_s",
    "aggregate_decode_tok_s",
}


def test_cli_truth_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "sim",
            "truth",
            "--profile",
            "tiny",
            "--model",
            "gemma3:4b",
            "--contexts",
            "4096,32768",
            "--gpu-budget",
            "0.9",
            "--num-parallel",
            "2",
        ]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert KEYS <= set(data)
    assert set(data["memory_at"]) == {"4096", "32768"}
    assert data["num_parallel"] == 2
    assert data["decode_tok_s"]["4096"] > data["decode_tok_s"]["32768"]


def test_cli_truth_cpu_only_has_no_gpu_limit(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "truth", "--profile", "ryzen16-128gb", "--model", "gemma3:27b"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert "max_context_gpu" not in data
    assert data["max_context_load"] == 131072


def test_cli_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "truth", "--profile", "nope", "--model", "gemma3:4b"]) == 2
    assert "known profiles: cpu2-ci, rtx4080-16gb, ryzen16-128gb, tiny" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["sim", "truth", "--profile", "tiny", "--model", "x", "--contexts", "a,b"])


def test_cli_help_lists_truth(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["sim", "--help"])
    out = capsys.readouterr().out
    assert "truth" in out
    assert "--profile" in out


def test_truth_matches_the_server() -> None:
    result = truth("tiny", "gemma3:4b", gpu_budget=1.0)
    edge = result["max_context_gpu"]
    assert 4096 < edge < 131072
    with SimServer(profile="tiny", speed=100) as srv, httpx.Client(base_url=srv.url) as c:
        for ctx, on_gpu in ((edge, True), (edge + 1, False)):
            c.post("/api/generate", json={"model": "gemma3:4b", "options": {"num_ctx": ctx}})
            (entry,) = c.get("/api/ps").json()["models"]
            assert (entry["size_vram"] == entry["size"]) is on_gpu
            assert entry["size"] == truth("tiny", "gemma3:4b", [ctx])["memory_at"][ctx]


def test_truth_load_limit_matches_server_error() -> None:
    result = truth("tiny", "qwen3-coder:30b", gpu_budget=1.0, ram_budget=1.0)
    edge = result["max_context_load"]
    with SimServer(profile="tiny", speed=100) as srv, httpx.Client(base_url=srv.url) as c:
        ok = c.post(
            "/api/generate", json={"model": "qwen3-coder:30b", "options": {"num_ctx": edge}}
        )
        assert ok.status_code == 200
        c.post("/api/generate", json={"model": "qwen3-coder:30b", "keep_alive": 0})
        bad = c.post(
            "/api/generate", json={"model": "qwen3-coder:30b", "options": {"num_ctx": edge + 1}}
        )
        assert bad.status_code == 500
        assert "requires more system memory" in bad.json()["error"]


def test_gemma3_27b_kv_example_from_ollama_md() -> None:
    from harness.sim.physics import kv_bytes
    from harness.sim.profiles import model_profile

    # OLLAMA.md: about 3.1 GiB at 32K where the naive formula says 15.5 GiB.
    kv = kv_bytes(model_profile("gemma3:27b"), 32768)
    assert kv / 1024**3 == pytest.approx(3.1, abs=0.05)


def test_aggregate_grows_with_slots() -> None:
    agg = truth("rtx4080-16gb", "gemma3:12b")["aggregate_decode_tok_s"]
    assert agg[1] < agg[2] < agg[4] < agg[8]
    assert agg[8] < 8 * agg[1]


def test_bytes_per_token_is_the_growth_of_ps_size() -> None:
    """The KV cache plus the f16 attention mask (batch 512 x 2 bytes) per token."""
    small = truth("cpu2-ci", "gemma3:270m", contexts=(8192, 16384))
    assert small["kv_bytes_per_token"] == 3072
    assert small["bytes_per_token"] == 4096
    grown = small["memory_at"][16384] - small["memory_at"][8192]
    assert grown / 8192 == small["bytes_per_token"]
    assert truth("rtx4080-16gb", "gemma3:12b")["bytes_per_token"] == 65536 + 1024


def test_aggregate_is_taken_at_the_depth_asked() -> None:
    """Shallow sequences read less KV: faster at every slot count, compute bound sooner."""
    deep = truth("ryzen16-128gb", "gemma3:4b")
    shallow = truth("ryzen16-128gb", "gemma3:4b", aggregate_depth=84)
    assert (deep["aggregate_depth"], shallow["aggregate_depth"]) == (AGGREGATE_DEPTH, 84)
    for slots, rate in deep["aggregate_decode_tok_s"].items():
        assert shallow["aggregate_decode_tok_s"][slots] > rate
    assert shallow["compute_bound_slots"] < deep["compute_bound_slots"]
    with pytest.raises(ValueError, match="aggregate_depth"):
        truth("ryzen16-128gb", "gemma3:4b", aggregate_depth=0)


def test_one_slot_decodes_at_the_truth_of_its_mean_depth() -> None:
    """The server's own eval_duration for a 40-token prompt and 64-token answer is the
    truth's one-slot rate at the mean depth of its decode steps (41..103 deep: 40 + 64 / 2);
    at the default depth the truth is a different rate."""
    speed = 100.0
    with (
        SimServer(profile="ryzen16-128gb", speed=speed) as srv,
        httpx.Client(base_url=srv.url, timeout=60) as c,
    ):
        body = c.post(
            "/api/generate",
            json={
                "model": "qwen2.5:3b-instruct",
                "prompt": "word " * 40,
                "raw": True,
                "stream": False,
                "options": {"num_predict": 64, "seed": MAX_REPLY - MIN_REPLY},
            },
        ).json()
    assert (body["prompt_eval_count"], body["eval_count"]) == (40, 64)
    measured = (body["eval_count"] - 1) / (body["eval_duration"] * speed / 1e9)
    depth = body["prompt_eval_count"] + body["eval_count"] // 2
    rate = truth("ryzen16-128gb", "qwen2.5:3b-instruct", aggregate_depth=depth)
    assert measured == pytest.approx(rate["aggregate_decode_tok_s"][1], rel=1e-4)
    assert measured != pytest.approx(
        truth("ryzen16-128gb", "qwen2.5:3b-instruct")["aggregate_decode_tok_s"][1], rel=1e-3
    )


def test_cli_truth_takes_the_aggregate_depth(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["sim", "truth", "--profile", "tiny", "--model", "gemma3:4b"]
    assert main([*args, "--aggregate-depth", "64"]) == 0
    assert json.loads(capsys.readouterr().out)["aggregate_depth"] == 64
    with pytest.raises(SystemExit):
        main([*args, "--aggregate-depth", "0"])
    assert "'0' is not a positive integer" in capsys.readouterr().err
