"""The sweeps against the simulator's truth: batching gain, where compute binds, what fits.

ryzen16-128gb + qwen2.5:3b-instruct is the machine where batching turns compute bound
inside the slot counts a sweep reaches (truth: at 16 slots); it runs up to 20x fast here.

A closed loop loses the time between one answer's last chunk and the client's next request
reaching a slot; compressed 20x, a busy host's few milliseconds of that turnaround become a
large share of each request and the measured throughput no longer follows the physics. So
the compression is chosen from the turnaround measured on this host right before each
sweep (tests/noise.py): it keeps that turnaround under TURNAROUND_SHARE of one request's
modelled duration.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from harness.concurrency.levels import MIN_GAIN
from harness.concurrency.load import LoadSample
from harness.concurrency.slo import Slo
from harness.concurrency.sweep import SweepPlan, run_sweep
from harness.concurrency.workers import ChatRequest, LoadPool, Sender
from harness.engines.ollama import OllamaEngine
from harness.sim.generation import MAX_REPLY, MIN_REPLY
from harness.sim.server import SimServer
from harness.sim.truth import truth
from tests.noise import WakeNoise, round_trip_s
from tests.suiterun import run_suite_once

PROFILE, MODEL, FASTEST = "ryzen16-128gb", "qwen2.5:3b-instruct", 20.0
# The simulator draws a reply's natural length (MIN_REPLY..MAX_REPLY tokens) from the `seed`
# option, or from the prompt when there is none; the prompts carry random nonces, so a level
# of 16-32 requests summed 1,000-1,460 tokens at 8 streams from one run to the next and its
# output rate varied 10-30% (issue 21: what looked like worker processes measuring 9% below
# threads). This seed gives every reply its longest natural length, so each request is
# `num_predict` tokens (up to MAX_REPLY) and a level's rate follows the physics alone.
FULL_LENGTH = {"seed": MAX_REPLY - MIN_REPLY}
OPTIONS = {"num_ctx": 2048, "num_predict": 48, "temperature": 0, **FULL_LENGTH}
TURNAROUND_SHARE = 0.02
CHUNK_SHARE = 0.1
TOP_STREAMS = 64  # the most streams a sweep below runs at once
MODELS = (MODEL, "gemma3:4b")  # every model a sweep below runs


def _closed_loop_at_1000x(streams: int, requests: int) -> tuple[list[LoadSample], float]:
    """`requests` requests from `streams` worker-process clients against a simulator at 1000x,
    where the modelled decode is microseconds a token: what is left is the Python on both
    sides of every chunk and the wake-ups between them. The samples and their wall seconds."""
    with SimServer(profile=PROFILE, speed=1000, num_parallel=streams) as probe:
        engine = OllamaEngine(probe.url)
        try:
            engine.load(MODEL, {"num_ctx": 2048})
            request = ChatRequest("ollama", probe.url, MODEL, OPTIONS, prompt_words=12, seed=2)
            with LoadPool(request) as pool:
                samples = pool.closed_loop(streams, requests)
        finally:
            engine.close()
    wall_s = (max(x.end_ns for x in samples) - min(x.sent_ns for x in samples)) / 1e9
    return samples, wall_s


def _one_request_s() -> float:
    """One request's modelled duration at one slot (simulated seconds)."""
    one_slot_tok_s: float = truth(PROFILE, MODEL)["aggregate_decode_tok_s"][1]
    return OPTIONS["num_predict"] / one_slot_tok_s


def _capacity_tok_s(streams: int = TOP_STREAMS) -> float:
    """Streamed tokens per wall second this host moves now at `streams` streams at once,
    a loaded host slowing and concurrent streams sharing it. Measured as the sweeps run:
    the streams in worker processes, the simulator in this one."""
    samples, wall_s = _closed_loop_at_1000x(streams, streams)
    return sum(x.output_tokens for x in samples) / wall_s


