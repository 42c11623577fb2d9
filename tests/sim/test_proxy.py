"""FaultProxy damages exactly the responses it says it damages, the way each kind promises."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from harness import errors
from harness.engines.http import Timeouts
from harness.engines.ollama import OllamaEngine
from harness.engines.openai import OpenAIEngine
from harness.engines.retry import RetryPolicy
from harness.sim.proxy import FAULT_KINDS, FaultProxy
from harness.sim.server import SimServer

# What the engine raises for each kind of damage; a split response is not damaged.
EXPECTED: dict[str, set[type[errors.EngineError]]] = {
    "cut": {errors.StreamIncomplete},
    "reset": {errors.StreamIncomplete, errors.ServerUnreachable},
    # Garbage in a chunk's framing (its size line) is a broken HTTP stream, not a bad line.
    "garbage": {errors.MalformedChunk, errors.StreamIncomplete},
    "stall": {errors.RequestTimeout},
    "split": set(),
}


STALL_S = 2.0


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    with SimServer(profile="tiny", speed=1000.0) as server:
        yield server


def _timeouts(kind: str) -> Timeouts:
    # Short only where a stall (STALL_S) must become a timeout: elsewhere a busy machine's
    # slow answer must not count as damage.
    return Timeouts(read=1.0 if kind == "stall" else 30.0)


def _outcomes(url: str, requests: int, kind: str) -> Counter[str]:
    # No retries: every damaged response must surface as exactly one error.
    engine = OllamaEngine(url, _timeouts(kind), retry=RetryPolicy(max_attempts=1))
    seen: Counter[str] = Counter()
    try:
        for _ in range(requests):
            for call in (
                engine.version,
                lambda: engine.chat("gemma3:4b", [{"role": "user", "content": "hi"}]),
            ):
                try:
                    call()
                    seen["ok"] += 1
                except errors.EngineError as exc:
                    seen[type(exc).__name__] += 1
    finally:
        engine.close()
    return seen


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_each_damaged_response_is_one_error_of_its_kind(sim: SimServer, kind: str) -> None:
    with FaultProxy(sim.url, kind, rate=0.3, seed=3, stall_s=STALL_S) as proxy:
        seen = _outcomes(proxy.url, 15, kind)
    assert proxy.requests == 30
    assert 3 <= proxy.damaged <= 20  # 0.3 of 30, seeded
    failed = sum(n for name, n in seen.items() if name != "ok")
    allowed = {e.__name__ for e in EXPECTED[kind]}
    assert set(seen) - {"ok"} <= allowed, seen
    assert failed == (0 if kind == "split" else proxy.damaged), seen


def test_the_same_seed_damages_the_same_requests(sim: SimServer) -> None:
    runs = []
    for _ in range(2):
        with FaultProxy(sim.url, "garbage", rate=0.3, seed=11) as proxy:
            runs.append((_outcomes(proxy.url, 10, "garbage"), proxy.damaged))
    assert runs[0] == runs[1]


def test_bad_kind_and_rate_are_refused() -> None:
    with pytest.raises(ValueError, match="known: cut, reset, garbage, stall, split"):
        FaultProxy("http://127.0.0.1:1", "drop", 0.1)
    with pytest.raises(ValueError, match="probability"):
        FaultProxy("http://127.0.0.1:1", "cut", 1.5)


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_openai_streams_too(sim: SimServer, kind: str) -> None:
    """The SSE reader refuses a garbled line instead of skipping it as a non-data field."""
    with FaultProxy(sim.url, kind, rate=0.3, seed=5, stall_s=STALL_S) as proxy:
        engine = OpenAIEngine(proxy.url, _timeouts(kind), retry=RetryPolicy(max_attempts=1))
        seen: Counter[str] = Counter()
        try:
            for _ in range(20):
                try:
                    got = engine.chat("gemma3:4b", [{"role": "user", "content": "hi"}])
                    assert got.counters.eval_count == len(got.chunk_ns)  # every token arrived
                    seen["ok"] += 1
                except errors.EngineError as exc:
                    seen[type(exc).__name__] += 1
        finally:
            engine.close()
    assert proxy.requests == 20
    allowed = {e.__name__ for e in EXPECTED[kind]}
    assert set(seen) - {"ok"} <= allowed, seen
    assert 20 - seen["ok"] == (0 if kind == "split" else proxy.damaged), seen
