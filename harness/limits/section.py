"""The matrix's `limits:` section: which models to search, and how to turn limits into settings.

limits:
  resolution: 1024          # tokens; the search stops this close to the limit
  safety: 0.80              # MAX_CONTEXT_TOKENS = largest good context x safety
  trim_fraction: 0.85       # CONTEXT_TRIM_THRESHOLD = MAX_CONTEXT_TOKENS x this
  tokens_per_request: 1500  # average tokens one request adds to a conversation
  messages_per_request: 2   # user + assistant
  keep_fraction: 0.5        # part of the threshold kept after a trim
  system_tokens: 0          # the system prompt that survives every trim
  recovery_s: 120           # how long to wait for a crashed server between probes
  max_context: 32768        # the top of the search when nothing says the trained context
                            # (neither /api/show nor, for --launch, the model_path GGUF)
  models:
    - gemma3:12b
    - {name: qwen2.5:3b-instruct, tokens_per_request: 800, options: {num_batch: 256}}
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from harness.limits.recommend import Policy
from harness.limits.search import DEFAULT_RESOLUTION
from harness.matrix.yamlsource import KeyPath, YamlSource, finite_number

_FRACTIONS = ("safety", "trim_fraction", "keep_fraction")
_COUNTS = ("tokens_per_request", "messages_per_request")
_POLICY_KEYS = (*_FRACTIONS, *_COUNTS, "system_tokens")
_TOP_KEYS = ("models", "resolution", "recovery_s", "max_context", *_POLICY_KEYS)
_MODEL_KEYS = ("name", "options", "max_context", *_POLICY_KEYS)


@dataclass(frozen=True)
class LimitModel:
    """One model to search, with its own policy (the section's, overridden per model)."""

    name: str
    policy: Policy
    options: Mapping[str, Any]
    max_context: int | None = None  # used when the server reports no trained context


@dataclass(frozen=True)
class LimitsSection:
    """The parsed `limits:` section of one matrix."""

    models: tuple[LimitModel, ...]
    resolution: int = DEFAULT_RESOLUTION
    recovery_s: float = 120.0


def _number(src: YamlSource, at: KeyPath, raw: Any) -> float:
    value = finite_number(raw)  # .nan or .inf would pass every range check below
    if value is None:
        raise src.error(at, f"{at[-1]} is {raw!r}", "give it a finite number")
    return value


def _policy_value(src: YamlSource, at: KeyPath, key: str, raw: Any) -> float | int:
    value = _number(src, at, raw)
    if key in _FRACTIONS and not 0 < value <= 1:
        raise src.error(at, f"{key} is {raw!r}", "use a fraction in (0, 1], e.g. 0.8")
    if key in _COUNTS and (value < 1 or value != int(value)):
        raise src.error(at, f"{key} is {raw!r}", "use a whole number >= 1, e.g. 1500")
    if key == "system_tokens" and (value < 0 or value != int(value)):
        raise src.error(at, f"{key} is {raw!r}", "use a whole number of tokens >= 0")
    return value if key in _FRACTIONS else int(value)


def _policy(src: YamlSource, at: KeyPath, raw: Mapping[str, Any], base: Policy) -> Policy:
    values: dict[str, Any] = {
        key: _policy_value(src, (*at, key), key, raw[key]) for key in _POLICY_KEYS if key in raw
    }
    return dataclasses.replace(base, **values)


def _check_keys(
    src: YamlSource, at: KeyPath, raw: Mapping[str, Any], known: tuple[str, ...]
) -> None:
    for key in raw:
        if key not in known:
            raise src.error((*at, key), f"unknown key {key!r}", f"use one of: {', '.join(known)}")


def _max_context(src: YamlSource, at: KeyPath, raw: Any) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1024:
        raise src.error(at, f"max_context is {raw!r}", "use a token count >= 1024, e.g. 32768")
    return raw


def _model(
    src: YamlSource, at: KeyPath, raw: Any, policy: Policy, max_context: int | None
) -> LimitModel:
    if isinstance(raw, str) and raw.strip():
        return LimitModel(raw, policy, MappingProxyType({}), max_context)
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"]:
        raise src.error(at, f"model entry {raw!r}", "write a model name, or {name: MODEL, ...}")
    _check_keys(src, at, raw, _MODEL_KEYS)
    options = raw.get("options", {})
    if not isinstance(options, dict) or "num_ctx" in options:
        raise src.error(
            (*at, "options"), f"options {options!r}", "a mapping of Ollama options without num_ctx"
        )
    own = _max_context(src, (*at, "max_context"), raw.get("max_context"))
    return LimitModel(
        raw["name"], _policy(src, at, raw, policy), MappingProxyType(dict(options)),
        own or max_context,
    )  # fmt: skip


def parse_limits(src: YamlSource, at: KeyPath, raw: Any) -> LimitsSection:
    """`limits:` -> LimitsSection; every problem names its line and the fix."""
    if not isinstance(raw, dict):
        raise src.error(at, "limits must be a mapping", "e.g. {models: [gemma3:12b]}")
    _check_keys(src, at, raw, _TOP_KEYS)
    models = raw.get("models")
    if not isinstance(models, list) or not models:
        raise src.error((*at, "models"), "models must be a non-empty list", "e.g. [gemma3:12b]")
    policy = _policy(src, at, raw, Policy())
    resolution = _number(src, (*at, "resolution"), raw.get("resolution", DEFAULT_RESOLUTION))
    if resolution < 16 or resolution != int(resolution):
        raise src.error((*at, "resolution"), f"resolution is {resolution!r}", "use e.g. 1024")
    recovery = _number(src, (*at, "recovery_s"), raw.get("recovery_s", 120.0))
    if recovery <= 0:
        raise src.error((*at, "recovery_s"), f"recovery_s is {recovery!r}", "use seconds > 0")
    top = _max_context(src, (*at, "max_context"), raw.get("max_context"))
    parsed = tuple(_model(src, (*at, "models", i), m, policy, top) for i, m in enumerate(models))
    src.once([((*at, "models", i), m.name) for i, m in enumerate(parsed)], "model", "list it once")
    return LimitsSection(models=parsed, resolution=int(resolution), recovery_s=recovery)