@pytest.fixture
def speed() -> float:
    """The fastest compression at which this host's own work stays a small share.

    Two shares: the turnaround between one answer and the next request (a closed loop
    loses it), and the host's capacity to move streamed tokens at the most streams a
    sweep runs, against the fastest aggregate rate the truth gives these sweeps (near that
    capacity the measured rate is the host's, not the physics'; a sweep here measured
    8 -> 16 -> 32 slots as +28%, +24% where the truth says +59%, +6%).

    Measured again for each test, just before its sweep: on a shared host the figures
    measured once per module were minutes old by the last test and the load had changed
    (the likely cause of a 1-slot sweep here that never saturated: level 1 losing to
    turnaround what level 2, keeping the slot busy, did not).
    """
    one_request_s = _one_request_s()
    top_rate: float = max(max(truth(PROFILE, m)["aggregate_decode_tok_s"].values()) for m in MODELS)
    with (
        WakeNoise() as noise,
        SimServer(profile=PROFILE) as probe,
        httpx.Client(base_url=probe.url) as client,
    ):
        rtt_s = round_trip_s(lambda: client.get("/api/version"), tries=20)
        time.sleep(0.3)  # enough wake-ups for the quantile on a quiet host too
    # The last chunk's read and the next request's arrival each wait for a wake-up.
    turnaround_s = rtt_s + 2 * noise.quantile_s(0.9)
    return min(
        FASTEST,
        TURNAROUND_SHARE * one_request_s / turnaround_s,
        CHUNK_SHARE * _capacity_tok_s() / top_rate,
    )


def _sweep(
    speed: float,
    slots: int,
    levels: tuple[int, ...],
    requests: int = 8,
    model: str = MODEL,
    options: dict[str, Any] = OPTIONS,
) -> dict[str, Any]:
    server = SimServer(profile=PROFILE, speed=speed, num_parallel=slots)
    engine = OllamaEngine(server.start())
    try:
        engine.load(model, {"num_ctx": 2048})
        # In worker processes, as a concurrency cell runs it: 64 client threads in this
        # process would share its GIL with the simulator's own threads.
        request = ChatRequest("ollama", engine.base_url, model, options, prompt_words=12, seed=1)
        plan = SweepPlan(levels, Slo(ttft_s=60.0), requests, scale=speed, slots=slots)
        return run_sweep(request, plan)
    finally:
        engine.close()
        server.stop()


def _levels(result: dict[str, Any]) -> list[tuple[Any, ...]]:
    """What a failed sweep saw: each level's load, output rate, TTFT p50 and p99, and its
    errors with examples (a stream whose requests fail leaves the others unqueued)."""
    return [
        (
            lv["concurrency"],
            round(lv["output_tok_s"], 1),
            lv["ttft_s"]["p50"],
            lv["ttft_s"]["p99"],
            lv["errors"],
            lv["error_examples"],
        )
        for lv in result["levels"]
    ]


def test_four_slots_decode_faster_by_the_physics_ratio(speed: float) -> None:
    expected = truth(PROFILE, MODEL)["aggregate_decode_tok_s"]
    one = _sweep(speed, 1, (1,))["levels"][0]["decode_tok_s_aggregate"]
    four = _sweep(speed, 4, (4,))["levels"][0]["decode_tok_s_aggregate"]
    assert four / one == pytest.approx(expected[4] / expected[1], rel=0.10)
    assert one == pytest.approx(expected[1], rel=0.15)


