"""Wire shapes of the read-only endpoints, checked with the official client and raw HTTP."""

from __future__ import annotations

import httpx
import ollama
import pytest

from harness.sim.catalog import SIM_VERSION
from harness.sim.profiles import model_profile
from harness.sim.server import SimServer


def test_root_and_version(http: httpx.Client) -> None:
    root = http.get("/")
    assert root.status_code == 200
    assert root.text == "Ollama is running"
    assert http.head("/").status_code == 200
    assert http.get("/api/version").json() == {"version": SIM_VERSION}
    assert root.headers["X-Sim-Request-Id"].startswith("sim-")


def test_unknown_path_is_404(http: httpx.Client) -> None:
    assert http.get("/api/nope").status_code == 404


def test_list_has_every_model_with_file_size(client: ollama.Client) -> None:
    models = {m.model: m for m in client.list().models}
    assert "gemma3:4b" in models
    assert "qwen3-coder:30b" in models
    assert "orieg/gemma3-tools:27b-it-qat" in models
    gemma = models["gemma3:4b"]
    assert gemma.size == model_profile("gemma3:4b").file_bytes
    assert gemma.details is not None
    assert gemma.details.family == "gemma3"
    assert gemma.details.quantization_level == "Q4_K_M"


def test_show_has_gguf_keys(client: ollama.Client) -> None:
    info = client.show("gemma3:12b").modelinfo
    assert info is not None
    assert info["general.architecture"] == "gemma3"
    assert info["gemma3.context_length"] == 131072
    assert info["gemma3.block_count"] == 48
    assert info["gemma3.attention.head_count_kv"] == 8
    assert info["gemma3.attention.key_length"] == 256
    assert info["gemma3.attention.sliding_window"] == 1024


def test_show_alias_and_hybrid_layers(client: ollama.Client) -> None:
    assert client.show("gemma3:latest").modelinfo == client.show("gemma3:4b").modelinfo
    lfm = client.show("liquid-rag:latest")
    assert lfm.modelinfo is not None
    kv = lfm.modelinfo["lfm2.attention.head_count_kv"]
    assert isinstance(kv, list)
    assert len(kv) == 16
    assert sum(1 for k in kv if k) == 6
    qwen = client.show("qwen2.5:3b-instruct").modelinfo
    assert qwen is not None
    assert "qwen2.attention.key_length" not in qwen  # head_dim = embedding / heads
    assert lfm.capabilities == ["completion"]


def test_show_unknown_model_is_404(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as exc:
        client.show("nope:1b")
    assert exc.value.status_code == 404
    assert exc.value.error == "model 'nope:1b' not found"


def test_ps_reports_loaded_model(client: ollama.Client) -> None:
    assert client.ps().models == []
    client.generate(model="gemma3:4b", prompt="")
    (entry,) = client.ps().models
    assert entry.name == "gemma3:4b"
    assert entry.context_length == 4096
    assert entry.size == entry.size_vram
    assert entry.expires_at is not None
    assert entry.digest == model_profile("gemma3:4b").digest


def test_pull_streamed_and_not(client: ollama.Client) -> None:
    statuses = [p.status for p in client.pull("gemma3:4b", stream=True)]
    assert statuses[0] == "pulling manifest"
    assert statuses[-1] == "success"
    assert client.pull("gemma3:4b").status == "success"


def test_pull_unknown_model(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as exc:
        client.pull("nope:1b")
    assert exc.value.status_code == 500
    assert exc.value.error == "pull model manifest: file does not exist"
    with pytest.raises(ollama.ResponseError, match="file does not exist"):
        list(client.pull("nope:1b", stream=True))


def test_sim_state(http: httpx.Client, server: SimServer) -> None:
    state = http.get("/sim/state").json()
    assert state["simulated"] is True
    assert state["profile"] == "tiny"
    assert [d["kind"] for d in state["devices"]] == ["gpu", "cpu"]
    assert state["loaded"] == []
    http.post("/api/generate", json={"model": "gemma3:4b", "options": {"num_ctx": 2048}})
    state = http.get("/sim/state").json()
    (loaded,) = state["loaded"]
    assert loaded["num_ctx"] == 2048
    gpu = state["devices"][0]
    assert server.hw.gpu is not None
    assert gpu["used_bytes"] == loaded["size_vram"] + server.hw.gpu.reserved_bytes


def test_unknown_profile_lists_known() -> None:
    from harness.errors import ConfigError

    with pytest.raises(ConfigError, match="tiny"):
        SimServer(profile="nope")
