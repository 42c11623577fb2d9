"""Decode tok/s from Ollama's counters is the decode step rate, at any answer length.

Ollama's runner samples the first token from the prompt's last batch (timed in
`prompt_eval_duration`), so `eval_duration` spans eval_count - 1 decode steps; the simulator
reports its counters the same way. The step times are modelled, not measured, so this holds
on a busy host too.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.engines.base import ServerCounters
from harness.engines.ollama import OllamaEngine
from harness.sim.server import SimServer

PROMPT = [{"role": "user", "content": "word " * 300}]


@pytest.fixture
def sim_client() -> Iterator[OllamaEngine]:
    with SimServer(profile="tiny", speed=50.0) as server:
        client = OllamaEngine(server.url)
        try:
            yield client
        finally:
            client.close()


def test_short_and_long_answers_give_the_same_decode_rate(sim_client: OllamaEngine) -> None:
    rates: dict[int, float | None] = {}
    for n in (2, 3, 9, 64):
        got = sim_client.chat("gemma3:4b", PROMPT, options={"num_predict": n, "temperature": 0})
        assert got.counters.eval_count == n
        rates[n] = got.counters.decode_tok_s
    # Only the context's depth (one token more per step) moves the step time; counting the
    # first token as a decode step would put 2 tokens at twice the rate of 64.
    for n in (2, 3, 9):
        assert rates[n] == pytest.approx(rates[64], rel=0.005), rates


def test_one_token_has_no_decode_rate() -> None:
    assert ServerCounters(eval_count=1, eval_duration_ns=None).decode_tok_s is None
    assert ServerCounters(eval_count=1, eval_duration_ns=1000).decode_tok_s is None
    assert ServerCounters(eval_count=5, eval_duration_ns=2 * 10**9).decode_tok_s == 2.0
