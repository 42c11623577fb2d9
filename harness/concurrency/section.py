"""The matrix's `concurrency` section, parsed strictly into a frozen ConcurrencySection.

    concurrency:
      model: gemma3:12b                # or a list of models
      contexts: [4096, 16384]          # num_ctx of each sweep
      levels: [1, 2, 4, 8, 16]         # closed-loop client concurrency (default)
      rates: [0.5, 1, 2]               # optional open-loop Poisson arrivals, requests/s
      slots: [1, 2, 4]                 # OLLAMA_NUM_PARALLEL values (see below)
      slo: {ttft_s: 2.0, itl_s: 0.1}   # goodput targets; e2e_s optional
      requests_per_level: 16
      prompt_tokens: 256
      num_predict: 64
      job_requests: 170000             # the job the capacity answer is sized for
      seed: 0                          # Poisson schedule
      launch: {template: "...", ready_path: /api/version}   # optional: harness starts servers

`slots` is a matrix axis only where the harness starts the server (the simulator, or a
`launch` template with `{num_parallel}`); against a running server it must name the one
value that server uses, since no request can change OLLAMA_NUM_PARALLEL.

The suite declares the parser in its suite.py (harness/matrix/registry.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.concurrency.slo import Slo
from harness.matrix.yamlsource import KeyPath, YamlSource, finite_number

DEFAULT_LEVELS = (1, 2, 4, 8, 16)
DEFAULT_SLO = Slo(ttft_s=2.0, itl_s=0.1)
JOB_REQUESTS = 170_000
_KEYS = (
    "model",
    "contexts",
    "levels",
    "rates",
    "slots",
    "slo",
    "requests_per_level",
    "prompt_tokens",
    "num_predict",
    "job_requests",
    "seed",
    "launch",
)
_LAUNCH_KEYS = ("template", "ready_path", "ready_timeout_s")


@dataclass(frozen=True)
class LaunchBlock:
    """A server command the harness starts once per slot value (`{num_parallel}`, `{port}`)."""

    template: str
    ready_path: str = "/api/version"
    ready_timeout_s: float = 120.0


@dataclass(frozen=True)
class ConcurrencySection:
    """What to sweep, against which targets, and the job the capacity answer is for."""

    models: tuple[str, ...]
    contexts: tuple[int, ...]
    levels: tuple[int, ...] = DEFAULT_LEVELS
    rates: tuple[float, ...] = ()
    slots: tuple[int, ...] = ()
    slo: Slo = field(default_factory=lambda: DEFAULT_SLO)
    requests_per_level: int = 16
    prompt_tokens: int = 256
    num_predict: int = 64
    job_requests: int = JOB_REQUESTS
    seed: int = 0
    launch: LaunchBlock | None = None


def _positive_ints(src: YamlSource, at: KeyPath, raw: Any, example: str) -> tuple[int, ...]:
    ok = isinstance(raw, list) and raw and all(_is_int(v) and v > 0 for v in raw)
    if not ok:
        raise src.error(at, f"{at[-1]} is {raw!r}", f"give a list of positive integers, {example}")
    if len(set(raw)) != len(raw):
        raise src.error(at, f"{at[-1]} repeats a value: {raw!r}", "list each value once")
    return tuple(sorted(int(v) for v in raw))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    """A finite number: `.nan` would pass every `<= 0` check below, `.inf` is no limit."""
    return finite_number(value) is not None


def _positive_int(src: YamlSource, at: KeyPath, raw: Any) -> int:
    if not _is_int(raw) or raw <= 0:
        raise src.error(at, f"{at[-1]} is {raw!r}", "give a positive integer")
    return int(raw)


def _models(src: YamlSource, at: KeyPath, raw: Any) -> tuple[str, ...]:
    names = [raw] if isinstance(raw, str) else raw
    if not isinstance(names, list) or not names:
        raise src.error(at, f"model is {raw!r}", "name an Ollama tag, e.g. gemma3:12b")
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise src.error(at, f"model {name!r} is not a name", "name an Ollama tag")
    src.once([((*at, i), name) for i, name in enumerate(names)], "model", "list each model once")
    return tuple(names)


def _rates(src: YamlSource, at: KeyPath, raw: Any) -> tuple[float, ...]:
    if not isinstance(raw, list) or not all(_is_number(v) and v > 0 for v in raw):
        raise src.error(at, f"rates is {raw!r}", "give requests per second > 0, e.g. [0.5, 1, 2]")
    return tuple(sorted(float(v) for v in raw))


def _slo(src: YamlSource, at: KeyPath, raw: Any) -> Slo:
    if not isinstance(raw, dict) or not raw:
        raise src.error(at, f"slo is {raw!r}", "e.g. {ttft_s: 2.0, itl_s: 0.1}")
    values: dict[str, float | None] = {}
    for key, value in raw.items():
        if key not in ("ttft_s", "itl_s", "e2e_s"):
            raise src.error((*at, key), f"unknown target {key!r}", "use ttft_s, itl_s, e2e_s")
        if value is not None and (not _is_number(value) or value <= 0):
            raise src.error((*at, key), f"{key} is {value!r}", "give seconds > 0 (or null)")
        values[key] = None if value is None else float(value)
    return Slo(**values)


def _launch(src: YamlSource, at: KeyPath, raw: Any) -> LaunchBlock:
    if not isinstance(raw, dict):
        raise src.error(at, f"launch is {raw!r}", "e.g. {template: 'env ... ollama serve'}")
    for key in raw:
        if key not in _LAUNCH_KEYS:
            raise src.error((*at, key), f"unknown key {key!r}", f"use {', '.join(_LAUNCH_KEYS)}")
    template = raw.get("template")
    if not isinstance(template, str) or "{num_parallel}" not in template:
        raise src.error(
            (*at, "template"),
            f"template is {template!r}",
            "give a command with {num_parallel} and {port}, e.g. "
            "'env OLLAMA_HOST=127.0.0.1:{port} OLLAMA_NUM_PARALLEL={num_parallel} ollama serve'",
        )
    timeout = raw.get("ready_timeout_s", 120.0)
    if not _is_number(timeout) or timeout <= 0:
        raise src.error((*at, "ready_timeout_s"), f"ready_timeout_s is {timeout!r}", "give > 0")
    path = raw.get("ready_path", "/api/version")
    if not isinstance(path, str) or not path.startswith("/"):
        raise src.error((*at, "ready_path"), f"ready_path is {path!r}", "e.g. /api/version")
    return LaunchBlock(template=template, ready_path=path, ready_timeout_s=float(timeout))


def parse_concurrency(src: YamlSource, at: KeyPath, raw: Any) -> ConcurrencySection:
    """Parse `concurrency:`; every error names the key, its line and the fix."""
    if not isinstance(raw, dict):
        raise src.error(at, "concurrency must be a mapping", "e.g. {model: M, contexts: [4096]}")
    for key in raw:
        if key not in _KEYS:
            raise src.error((*at, key), f"unknown key {key!r}", f"use {', '.join(_KEYS)}")
    for key in ("model", "contexts"):
        if key not in raw:
            raise src.error(at, f"concurrency has no {key}", "add `model:` and `contexts:`")
    values: dict[str, Any] = {
        "models": _models(src, (*at, "model"), raw["model"]),
        "contexts": _positive_ints(src, (*at, "contexts"), raw["contexts"], "e.g. [4096]"),
    }
    if "levels" in raw:
        values["levels"] = _positive_ints(src, (*at, "levels"), raw["levels"], "e.g. [1, 2, 4]")
    if "slots" in raw:
        values["slots"] = _positive_ints(src, (*at, "slots"), raw["slots"], "e.g. [1, 2, 4]")
    if "rates" in raw:
        values["rates"] = _rates(src, (*at, "rates"), raw["rates"])
    if "slo" in raw:
        values["slo"] = _slo(src, (*at, "slo"), raw["slo"])
    for key in ("requests_per_level", "prompt_tokens", "num_predict", "job_requests"):
        if key in raw:
            values[key] = _positive_int(src, (*at, key), raw[key])
    if "seed" in raw:
        if not _is_int(raw["seed"]):
            raise src.error((*at, "seed"), f"seed is {raw['seed']!r}", "give an integer")
        values["seed"] = int(raw["seed"])
    if "launch" in raw:
        values["launch"] = _launch(src, (*at, "launch"), raw["launch"])
    return ConcurrencySection(**values)
