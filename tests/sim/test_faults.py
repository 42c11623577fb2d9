"""Fault specs: parsing, reproducible draws, and each fault as a client sees it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import ollama
import pytest

from harness.errors import ConfigError
from harness.sim.faults import FaultPlan, FaultSpec
from harness.sim.server import SimServer
from harness.sim.wire import CRASH

CHAT = {
    "model": "gemma3:4b",
    "messages": [{"role": "user", "content": "hi"}],
    "options": {"num_predict": 8},
}


def test_parse_full_spec() -> None:
    spec = FaultSpec.parse(
        "disconnect=0.01,error_line=0.01,load_500=0.05,hang=0.001,"
        "slow_first_token=0.02,malformed=0.01,slowdown=1.2,seed=7"
    )
    assert spec.disconnect == 0.01
    assert spec.load_500 == 0.05
    assert spec.slowdown == 1.2
    assert spec.seed == 7
    assert FaultSpec.parse("") == FaultSpec()
    assert FaultSpec.parse(None) == FaultSpec()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("explode=0.1", "'explode=0.1'.*disconnect, error_line"),
        ("disconnect", "expected key=value"),
        ("disconnect=lots", "disconnect='lots'.*must be a number"),
        ("disconnect=1.5", "probability"),
        ("slowdown=0", "slowdown='0'.*> 0"),
        ("slowdown=nan", "slowdown='nan'.*finite"),  # nan passes `<= 0`
        ("hang_s=inf", "hang_s='inf'.*finite"),
        ("slow_first_token_s=nan", "finite"),
        ("seed=1.5", "seed='1.5'.*integer"),
    ],
)
def test_parse_errors_name_key_and_allowed(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        FaultSpec.parse(spec)


def test_draws_are_reproducible_from_seed() -> None:
    a = FaultSpec.parse("disconnect=0.5,error_line=0.5,seed=7")
    b = FaultSpec.parse("disconnect=0.5,error_line=0.5,seed=7")
    c = FaultSpec.parse("disconnect=0.5,error_line=0.5,seed=8")
    plans_a = [a.plan(i, 16) for i in range(50)]
    assert plans_a == [b.plan(i, 16) for i in range(50)]
    assert plans_a != [c.plan(i, 16) for i in range(50)]
    hits = sum(p.disconnect_at is not None for p in plans_a)
    assert 10 < hits < 40
    assert FaultSpec().plan(3, 16) == FaultPlan()


@pytest.fixture
def faulty(request: pytest.FixtureRequest) -> Iterator[SimServer]:
    with SimServer(profile="tiny", speed=100, faults=request.param) as srv:
        yield srv


@pytest.mark.parametrize("faulty", ["error_line=1,seed=1"], indirect=True)
def test_error_line_mid_stream(faulty: SimServer) -> None:
    with httpx.stream("POST", f"{faulty.url}/api/chat", json=CHAT) as resp:
        assert resp.status_code == 200
        lines = [json.loads(line) for line in resp.iter_lines()]
    assert lines[-1] == {"error": CRASH}
    assert not any(line.get("done") for line in lines)
    with (
        ollama.Client(host=faulty.url) as client,
        pytest.raises(ollama.ResponseError, match="unexpectedly stopped"),
    ):
        list(client.chat(**CHAT, stream=True))


@pytest.mark.parametrize("faulty", ["disconnect=1,seed=1"], indirect=True)
def test_disconnect_mid_stream(faulty: SimServer) -> None:
    with (
        pytest.raises(httpx.HTTPError),
        httpx.stream("POST", f"{faulty.url}/api/chat", json=CHAT) as resp,
    ):
        for _ in resp.iter_lines():
            pass


@pytest.mark.parametrize("faulty", ["malformed=1,seed=1"], indirect=True)
def test_malformed_line(faulty: SimServer) -> None:
    with httpx.stream("POST", f"{faulty.url}/api/chat", json=CHAT) as resp:
        lines = list(resp.iter_lines())
    bad = [line for line in lines if not _is_json(line)]
    assert len(bad) == 1
    assert json.loads(lines[-1])["done"] is True


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
    except json.JSONDecodeError:
        return False
    return True


@pytest.mark.parametrize("faulty", ["load_500=1,seed=1"], indirect=True)
def test_load_500_at_load(faulty: SimServer) -> None:
    resp = httpx.post(f"{faulty.url}/api/chat", json=CHAT)
    assert resp.status_code == 500
    assert "cudaMalloc failed: out of memory" in resp.json()["error"]


@pytest.mark.parametrize("faulty", ["hang=1,hang_s=5,seed=1"], indirect=True)
def test_hang_until_client_times_out(faulty: SimServer) -> None:
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{faulty.url}/api/chat", json=CHAT, timeout=httpx.Timeout(5.0, read=0.2))
    # stop() must not wait for the hang to run out: the fixture's exit proves it.


def test_slow_first_token_and_slowdown() -> None:
    body = {**CHAT, "stream": False}
    with SimServer(profile="tiny", speed=100) as base:
        ref = httpx.post(f"{base.url}/api/chat", json=body).json()
    with SimServer(profile="tiny", speed=100, faults="slowdown=3") as slow:
        slowed = httpx.post(f"{slow.url}/api/chat", json=body).json()
    assert slowed["eval_duration"] == pytest.approx(3 * ref["eval_duration"], rel=0.01)
    spec = "slow_first_token=1,slow_first_token_s=20,seed=1"  # 20 s / speed 100 = 0.2 s
    with SimServer(profile="tiny", speed=100, faults=spec) as late:
        httpx.post(f"{late.url}/api/generate", json={"model": "gemma3:4b"})
        with httpx.stream("POST", f"{late.url}/api/chat", json=CHAT) as resp:
            rid = resp.headers["X-Sim-Request-Id"]
            list(resp.iter_lines())
        record = late.timeline(rid)
    assert record["first_content_ns"] - record["received_ns"] >= 0.2e9
