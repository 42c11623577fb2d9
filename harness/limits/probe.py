"""One probe: load a model at `num_ctx = N` with an empty prompt, measure it, classify it.

The KV cache is allocated when the runner loads, so a load alone tells whether a context
fits; no prompt has to be sent. Outcomes, worst first:

    oom          the server said it ran out of memory (OutOfMemory)
    crash        the runner or server died (ErrorLine, ServerError, unreachable)
    timeout      the load did not finish in time (RequestTimeout, LoadTimeout)
    capped       /api/ps shows a context below N: the server would not give N
    spilled      /api/ps size_vram < size: part of the model runs on the CPU (GPU only)
    over_budget  the memory crossed the --gpu-budget / --ram-budget guard
    fits         everything else: on the GPU, or within the RAM budget on a CPU machine
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from harness import errors
from harness.engines.base import LoadedModel
from harness.hardware import Budget
from harness.memory import memory_block

GOOD = "fits"
FAILURES = ("oom", "crash", "timeout")  # the server refused or died: worth a finding
GPU_SOURCES = ("sim_gpu", "nvml_server", "nvml")
# Capacity metrics (total, used) in the order memory.py prefers them.
_GPU_TOTALS = (
    ("sim.gpu_total_bytes", "sim.gpu_used_bytes"),
    ("gpu.mem_total_bytes", "gpu.mem_used_bytes"),
)
_RAM_TOTALS = (
    ("sim.host_total_bytes", "sim.host_used_bytes"),
    ("host.ram_total_bytes", "host.ram_used_bytes"),
)


class Sampler(Protocol):
    """The part of HardwareSampler a probe uses (a fake one in unit tests)."""

    def start(self) -> None: ...

    def mark(self, phase: str) -> None: ...

    def stop(self) -> None: ...

    def summary(self) -> dict[str, Any]: ...

    @property
    def over_budget_reason(self) -> str | None: ...


@dataclass(frozen=True)
class Probe:
    """One load at `num_ctx`, what it cost and how it ended."""

    num_ctx: int
    outcome: str
    predicted_bytes: int
    memory_bytes: int | None = None  # the model's memory on the judged device (delta)
    peak_bytes: int | None = None
    size: int | None = None  # /api/ps
    size_vram: int | None = None
    context_length: int | None = None
    load_s: float | None = None
    memory_source: str | None = None
    capacity_bytes: int | None = None  # what the budget leaves for a model on that device
    detail: str = ""
    purpose: str = "search"

    @property
    def good(self) -> bool:
        return self.outcome == GOOD

    @property
    def loaded(self) -> bool:
        return self.size is not None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Capacity:
    """The device the limit is judged on and how many bytes a model may take there."""

    gpu: bool
    available_bytes: int | None


def capacity(summary: Mapping[str, Any], budget: Budget) -> Capacity:
    """Budget x total minus what was in use before the load (idle baseline)."""
    overall: Mapping[str, Mapping[str, Any]] = summary.get("overall") or {}
    for pairs, fraction, gpu in (
        (_GPU_TOTALS, budget.gpu_max_fraction, True),
        (_RAM_TOTALS, budget.ram_max_fraction, False),
    ):
        for total_metric, used_metric in pairs:
            total = (overall.get(total_metric) or {}).get("peak")
            if total:
                idle = (overall.get(used_metric) or {}).get("baseline") or 0
                return Capacity(gpu=gpu, available_bytes=int(total * fraction - idle))
    return Capacity(gpu=False, available_bytes=None)


def _find(loaded: list[LoadedModel], model: str) -> LoadedModel | None:
    names = {model, f"{model}:latest"}
    found = next((m for m in loaded if m.name in names), None)
    # An alias (gemma3:latest) is listed under its target's name (gemma3:4b); every other
    # model was unloaded before the probe, so a single entry is ours.
    return found if found is not None or len(loaded) != 1 else loaded[0]


def classify_error(exc: errors.EngineError) -> str:
    """oom, timeout or crash for a load that raised."""
    if isinstance(exc, errors.OutOfMemory):
        return "oom"
    if isinstance(exc, errors.LoadTimeout | errors.RequestTimeout):
        return "timeout"
    return "crash"


def classify(num_ctx: int, entry: LoadedModel, gpu: bool, over_budget: str | None) -> str:
    """The outcome of a load that succeeded, from /api/ps and the budget guard."""
    if entry.context_length is not None and entry.context_length < num_ctx:
        return "capped"
    if gpu and entry.spilled:
        return "spilled"
    if over_budget:
        return "over_budget"
    return GOOD


@dataclass
class Prober:
    """Loads `model` at a context and returns a Probe; unloads it again before returning."""

    engine: Any
    model: str
    predict: Callable[[int], int]
    new_sampler: Callable[[], Sampler]
    budget: Budget
    options: Mapping[str, Any] = field(default_factory=dict)
    capacity: Capacity | None = None  # learnt from the first probe's idle reading

    def learn_capacity(self) -> Capacity:
        """Read the idle machine once (nothing loaded): which device, and its free budget."""
        sampler = self.new_sampler()
        sampler.start()
        sampler.stop()
        self.capacity = capacity(sampler.summary(), self.budget)
        return self.capacity

    def __call__(self, num_ctx: int, purpose: str = "search") -> Probe:
        sampler = self.new_sampler()
        sampler.start()
        start = time.perf_counter()
        entry, error = None, None
        try:
            sampler.mark("load")
            self.engine.load(self.model, {**self.options, "num_ctx": num_ctx})
            entry = _find(self.engine.ps(), self.model)
            sampler.mark("after")  # wakes the backends for a reading with the model loaded
        except errors.ModelNotFound:
            raise
        except errors.EngineError as exc:
            error = exc
        finally:
            load_s = time.perf_counter() - start
            sampler.stop()
            self._unload()
        return self._probe(num_ctx, purpose, sampler, entry, error, load_s)

    def _probe(
        self,
        num_ctx: int,
        purpose: str,
        sampler: Sampler,
        entry: LoadedModel | None,
        error: errors.EngineError | None,
        load_s: float,
    ) -> Probe:
        summary = sampler.summary()
        if self.capacity is None:
            self.capacity = capacity(summary, self.budget)
        block = memory_block(summary, self.budget) if entry is not None else None
        over = sampler.over_budget_reason or _over_limit(block)
        outcome, detail = _outcome(num_ctx, entry, error, self.capacity.gpu, over)
        return Probe(
            num_ctx=num_ctx,
            outcome=outcome,
            predicted_bytes=self.predict(num_ctx),
            memory_bytes=None if block is None else block["delta_bytes"],
            peak_bytes=None if block is None else block["peak_bytes"],
            size=None if entry is None else entry.size,
            size_vram=None if entry is None else entry.size_vram,
            context_length=None if entry is None else entry.context_length,
            load_s=round(load_s, 4),
            memory_source=None if block is None else block["source"],
            capacity_bytes=self.capacity.available_bytes,
            detail=detail,
            purpose=purpose,
        )

    def _unload(self) -> None:
        # Never leave a model at a bad context loaded, even when the probe failed.
        try:
            self.engine.unload(self.model)
        except errors.EngineError:
            pass  # a dead server holds nothing; the recovery wait handles it


def _outcome(
    num_ctx: int,
    entry: LoadedModel | None,
    error: errors.EngineError | None,
    gpu: bool,
    over: str | None,
) -> tuple[str, str]:
    if error is not None:
        return classify_error(error), str(error)
    if entry is None:
        return "crash", "the load answered but /api/ps does not list the model"
    return classify(num_ctx, entry, gpu, over), over or ""


def _over_limit(block: Mapping[str, Any] | None) -> str | None:
    """The guard on the measured peak, for readings the sampler's own check came after."""
    if (
        block is None
        or not block.get("budget_bytes")
        or block["peak_bytes"] <= block["budget_bytes"]
    ):
        return None
    return f"{block['metric']} peak {block['peak_bytes']} > budget {block['budget_bytes']} bytes"
