"""The matrix's `throughput` section, parsed strictly into a frozen ThroughputSection.

    throughput:
      model: gemma3:12b             # default: the matrix's first model
      sizes: [100, 1000, 10000]
      strategies: [independent, conversation]
      system_prompt_tokens: 1400    # the shared prompt (the seeds: ~1,500 prompt tokens)
      user_tokens: 60               # each request's own message
      num_predict: 3                # the seeds' 3-token scores
      extrapolate_to: 170000
      trim_strategy: sliding_window
      trim_threshold: 28000
      trim_interval: 50
      keep_messages: 40
      concurrency: 1
      num_ctx: 32768                # optional
      max_spread: 0.10              # req/s may vary this much across sizes
      memory_limit: 0.9375          # fraction of device memory (15 of 16 GB)

The suite declares the parser in its suite.py (harness/matrix/registry.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.batch.strategies import STRATEGIES
from harness.batch.trim import TRIMMERS
from harness.matrix.yamlsource import KeyPath, YamlSource


@dataclass(frozen=True)
class ThroughputSection:
    """How the throughput suite runs one matrix."""

    model: str | None = None
    sizes: tuple[int, ...] = (100, 1000, 10000)
    strategies: tuple[str, ...] = STRATEGIES
    system_prompt_tokens: int = 1400
    user_tokens: int = 60
    num_predict: int = 3
    extrapolate_to: int = 170_000
    trim_strategy: str = "sliding_window"
    trim_threshold: int = 28_000
    trim_interval: int = 50
    keep_messages: int = 40
    concurrency: int = 1
    num_ctx: int | None = None
    max_spread: float = 0.10
    memory_limit: float = 0.9375


_INTS = ("system_prompt_tokens", "user_tokens", "num_predict", "extrapolate_to",
         "trim_threshold", "trim_interval", "keep_messages", "concurrency", "num_ctx")  # fmt: skip
_FRACTIONS = ("max_spread", "memory_limit")
_KEYS = ("model", "sizes", "strategies", "trim_strategy", *_INTS, *_FRACTIONS)


def parse_throughput(src: YamlSource, at: KeyPath, raw: Any) -> ThroughputSection:
    """The section's value, or a MatrixError naming file, line, key and the fix."""
    if not isinstance(raw, dict):
        raise src.error(at, "throughput must be a mapping", "e.g. `throughput: {sizes: [100]}`")
    for key in raw:
        if key not in _KEYS:
            raise src.error((*at, key), f"unknown key {key!r}", f"use one of: {', '.join(_KEYS)}")
    values: dict[str, Any] = {}
    if "model" in raw:
        if not isinstance(raw["model"], str) or not raw["model"].strip():
            raise src.error((*at, "model"), f"model is {raw['model']!r}", "name an Ollama tag")
        values["model"] = raw["model"]
    if "sizes" in raw:
        values["sizes"] = _sizes(src, (*at, "sizes"), raw["sizes"])
    if "strategies" in raw:
        values["strategies"] = _choices(src, (*at, "strategies"), raw["strategies"], STRATEGIES)
    if "trim_strategy" in raw:
        values["trim_strategy"] = _choices(
            src, (*at, "trim_strategy"), [raw["trim_strategy"]], tuple(TRIMMERS)
        )[0]
    for key in _INTS:
        if key in raw:
            values[key] = _positive(src, (*at, key), raw[key])
    for key in _FRACTIONS:
        if key in raw:
            value = raw[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
                raise src.error((*at, key), f"{key} is {value!r}", "use a fraction in (0, 1]")
            values[key] = float(value)
    return ThroughputSection(**values)


def _positive(src: YamlSource, at: KeyPath, raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise src.error(at, f"{at[-1]} is {raw!r}", "use a positive integer")
    return raw


def _sizes(src: YamlSource, at: KeyPath, raw: Any) -> tuple[int, ...]:
    if not isinstance(raw, list) or len(raw) < 2:
        raise src.error(at, f"sizes is {raw!r}", "list two or more sizes, e.g. [100, 1000, 10000]")
    sizes = tuple(_positive(src, (*at, i), v) for i, v in enumerate(raw))
    if len(set(sizes)) != len(sizes):
        raise src.error(at, f"sizes {list(sizes)} repeat a size", "list each size once")
    return tuple(sorted(sizes))


def _choices(src: YamlSource, at: KeyPath, raw: Any, allowed: tuple[str, ...]) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw:
        raise src.error(at, f"{at[-1]} is {raw!r}", f"list some of: {', '.join(allowed)}")
    for value in raw:
        if value not in allowed:
            raise src.error(at, f"unknown value {value!r}", f"use one of: {', '.join(allowed)}")
    return tuple(dict.fromkeys(raw))
