"""--verify-fill: one real prompt filled to the recommended maximum must not be truncated.

A load proves the KV cache fits; a full prompt proves the server really uses that much
context (a server that silently caps num_ctx would cut the prompt and still answer 200).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

from harness.engines.loading import unload_model
from harness.errors import EngineError
from harness.measure.prompts import PromptBuilder, calibrate, is_truncated, target_prompt_tokens

NUM_PREDICT = 8


def verify_fill(
    engine: Any, model: str, num_ctx: int, options: Mapping[str, Any], time_scale: float = 1.0
) -> dict[str, Any]:
    """Send one prompt of ~num_ctx tokens; report the counts, truncation and TTFT."""
    opts = {**options, "num_ctx": num_ctx}
    builder = PromptBuilder(seed=zlib.crc32(f"{model}-{num_ctx}".encode()))
    out: dict[str, Any] = {"num_ctx": num_ctx, "truncated": None, "error": None}
    try:
        calibration = calibrate(engine, model, opts, builder)
        target = target_prompt_tokens(num_ctx, 1.0, NUM_PREDICT)
        words = calibration.words_for(target)
        got = engine.chat(
            model, builder.messages(words), options={**opts, "num_predict": NUM_PREDICT}
        )
    except EngineError as exc:
        return {**out, "error": f"{type(exc).__name__}: {exc}"}
    finally:
        _unload(engine, model)
    expected = calibration.expected_tokens(words)
    observed = got.counters.prompt_eval_count
    ttft = got.ttft_s
    return {
        **out,
        "target_tokens": target,
        "expected_tokens": round(expected),
        "prompt_eval_count": observed,
        "truncated": is_truncated(observed, expected),
        "ttft_s": None if ttft is None else round(ttft * time_scale, 4),
    }


def _unload(engine: Any, model: str) -> None:
    try:
        unload_model(engine, model)
    except EngineError:
        pass
