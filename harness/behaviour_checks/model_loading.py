"""Checks of how the server loads, sizes and unloads a model (seed 004's regressions).

A reload is a new runner: the simulator's runner ids or a local server's runner processes
(harness.hardware.runners), else a changed `/api/ps` entry. `load_duration` is reported
beside but never judged: a warm request on a busy CPU can spend more than half a cold
load's time there without any reload.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.behaviour_checks.base import (
    BehaviourSettings,
    ControlledServer,
    Finding,
    calibrated,
    cannot_judge,
    expires_in_s,
    loaded,
    ok,
    seconds,
    unload,
    wait_for,
    wrong,
)
from harness.behaviour_checks.kv import kv_bytes_per_token
from harness.engines.base import Engine, LoadedModel, ModelDetails, StreamMeasurement
from harness.hardware.runners import runner_ids
from harness.limits.predict import Prediction, shape_from_show
from harness.measure.prompts import PromptBuilder, is_truncated

PROMPT = [{"role": "user", "content": "Say hello in five words."}]
FOREVER_S = 86_400.0  # "keep forever" shows as a far-future expires_at (year 2318 in Ollama)


def _ask(engine: Engine, settings: BehaviourSettings, num_ctx: int, **kw: Any) -> StreamMeasurement:
    options = {"num_ctx": num_ctx, "num_predict": 4, "seed": 1}
    return engine.chat(settings.model, PROMPT, options=options, **kw)


def _load_ns(got: StreamMeasurement) -> int:
    return got.counters.load_duration_ns or 0


@dataclass(frozen=True)
class Seen:
    """What witnesses the loaded model after one request: runner ids and the /api/ps entry."""

    runners: frozenset[str] | None
    entry: LoadedModel | None
    load_s: float | None

    def key(self) -> tuple[object, ...] | None:
        e = self.entry
        return None if e is None else (e.size, e.size_vram, e.context_length, e.digest)


def _seen(engine: ControlledServer, settings: BehaviourSettings, got: StreamMeasurement) -> Seen:
    return Seen(
        runner_ids(engine.base_url),
        loaded(engine, settings.model),
        seconds(_load_ns(got), settings),
    )


def _reloaded(before: Seen, after: Seen) -> bool | None:
    """True for a new runner (or a changed /api/ps entry); None when nothing can tell."""
    if before.runners is not None and after.runners is not None:
        return bool(after.runners - before.runners)
    if before.key() is None or after.key() is None:
        return None
    return before.key() != after.key() or None  # an unchanged entry cannot prove no reload


def _witness(seen: Seen) -> str:
    return "runner ids" if seen.runners is not None else "/api/ps only"


def identical_requests_do_not_reload(
    engine: ControlledServer, settings: BehaviourSettings
) -> Finding:
    unload(engine, settings)
    cold = _seen(engine, settings, _ask(engine, settings, settings.num_ctx))
    again = _seen(engine, settings, _ask(engine, settings, settings.num_ctx))
    facts = {
        "witness": _witness(again),
        "cold_load_s": cold.load_s,
        "second_load_s": again.load_s,
        "runners_before": sorted(cold.runners or ()),
        "runners_after": sorted(again.runners or ()),
    }
    if cold.entry is None:
        return cannot_judge("/api/ps does not list the model after a request", **facts)
    if _reloaded(cold, again):
        return wrong(
            "the second of two identical requests ran on a new runner "
            f"({facts['runners_before']} -> {facts['runners_after']}, witnessed by "
            f"{facts['witness']}): the server reloaded the model although no load-time "
            "option changed",
            **facts,
        )
    return ok(f"identical requests reuse the loaded model ({facts['witness']})", **facts)


def num_ctx_change_reloads_once(engine: ControlledServer, settings: BehaviourSettings) -> Finding:
    unload(engine, settings)
    cold = _seen(engine, settings, _ask(engine, settings, settings.num_ctx))
    bigger = settings.num_ctx * 2
    first = _seen(engine, settings, _ask(engine, settings, bigger))
    second = _seen(engine, settings, _ask(engine, settings, bigger))
    facts = {
        "witness": _witness(second),
        "cold_load_s": cold.load_s,
        "new_ctx_load_s": first.load_s,
        "repeat_load_s": second.load_s,
        "ps_context_length": None if second.entry is None else second.entry.context_length,
    }
    changed = _reloaded(cold, first)
    if changed is None and first.entry is not None:
        changed = first.entry.context_length == bigger or None
    if not changed:
        return wrong(
            f"changing num_ctx {settings.num_ctx} -> {bigger} did not reload the model "
            f"(same runner by {facts['witness']}; /api/ps context_length "
            f"{facts['ps_context_length']})",
            **facts,
        )
    if _reloaded(first, second):
        return wrong(
            f"the model reloaded again on the next request with the same num_ctx {bigger} "
            f"(a new runner by {facts['witness']}): a num_ctx change must reload exactly once",
            **facts,
        )
    return ok(f"num_ctx {settings.num_ctx} -> {bigger} reloaded exactly once", **facts)


def context_is_per_sequence(engine: ControlledServer, settings: BehaviourSettings) -> Finding:
    """`/api/ps` reports the num_ctx asked for, and one sequence really holds that much."""
    ctx = settings.num_ctx
    unload(engine, settings)
    engine.load(settings.model, {"num_ctx": ctx})
    entry = loaded(engine, settings.model)
    reported = None if entry is None else entry.context_length
    facts: dict[str, Any] = {
        "num_ctx": ctx,
        "ps_context_length": reported,
        "num_parallel": settings.num_parallel,
    }
    if reported is not None and reported != ctx:
        how = "multiplied" if reported > ctx else "divided"
        return wrong(
            f"/api/ps reports context_length {reported} for num_ctx {ctx}: the "
            f"per-sequence context was {how} (by the parallel slots?)",
            **facts,
        )
    calibration = calibrated(engine, settings, ctx)
    words = calibration.words_for(int(ctx * 0.85))
    expected = calibration.expected_tokens(words)
    got = engine.chat(
        settings.model,
        PromptBuilder(seed=11).messages(words),
        options={"num_ctx": ctx, "num_predict": 2},
    )
    counted = got.counters.prompt_eval_count
    facts.update(sent_tokens=round(expected), prompt_eval_count=counted)
    if is_truncated(counted, expected):
        return wrong(
            f"a prompt of ~{expected:.0f} tokens at num_ctx {ctx} came back with "
            f"prompt_eval_count {counted}: one sequence holds only ~{counted} tokens, not the "
            f"{ctx} /api/ps reports; the context is being divided among the slots",
            **facts,
        )
    return ok(f"one sequence holds the {ctx} tokens /api/ps reports", **facts)


def _growth_per_slot(
    show: dict[str, Any], model: str, num_ctx: int, kv_type: str
) -> tuple[float | None, str]:
    """Bytes /api/ps should grow per slot from num_ctx to 2 x num_ctx, and how it was known."""
    per_token = kv_bytes_per_token(show, kv_type)
    if per_token is not None:
        return per_token * num_ctx, "KV bytes per token x num_ctx"
    shape = shape_from_show(model, show, weights_bytes=0)
    if not shape.block_count or not shape.global_layers or kv_type != "f16":
        return None, "/api/show does not give the model's attention shape (or KV type not f16)"
    # Sliding-window layers stop growing at the window: the prediction knows which grow.
    one_slot = Prediction(shape)
    grown = one_slot.bytes_at(2 * num_ctx) - one_slot.bytes_at(num_ctx)
    return float(grown), "predicted growth (global layers only: sliding windows stay fixed)"


def kv_cache_grows_with_slots(engine: ControlledServer, settings: BehaviourSettings) -> Finding:
    """Doubling num_ctx adds num_ctx x slots x (KV bytes per token) to `/api/ps` size.

    It doubles from 2 x to 4 x the behaviour context: the first doubling can cross a step in
    the server's compute graph (a real Ollama grows gemma3:270m by 5,120 bytes per token from
    2,048 to 4,096 and by exactly 4,096 from 4,096 on), which is not the KV cache.
    """
    if not isinstance(engine, ModelDetails):
        return cannot_judge("the server gives no model details (/api/show): no KV prediction")
    low = settings.num_ctx * 2
    expected, how = _growth_per_slot(
        engine.show(settings.model), settings.model, low, settings.kv_type
    )
    if expected is None or expected <= 0:
        return cannot_judge(f"{settings.model}: {how}")
    sizes = []
    for ctx in (low, low * 2):
        unload(engine, settings)
        engine.load(settings.model, {"num_ctx": ctx})
        entry = loaded(engine, settings.model)
        if entry is None:
            return cannot_judge(f"/api/ps does not list {settings.model} after loading it")
        sizes.append(entry.size)
    slots = (sizes[1] - sizes[0]) / expected
    declared = settings.num_parallel
    facts = {
        "sizes": sizes,
        "expected_growth_per_slot": round(expected),
        "expected_from": how,
        "slots_seen": round(slots, 3),
        "num_parallel": declared,
    }
    grown = sizes[1] - sizes[0]
    if declared is not None and abs(slots - declared) > 0.25 * declared:
        return wrong(
            f"doubling num_ctx to {low * 2} grew /api/ps size by {grown} bytes, "
            f"the KV cache of {slots:.2f} sequence(s), but the server runs {declared} "
            "parallel slots: each slot must get the full num_ctx (the context is being "
            "divided among the slots)"
            if slots < declared
            else f"doubling num_ctx grew the KV cache by {slots:.2f} sequences' worth, more than "
            f"the {declared} declared slots",
            **facts,
        )
    if slots < 0.75:
        return wrong(
            f"doubling num_ctx grew /api/ps size by {grown} bytes, less than one "
            f"sequence's KV cache ({expected:.0f} bytes)",
            **facts,
        )
    return ok(f"the KV cache grows with {slots:.2f} slot(s) of num_ctx", **facts)


def keep_alive_zero_unloads(engine: ControlledServer, settings: BehaviourSettings) -> Finding:
    _ask(engine, settings, settings.num_ctx, keep_alive=0)
    gone = wait_for(lambda: loaded(engine, settings.model) is None, settings.unload_wait_s)
    if not gone:
        entry = loaded(engine, settings.model)
        left = None if entry is None else expires_in_s(entry)
        return wrong(
            f"the model is still loaded {settings.unload_wait_s:.0f} s after a request "
            f"with keep_alive 0 (expires in {left} s)",
            expires_in_s=left,
        )
    return ok("keep_alive 0 unloaded the model after the request")


def negative_keep_alive_keeps(engine: ControlledServer, settings: BehaviourSettings) -> Finding:
    _ask(engine, settings, settings.num_ctx, keep_alive=-1)
    wait_for(lambda: False, 1.5)  # longer than the short keep_alive check waits
    entry = loaded(engine, settings.model)
    left = None if entry is None else expires_in_s(entry)
    unload(engine, settings)
    if entry is None:
        return wrong(
            "the model was unloaded 1.5 s after a request with keep_alive -1 "
            "(negative means keep it loaded forever)"
        )
    if left is not None and left < FOREVER_S:
        return wrong(
            f"after keep_alive -1 /api/ps says the model expires in {left:.0f} s: "
            "the server ignored the negative keep_alive (forever)",
            expires_in_s=left,
        )
    return ok("keep_alive -1 keeps the model loaded", expires_in_s=left)


def short_keep_alive_expires(engine: ControlledServer, settings: BehaviourSettings) -> Finding:
    _ask(engine, settings, settings.num_ctx, keep_alive="1s")
    limit = 1.0 + settings.unload_wait_s
    if not wait_for(lambda: loaded(engine, settings.model) is None, limit):
        entry = loaded(engine, settings.model)
        left = None if entry is None else expires_in_s(entry)
        unload(engine, settings)
        return wrong(
            f"the model is still loaded {limit:.0f} s after a request with keep_alive "
            f'"1s" (expires in {left} s): the server does not expire idle models '
            "when keep_alive says",
            expires_in_s=left,
        )
    return ok('keep_alive "1s" expired the model')