def test_sweep_stops_where_the_truth_says_compute_binds(speed: float) -> None:
    # The sweep stops at the first doubling that buys less than MIN_GAIN of its extra load,
    # so the truth must put that doubling clearly on one side of the cutoff: for gemma3:4b
    # here 8 -> 16 slots buys 59% and 16 -> 32 buys 6%. (qwen2.5:3b's 8 -> 16 buys 15%,
    # which a few percent of host noise pushes past 20%: CI once stopped it at 32.) Long
    # answers keep the time to first token a small share of each request, so the client's
    # output rate follows the decode physics the truth describes.
    model, options = MODELS[1], {**OPTIONS, "num_predict": MAX_REPLY}
    rates = truth(PROFILE, model)["aggregate_decode_tok_s"]
    bound = truth(PROFILE, model)["compute_bound_slots"]
    assert bound == 32
    assert rates[bound // 2] / rates[bound // 4] - 1 > 2 * MIN_GAIN
    assert rates[bound] / rates[bound // 2] - 1 < MIN_GAIN / 2
    result = _sweep(speed, 64, (4, 8, 16, 32, 64), requests=16, model=model, options=options)
    assert result["saturated_at"] == bound, (result["stop_reason"], _levels(result))


def _turnaround_through_a_worker_s(requests: int = 8) -> float:
    """What one request costs this host around the server's own time, the way a sweep pays it:
    one stream in a worker process, closed loop, at 1000x. The answer's chunks, the hop back
    to the client, its next request and every wake-up between them: on a loaded 2-core host
    this was ~80 ms where the in-process round trip and wake-up noise that `speed` reads
    said a few."""
    samples, wall_s = _closed_loop_at_1000x(1, requests)
    return wall_s / len(samples)


def test_requests_beyond_the_slots_queue(speed: float) -> None:
    """With one slot, two clients in a closed loop keep it busy and each waits for the other.

    The truth holds only while a client's turnaround (answer -> next request reaching the
    server) is a small share of a request: at ~a request long, the two clients alternate on
    the slot and nobody waits (seen at load 6 on 2 cores: TTFT p50 0.077 -> 0.079 s), and
    when it eats a share of level 1's time, level 2 gains what level 1 lost (21.9 -> 28.4
    tok/s). So the compression is also bounded by the turnaround measured through a worker
    process, as this sweep runs, just before it.
    """
    speed = min(speed, TURNAROUND_SHARE * _one_request_s() / _turnaround_through_a_worker_s())
    result = _sweep(speed, 1, (1, 2))
    assert result["saturated_at"] == 2, (speed, _levels(result))
    first, second = result["levels"]
    assert second["ttft_s"]["p50"] > 1.5 * first["ttft_s"]["p50"]


@pytest.fixture
def smoke_payload(pytester: pytest.Pytester) -> dict[str, Any]:
    run = run_suite_once(pytester, "concurrency", "--matrix", "smoke", "-q", timeout=120)
    return run.check().payload


def test_capacity_never_recommends_what_the_truth_says_does_not_fit(
    smoke_payload: dict[str, Any],
) -> None:
    entries = smoke_payload["capacity"]["entries"]
    assert {e["context"] for e in entries} == {4096, 16384}
    for entry in entries:
        fit = entry["max_parallel_fit"]
        assert truth("tiny", "gemma3:4b", num_parallel=fit)["max_context_gpu"] >= entry["context"]
        above = truth("tiny", "gemma3:4b", num_parallel=fit + 1)["max_context_gpu"]
        assert above < entry["context"]
        best = entry["best"]
        assert best is not None
        allowed = truth("tiny", "gemma3:4b", num_parallel=best["slots"])["max_context_gpu"]
        assert allowed >= entry["context"]
    sweeps = smoke_payload["concurrency"]
    assert {(s["context"], s["slots"]) for s in sweeps} == {
        (c, p) for c in (4096, 16384) for p in (1, 4)
    }
    for sweep in sweeps:
        for level in sweep["levels"]:
            assert {"p50", "p90", "p99"} <= set(level["ttft_s"])
            assert "goodput" in level


def test_every_reply_of_these_sweeps_is_num_predict_tokens_long() -> None:
    # What makes the levels comparable (FULL_LENGTH): without it the reply lengths, drawn
    # from the prompts' random nonces, vary the output rate more than the physics does.
    with SimServer(profile=PROFILE, speed=1000) as server:
        engine = OllamaEngine(server.url)
        try:
            for model, options in (
                (MODEL, OPTIONS),
                (MODELS[1], {**OPTIONS, "num_predict": MAX_REPLY}),
            ):
                request = ChatRequest("ollama", server.url, model, options, prompt_words=12)
                counts = {Sender(request, engine, seed)().counters.eval_count for seed in range(4)}
                assert counts == {options["num_predict"]}, (model, counts)
        finally:
            engine.close()
