"""Results payloads with known numbers, shaped as the suites write them."""

from __future__ import annotations

from typing import Any

import pytest


def size_entry(strategy: str, size: int, total_s: float, savings: float) -> dict[str, Any]:
    return {
        "model": "gemma3:12b", "strategy": strategy, "size": size, "total_s": total_s,
        "req_s": size / total_s, "tokens_sent": 350 * size, "completion_tokens": 3 * size,
        "tokens_evaluated": 350 * size * (1 - savings), "token_savings": savings,
        "trims": size // 100, "peak_memory_bytes": 10 * 2**30, "errors": 0,
    }  # fmt: skip


def extrapolation(strategy: str, a: float, b: float) -> dict[str, Any]:
    time_s = a + b * 170_000
    return {
        "target": 170_000, "strategy": strategy, "sizes": [100, 1000],
        "time_s": time_s, "time_s_low": time_s * 0.9, "time_s_high": time_s * 1.2,
        "req_s": 170_000 / time_s, "prompt_tokens": 350 * 170_000,
        "prompt_tokens_low": 340 * 170_000, "prompt_tokens_high": 360 * 170_000,
        "completion_tokens": 3 * 170_000, "completion_tokens_low": 3 * 170_000,
        "completion_tokens_high": 3 * 170_000, "trims": 1700, "trims_low": 1500,
        "trims_high": 1900, "peak_memory_bytes": 10 * 2**30,
        "peak_memory_bytes_low": 10 * 2**30, "peak_memory_bytes_high": 11 * 2**30,
        "warning": None, "fit": {"a": a, "b": b, "r2": 0.999}, "method": "OLS",
    }  # fmt: skip


def throughput_case(
    strategy: str, b: float, *, verdict: str = "pass", num_ctx: int | None = 32768
) -> dict[str, Any]:
    rows = [size_entry(strategy, 100, 100 * b, 0.5), size_entry(strategy, 1000, 1000 * b, 0.6)]
    growth = {"tokens_per_request": 60, "system_tokens": 300, "source": "measured", "samples": 99}
    return {
        "id": f"gemma3:12b-{strategy}", "matrix": "gpu", "model": "gemma3:12b",
        "suite": "throughput", "verdict": verdict, "reason": None if verdict == "pass"
        else "size 1000 degraded", "num_ctx": num_ctx, "throughput": rows,
        "extrapolation": extrapolation(strategy, 2.0, b),
        "trim_plan": {"growth": growth} if strategy == "conversation" else None,
        "batch_settings": {
            "num_ctx": num_ctx, "concurrency": 1, "trim_strategy": "hybrid",
            "trim_threshold": 28_000, "trim_interval": 50, "keep_messages": 40,
            "memory_budget_bytes": 15 * 2**30, "memory_limit": 0.9375,
        },
    }  # fmt: skip


def limit_entry(model: str = "gemma3:12b", verdict: str = "pass") -> dict[str, Any]:
    return {
        "model": model, "matrix": "gpu", "verdict": verdict, "reason": "largest good context",
        "max_context": 106_240, "base_bytes": 8 * 2**30, "bytes_per_token": 66_560.0,
        "prediction": {"available_bytes": 15 * 2**30},
        "recommendations": {"max_context_tokens": 84_992, "trim_threshold": 72_243},
    }  # fmt: skip


def cell(model: str, num_ctx: int, use_case: str, verdict: str, tok_s: float) -> dict[str, Any]:
    return {
        "id": f"{model}-{num_ctx // 1024}k", "matrix": "cpu", "model": model, "num_ctx": num_ctx,
        "suite": "context_scaling", "use_case": use_case, "verdict": verdict,
        "reason": None if verdict == "pass" else "ttft_s p50 13 > 12",
        "metrics": {"ttft_s": {"p50": 5.0}, "decode_tok_s": {"p50": tok_s}},
        "stability": {"score": 0.9}, "memory": {"peak_bytes": 20 * 2**30},
        "options": {"num_ctx": num_ctx, "num_thread": 16},
        "thresholds": {"ttft_s": {"max": 12}},
    }  # fmt: skip


@pytest.fixture
def payload() -> dict[str, Any]:
    """gemma3:12b: conversation 0.14 s a request, independent 0.15 s, both passing."""
    cases = [throughput_case("independent", 0.15), throughput_case("conversation", 0.14)]
    return {"schema": "harness.results/1", "run_id": "r1", "simulated": False, "cases": cases,
            "throughput": [], "limits": [], "capacity": None, "extrapolation": None}  # fmt: skip
