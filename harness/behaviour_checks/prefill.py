"""Checks of what the server does with a prompt: truncation, and the prefix cache.

The prefix-cache check calibrates the per-token prefill cost on cold requests (a fresh
nonce each, so nothing is cached), then follows a conversation: with a working cache each
turn's TTFT follows the tokens that turn added; without one it follows the whole prompt.
A turn counts as cached when its TTFT is nearer the first prediction than the second; the
check uses the median turn, so one slow turn on a busy machine does not decide it.
"""

from __future__ import annotations

import statistics
from typing import Any

from harness import errors
from harness.behaviour_checks.base import (
    BehaviourSettings,
    ControlledServer,
    Finding,
    calibrated,
    cannot_judge,
    ok,
    seconds,
    ttft_ns,
    unload,
    wrong,
)
from harness.engines.base import NS_PER_S, Engine, Message
from harness.measure.prompts import PromptBuilder, is_truncated

COLD_TOKENS = (200, 6000)  # the two cold prompts that calibrate the prefill cost
COLD_REPEATS = 2  # the fastest of each: noise only ever adds time
SYSTEM_TOKENS = 4000
TURN_TOKENS = 300
TURNS = 6


def _long_prompt(engine: Engine, settings: BehaviourSettings) -> tuple[list[Message], float]:
    calibration = calibrated(engine, settings, settings.num_ctx)
    words = calibration.words_for(settings.num_ctx * 2)
    return PromptBuilder(seed=3).messages(words), calibration.expected_tokens(words)


def long_prompt_truncation_is_visible(engine: Engine, settings: BehaviourSettings) -> Finding:
    ctx = settings.num_ctx
    messages, sent = _long_prompt(engine, settings)
    got = engine.chat(settings.model, messages, options={"num_ctx": ctx, "num_predict": 2})
    counted = got.counters.prompt_eval_count
    facts = {"num_ctx": ctx, "sent_tokens": round(sent), "prompt_eval_count": counted}
    if counted is None:
        return cannot_judge("the server reported no prompt_eval_count", **facts)
    if counted > ctx or not is_truncated(counted, sent):
        return wrong(
            f"a prompt of ~{sent:.0f} tokens (twice num_ctx {ctx}) came back with "
            f"prompt_eval_count {counted}: no server evaluates more than its context holds, "
            "so it truncated without the prompt_eval_count sign (silent truncation)",
            **facts,
        )
    return ok(f"the cut is visible: prompt_eval_count {counted} of ~{sent:.0f} sent", **facts)


def truncate_false_is_refused(engine: Engine, settings: BehaviourSettings) -> Finding:
    messages, sent = _long_prompt(engine, settings)
    options = {"num_ctx": settings.num_ctx, "num_predict": 2}
    try:
        got = engine.chat(settings.model, messages, options=options, truncate=False)
    except errors.RequestRejected as exc:
        if exc.status == 400:
            return ok(f"refused: {exc}")
        return wrong(f'"truncate": false was refused with HTTP {exc.status}, not 400: {exc}')
    return wrong(
        f'a prompt of ~{sent:.0f} tokens with "truncate": false at num_ctx {settings.num_ctx} '
        f"was accepted (prompt_eval_count {got.counters.prompt_eval_count}): it must be "
        "refused with 400 `the input length exceeds the context length`"
    )


def _cold_cost(engine: Engine, settings: BehaviourSettings) -> tuple[float, float]:
    """(overhead ns, ns per prompt token) from the fastest of repeated cold requests."""
    calibration = calibrated(engine, settings, settings.cache_num_ctx)
    builder = PromptBuilder(seed=5)  # every prompt opens with a fresh nonce: never cached
    options = {"num_ctx": settings.cache_num_ctx, "num_predict": 1}
    points = []
    for tokens in COLD_TOKENS:
        words = calibration.words_for(tokens)
        runs = [
            engine.chat(settings.model, builder.messages(words), options=options)
            for _ in range(COLD_REPEATS)
        ]
        fastest = min(runs, key=ttft_ns)
        points.append((fastest.counters.prompt_eval_count or tokens, ttft_ns(fastest)))
    (n0, t0), (n1, t1) = points
    per_token = max(0.0, (t1 - t0) / (n1 - n0))
    return t0 - per_token * n0, per_token


