"""One measured request as a results.json sample, in simulated time where that applies.

`time_scale` undoes the simulator's speed-up (1.0 for a real server): durations are
multiplied by it and rates divided, so every suite reports the same units the same way.
"""

from __future__ import annotations

from typing import Any

from harness.engines.base import NS_PER_S, StreamMeasurement
from harness.measure.prompts import is_truncated
from harness.measure.stats import percentile


def scaled_s(ns: int | None, time_scale: float) -> float | None:
    return None if ns is None else ns * time_scale / NS_PER_S


def scaled_rate(value: float | None, time_scale: float) -> float | None:
    return None if value is None else value / time_scale


def sample_record(
    got: StreamMeasurement,
    *,
    time_scale: float,
    expected_tokens: float,
    truncation_tolerance: float = 0.03,
) -> dict[str, Any]:
    """The sample of one answered request; `truncated` when the server cut the prompt."""
    c = got.counters
    itl = got.itl_s
    truncated = is_truncated(c.prompt_eval_count, expected_tokens, truncation_tolerance)
    server_decode = scaled_rate(c.decode_tok_s, time_scale)
    client_decode = scaled_rate(got.client_decode_tok_s, time_scale)
    server_prompt = scaled_rate(c.prompt_tok_s, time_scale)
    # Without server durations (OpenAI-compatible servers), prompt tokens over TTFT: a lower
    # bound on the prefill rate, since TTFT also holds the round trip and the first token.
    client_prompt = None
    if c.prompt_eval_count and got.ttft_s:
        client_prompt = c.prompt_eval_count / (got.ttft_s * time_scale)
    return {
        "outcome": "truncated" if truncated else "ok",
        "error": (
            f"prompt_eval_count {c.prompt_eval_count} < {expected_tokens:.0f} tokens sent: "
            "the server truncated the prompt"
        )
        if truncated
        else None,
        "ttft_s": None if got.ttft_s is None else got.ttft_s * time_scale,
        "e2e_s": got.e2e_s * time_scale,
        "prompt_tok_s": server_prompt if server_prompt is not None else client_prompt,
        "prompt_source": "server" if server_prompt is not None else "client (tokens / TTFT)",
        "decode_tok_s": server_decode if server_decode is not None else client_decode,
        "decode_source": "server" if server_decode is not None else "client",
        "client_decode_tok_s": client_decode,
        "itl_s_p50": percentile(itl, 50) * time_scale if itl else None,
        "itl_s_p90": percentile(itl, 90) * time_scale if itl else None,
        "prompt_eval_count": c.prompt_eval_count,
        "expected_prompt_tokens": round(expected_tokens),
        "eval_count": c.eval_count,
        "load_duration_s": scaled_s(c.load_duration_ns, time_scale),
        "prompt_eval_duration_s": scaled_s(c.prompt_eval_duration_ns, time_scale),
        "eval_duration_s": scaled_s(c.eval_duration_ns, time_scale),
        "ttft_gap_s": _ttft_gap_s(got, time_scale),
        "done_reason": got.done_reason,
    }


def _ttft_gap_s(got: StreamMeasurement, time_scale: float) -> float | None:
    """Client TTFT minus the server's own load + prompt evaluation: what the server's
    counters leave out (queueing, tokenizing, the first decode step, the wire, the client).
    """
    c = got.counters
    if got.ttft_s is None or c.prompt_eval_duration_ns is None:
        return None
    server_ns = (c.load_duration_ns or 0) + c.prompt_eval_duration_ns
    return (got.ttft_s - server_ns / NS_PER_S) * time_scale
