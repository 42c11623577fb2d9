"""One model's whole discovery against the fake server: the `limits` entry it produces."""

from __future__ import annotations

from typing import Any

from harness.hardware import Budget
from harness.limits import Discovery, discover
from harness.limits.recovery import Backoff
from tests.limits.fakes import MODEL, FakeEngine, FakeSampler, FakeServer

KEYS = {
    "model",
    "hardware",
    "probes",
    "max_context",
    "bytes_per_token",
    "base_bytes",
    "r2",
    "residuals",
    "prediction",
    "recommendations",
    "verdict",
    "reason",
}
PROBE_KEYS = {
    "num_ctx",
    "outcome",
    "memory_bytes",
    "predicted_bytes",
    "size",
    "size_vram",
    "load_s",
}


def run(server: FakeServer, fake_engine: FakeEngine) -> dict[str, Any]:
    def new_sampler() -> FakeSampler:
        fake_engine.unload(MODEL)
        return FakeSampler(server)

    job = Discovery(
        model=MODEL,
        hardware="fake GPU",
        new_sampler=new_sampler,
        budget=Budget(),
        recovery=Backoff(first_s=0.001, max_s=0.001, total_s=0.01),
    )
    return discover(fake_engine, job)


def test_a_good_run_passes_with_every_key(server: FakeServer, fake_engine: FakeEngine) -> None:
    limit = run(server, fake_engine)
    assert KEYS <= set(limit)
    assert all(PROBE_KEYS <= set(p) for p in limit["probes"])
    assert limit["verdict"] == "pass", limit["reason"]
    assert abs(limit["max_context"] - server.truth()) <= 1024
    assert limit["bytes_per_token"] == server.prediction.bytes_per_token
    assert limit["r2"] > 0.999
    assert len(limit["probes"]) <= limit["search"]["max_probes"]
    assert {p["purpose"] for p in limit["probes"]} == {"search", "fit"}
    recs = limit["recommendations"]
    assert recs["max_context_tokens"] <= 0.8 * limit["max_context"]
    assert "OLLAMA_CONTEXT_LENGTH=" in recs["settings_text"]
    assert server.loaded is None


def test_oom_where_the_prediction_fits_is_a_finding(
    server: FakeServer, fake_engine: FakeEngine
) -> None:
    server.oom_from = 30000  # the card could hold ~80K tokens
    limit = run(server, fake_engine)
    assert limit["verdict"] == "fail"
    assert limit["findings"]
    assert limit["findings"][0].startswith("OOM below expected: oom at ")
    assert limit["max_context"] < 30000
    assert server.loaded is None


def test_nothing_fits(server: FakeServer, fake_engine: FakeEngine) -> None:
    server.total = 4 * 1024**3  # smaller than the weights
    limit = run(server, fake_engine)
    assert limit["max_context"] is None
    assert limit["recommendations"] is None
    assert "cannot find safe limits" in limit["reason"]