def prefix_cache_follows_new_tokens(
    engine: ControlledServer, settings: BehaviourSettings
) -> Finding:
    unload(engine, settings)
    # A load request reports no load_duration, so a first chat measures the cold load.
    first = engine.chat(
        settings.model,
        [{"role": "user", "content": "hi"}],
        options={"num_ctx": settings.cache_num_ctx, "num_predict": 1},
    )
    overhead, per_token = _cold_cost(engine, settings)
    calibration = calibrated(engine, settings, settings.cache_num_ctx)
    builder = PromptBuilder(seed=9)
    messages: list[Message] = [
        {"role": "system", "content": builder.text(calibration.words_for(SYSTEM_TOKENS))}
    ]
    options = {"num_ctx": settings.cache_num_ctx, "num_predict": 8}
    turns: list[dict[str, Any]] = []
    previous = 0
    for turn in range(TURNS):
        words = calibration.words_for(TURN_TOKENS)
        messages.append({"role": "user", "content": builder.text(words)})
        got = engine.chat(settings.model, messages, options=options)
        counted = got.counters.prompt_eval_count or 0
        new = counted - previous
        cached_ns, full_ns = overhead + per_token * new, overhead + per_token * counted
        turns.append(
            {
                "turn": turn,
                "prompt_tokens": counted,
                "new_tokens": new,
                "ttft_ns": ttft_ns(got),
                "cached_ns": cached_ns,
                "full_ns": full_ns,
                "load_ns": got.counters.load_duration_ns or 0,
            }
        )
        messages.append({"role": "assistant", "content": got.text})
        previous = counted + (got.counters.eval_count or 0)
    return _judge_turns(turns[1:], first.counters.load_duration_ns or 0, per_token, settings)


def _judge_turns(
    turns: list[dict[str, Any]], load_ns: int, per_token: float, settings: BehaviourSettings
) -> Finding:
    shown = [
        {
            "turn": t["turn"],
            "prompt_tokens": t["prompt_tokens"],
            "new_tokens": t["new_tokens"],
            "ttft_s": seconds(t["ttft_ns"], settings),
            "predicted_cached_s": seconds(int(t["cached_ns"]), settings),
            "predicted_uncached_s": seconds(int(t["full_ns"]), settings),
        }
        for t in turns
    ]
    facts = {"turns": shown, "prefill_s_per_token": per_token * settings.time_scale / NS_PER_S}
    reloads = [t["turn"] for t in turns if load_ns and t["load_ns"] >= load_ns / 2]
    if reloads:
        return cannot_judge(
            f"the model reloaded before turn(s) {reloads}, which empties any "
            "cache; the reload checks report that",
            **facts,
        )
    if per_token <= 0:
        return cannot_judge("cold prompts of different lengths took the same time", **facts)
    # 0 = TTFT as predicted from the new tokens only, 1 = as predicted from the whole prompt.
    where = [(t["ttft_ns"] - t["cached_ns"]) / (t["full_ns"] - t["cached_ns"]) for t in turns]
    position = statistics.median(where)
    facts["median_position"] = round(position, 3)
    if position >= 0.5:
        worst = turns[sorted(range(len(where)), key=where.__getitem__)[len(where) // 2]]
        return wrong(
            f"turn {worst['turn']}: TTFT {seconds(worst['ttft_ns'], settings):.4f} s is what "
            f"re-processing all {worst['prompt_tokens']} prompt tokens costs (predicted "
            f"{seconds(int(worst['full_ns']), settings):.4f} s), not the "
            f"{worst['new_tokens']} new ones ({seconds(int(worst['cached_ns']), settings):.4f}"
            " s): the prefix cache is not working",
            **facts,
        )
    return ok("each turn's TTFT follows its new tokens: the prefix cache works", **facts)
