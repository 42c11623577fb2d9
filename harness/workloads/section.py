"""The matrix's `sustained` section, parsed strictly into a frozen SustainedSection.

    sustained:
      duration_s: 600               # per workload, wall-clock seconds (default 600)
      workloads:
        - model: orieg/gemma3-tools:27b-it-qat
          kind: coding              # coding | rag | chat
          num_ctx: 131072
          num_predict: 64           # default 64
          fill: 0.5                 # prompt size as a fraction of num_ctx (default 0.5)
          tok_s_min: 3.5            # mean decode tok/s floor (seed 001: 3.5+); null = none
          success_min: 0.95         # fraction of requests that must succeed (default 0.95)
          drift_max_per_hour: null  # |relative decode tok/s slope| per hour; null = report only
          memory_growth_max_bytes: null   # memory growth over the run; null = report only

`HARNESS_SUSTAINED_DURATION_S` overrides `duration_s` of every section (the harness's own
tests use a few seconds). Under the simulator the duration is still wall-clock time: a run
at `--sim-speed 50` does 50x the simulated work in it, and results are in simulated time.

The suite declares the parser in its suite.py (harness/matrix/registry.py).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

from harness.errors import ConfigError
from harness.matrix.yamlsource import KeyPath, YamlSource, finite_number

KINDS = ("coding", "rag", "chat")
DEFAULT_DURATION_S = 600.0
DURATION_ENV = "HARNESS_SUSTAINED_DURATION_S"


@dataclass(frozen=True)
class WorkloadSpec:
    """One sustained workload: a model, a kind of traffic, and its pass criteria."""

    model: str
    kind: str
    num_ctx: int
    num_predict: int = 64
    fill: float = 0.5
    tok_s_min: float | None = None
    success_min: float = 0.95
    drift_max_per_hour: float | None = None
    memory_growth_max_bytes: int | None = None

    @property
    def id(self) -> str:
        return f"sustained:{self.model}:{self.kind}"


@dataclass(frozen=True)
class SustainedSection:
    duration_s: float = DEFAULT_DURATION_S
    workloads: tuple[WorkloadSpec, ...] = ()


def duration_s(section: SustainedSection, environ: dict[str, str] | None = None) -> float:
    """The section's duration, or `HARNESS_SUSTAINED_DURATION_S` when that is set."""
    raw = (os.environ if environ is None else environ).get(DURATION_ENV, "").strip()
    if not raw:
        return section.duration_s
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{DURATION_ENV}={raw!r} is not a positive number of seconds (e.g. 5)")
    return value


_NUMBERS: dict[str, tuple[float, float | None]] = {  # key -> (exclusive minimum, maximum)
    "num_ctx": (0, None),
    "num_predict": (0, None),
    "fill": (0, 1),
    "tok_s_min": (0, None),
    "success_min": (0, 1),
    "drift_max_per_hour": (0, None),
    "memory_growth_max_bytes": (0, None),
}
_INTEGERS = ("num_ctx", "num_predict", "memory_growth_max_bytes")
_NULLABLE = ("tok_s_min", "drift_max_per_hour", "memory_growth_max_bytes")
_WORKLOAD_KEYS = ("model", "kind", *_NUMBERS)


def parse_sustained(src: YamlSource, at: KeyPath, raw: Any) -> SustainedSection:
    if not isinstance(raw, dict):
        raise src.error(at, "sustained must be a mapping", "e.g. {duration_s: 600, workloads: []}")
    for key in raw:
        if key not in ("duration_s", "workloads"):
            raise src.error((*at, key), f"unknown key {key!r}", "use duration_s, workloads")
    duration = finite_number(raw.get("duration_s", DEFAULT_DURATION_S))
    if duration is None or duration <= 0:
        shown = raw.get("duration_s")
        raise src.error((*at, "duration_s"), f"duration_s is {shown!r}", "give seconds, > 0")
    items = raw.get("workloads")
    if not isinstance(items, list) or not items:
        raise src.error(
            (*at, "workloads"),
            "workloads must be a non-empty list",
            "add `- {model: qwen2.5:3b-instruct, kind: chat, num_ctx: 32768}`",
        )
    workloads = tuple(_workload(src, (*at, "workloads", i), w) for i, w in enumerate(items))
    seen: dict[str, int] = {}
    for i, workload in enumerate(workloads):
        if workload.id in seen:  # the id names the case in results; it must be unique
            first = src.line((*at, "workloads", seen[workload.id]))
            raise src.error(
                (*at, "workloads", i),
                f"a second {workload.kind} workload for {workload.model!r} (the first is on "
                f"line {first})",
                "keep one workload per model and kind",
            )
        seen[workload.id] = i
    return SustainedSection(duration_s=float(duration), workloads=workloads)


def _workload(src: YamlSource, at: KeyPath, raw: Any) -> WorkloadSpec:
    if not isinstance(raw, dict):
        raise src.error(at, "a workload must be a mapping", "write `- {model: M, kind: chat}`")
    for key in raw:
        if key not in _WORKLOAD_KEYS:
            raise src.error((*at, key), f"unknown key {key!r}", f"use {', '.join(_WORKLOAD_KEYS)}")
    model = raw.get("model")
    if not isinstance(model, str) or not model.strip():
        raise src.error((*at, "model"), f"model is {model!r}", "name an Ollama tag")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise src.error((*at, "kind"), f"kind is {kind!r}", f"use one of: {', '.join(KINDS)}")
    if "num_ctx" not in raw:
        raise src.error(at, "the workload has no num_ctx", "add e.g. `num_ctx: 32768`")
    values = {key: _number(src, (*at, key), key, raw[key]) for key in _NUMBERS if key in raw}
    return WorkloadSpec(model=model, kind=kind, **values)


def _number(src: YamlSource, at: KeyPath, key: str, value: Any) -> Any:
    if value is None and key in _NULLABLE:
        return None
    low, high = _NUMBERS[key]
    kind_ok = isinstance(value, int) if key in _INTEGERS else isinstance(value, int | float)
    number = finite_number(value)  # .nan passes `<=` and `>` checks, .inf is no limit
    if not kind_ok or number is None or number <= low or (high and number > high):
        wanted = "an integer" if key in _INTEGERS else "a number"
        bound = f" in ({low}, {high}]" if high else f" > {low}"
        raise src.error(at, f"{key} is {value!r}", f"give {wanted}{bound}")
    return value if key in _INTEGERS else float(value)
