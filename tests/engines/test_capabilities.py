"""The core engine protocol, the capabilities each engine has, and the registry of kinds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from harness.behaviour_checks import CHECKS, BehaviourSettings
from harness.engines import ENGINE_KINDS, ENGINES, create_engine, find_engine_kind
from harness.engines.base import (
    Catalogue,
    LoadControl,
    ModelDetails,
    ServerContext,
    ServerMemory,
    Simulated,
    memory_accounting,
    missing_capabilities,
)
from harness.engines.launched import LaunchedEngine
from harness.engines.launcher import Launcher, LaunchSpec
from harness.engines.loading import WARM_UP, load_model, unload_all, unload_model
from harness.engines.ollama import OllamaEngine
from harness.engines.openai import OpenAIEngine
from harness.engines.pool import ServerPool, SimSettings
from harness.errors import ConfigError

ALL = (Catalogue, ModelDetails, LoadControl, ServerMemory, ServerContext, Simulated)
ROOT = Path(__file__).resolve().parents[2]


def _openai(seen: list[str]) -> OpenAIEngine:
    """An OpenAI-compatible server that answers one streamed token and lists one model."""

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path == "/v1/models":
            return httpx.Response(200, json={"data": [{"id": "m"}]})
        chunk = {"choices": [{"delta": {"content": "hi"}, "finish_reason": "length"}]}
        usage = {"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 1}}
        body = f"data: {json.dumps(chunk)}\n\ndata: {json.dumps(usage)}\n\ndata: [DONE]\n\n"
        headers = {"content-type": "text/event-stream"}
        return httpx.Response(200, stream=httpx.ByteStream(body.encode()), headers=headers)

    return OpenAIEngine("http://server.test", transport=httpx.MockTransport(handle))


def _has(engine: object) -> set[str]:
    return {cap.__name__ for cap in ALL} - set(missing_capabilities(engine, *ALL))


def test_each_engine_claims_only_what_its_server_offers() -> None:
    launched = LaunchedEngine(Launcher(LaunchSpec(template="server --port {port}")))
    assert _has(OllamaEngine("http://x")) == {
        "Catalogue",
        "ModelDetails",
        "LoadControl",
        "ServerMemory",
    }
    assert _has(OpenAIEngine("http://x")) == {"Catalogue", "ServerContext"}
    assert _has(launched) == {"Catalogue", "ModelDetails", "LoadControl", "ServerMemory"}
    assert memory_accounting(OllamaEngine("http://x")) == "server"
    assert memory_accounting(launched) == "process_rss"
    assert memory_accounting(OpenAIEngine("http://x")) == "none"


def test_a_server_without_load_control_is_warmed_up_and_the_result_says_so() -> None:
    seen: list[str] = []
    engine = _openai(seen)
    loaded = load_model(engine, "m", {"num_ctx": 4096})
    assert loaded.done_reason == WARM_UP
    assert loaded.load_duration_ns is None  # the server reports no load time
    assert seen == ["/v1/chat/completions"]
    assert unload_model(engine, "m") is False
    unload_all(engine)
    assert seen == ["/v1/chat/completions"]  # nothing faked, nothing sent


def test_checks_that_need_load_control_cannot_judge_a_server_without_it() -> None:
    finding = CHECKS["keep_alive_zero_unloads"](_openai([]), BehaviourSettings(model="m"))
    assert finding.passed is None
    assert "no LoadControl, ServerMemory:" in finding.message
    assert finding.details["missing_capabilities"] == ["LoadControl", "ServerMemory"]


def test_one_registry_lists_the_kinds_and_knows_which_is_simulated() -> None:
    assert ENGINE_KINDS == tuple(ENGINES) == ("ollama", "openai", "sim")
    assert [k for k in ENGINE_KINDS if find_engine_kind(k).simulated] == ["sim"]
    with pytest.raises(ConfigError, match="unknown engine 'tgi'; known engines: ollama, openai"):
        find_engine_kind("tgi")
    # At a URL the simulator is reached exactly as Ollama is.
    assert type(create_engine("sim", "http://x")) is OllamaEngine


def test_the_pool_starts_the_simulator_through_the_registry_and_stops_it() -> None:
    pool = ServerPool("sim", ["http://ignored"], SimSettings("tiny", 50.0))
    engine = pool.engine(0)
    try:
        assert isinstance(engine, Simulated)
        assert engine.kind == "ollama"  # results record the API it speaks, as before
        assert pool.urls == [engine.base_url]
        assert pool.clock_ns == engine.clock_ns
        engine.check()
    finally:
        pool.close()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{engine.base_url}/api/version", timeout=2)


def test_no_engine_name_is_tested_outside_the_engines_own_modules() -> None:
    # Callers ask for a capability; only harness/engines and harness/sim know the names.
    asked = re.compile(r"""(kind|engine)\s*[!=]=\s*["'](sim|ollama|openai)["']""")
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for top in ("harness", "suites")
        for path in sorted((ROOT / top).rglob("*.py"))
        if not path.is_relative_to(ROOT / "harness" / "sim")
        and not path.is_relative_to(ROOT / "harness" / "engines")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if asked.search(line)
    ]
    assert found == []
