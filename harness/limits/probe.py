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
from harness.engines.base import LoadedModel, ServerMemory, memory_accounting
from harness.hardware import Budget
from harness.hardware.case_memory import SOURCES
from harness.limits.source import PS, SourceChoice, choose_source, rss_bytes

GOOD = "fits"
FAILURES = ("oom", "crash", "timeout")  # the server refused or died: worth a finding
GPU_SOURCES = ("sim_gpu", "nvml_server", "nvml")
# Capacity metrics (total, used) in the order hardware/case_memory.py prefers them.
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
class ContextProbe:
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
    rss_bytes: int | None = None  # the server process tree's peak RSS, beside any source
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
    """Budget x total minus what was in use before the load (idle baseline).

    A RAM budget given in bytes (`--ram-budget 600MB`) is the model's own allowance on a
    machine without a GPU, whatever else the host holds.
    """
    overall: Mapping[str, Mapping[str, Any]] = summary.get("overall") or {}
    gpu_total = any((overall.get(total) or {}).get("peak") for total, _ in _GPU_TOTALS)
    if budget.ram_max_bytes is not None and not gpu_total:
        return Capacity(gpu=False, available_bytes=budget.ram_max_bytes)
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
    if gpu and entry.size_vram < entry.size:  # on a GPU machine, all on the CPU spills too
        return "spilled"
    if over_budget:
        return "over_budget"
    return GOOD


@dataclass
class Prober:
    """Loads `model` at a context and returns a ContextProbe; unloads it again before returning."""

    engine: Any
    model: str
    predict: Callable[[int], int]
    new_sampler: Callable[[], Sampler]
    budget: Budget
    options: Mapping[str, Any] = field(default_factory=dict)
    capacity: Capacity | None = None  # learnt from the first probe's idle reading
    source: SourceChoice | None = None  # chosen at the first loaded probe, kept for all

    def learn_capacity(self) -> Capacity:
        """Read the idle machine once (nothing loaded): which device, and its free budget."""
        sampler = self.new_sampler()
        sampler.start()
        sampler.stop()
        self.capacity = capacity(sampler.summary(), self.budget)
        return self.capacity

    def __call__(self, num_ctx: int, purpose: str = "search") -> ContextProbe:
        sampler = self.new_sampler()
        sampler.start()
        start = time.perf_counter()
        entry, error = None, None
        try:
            sampler.mark("load")
            self.engine.load(self.model, {**self.options, "num_ctx": num_ctx})
            loaded = self.engine.ps() if isinstance(self.engine, ServerMemory) else []
            entry = _find(loaded, self.model)
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
    ) -> ContextProbe:
        summary = sampler.summary()
        if self.capacity is None:
            self.capacity = capacity(summary, self.budget)
        memory, peak = self._measure(summary, entry)
        over = sampler.over_budget_reason or self._over_limit(summary, peak)
        outcome, detail = _outcome(num_ctx, entry, error, self.capacity.gpu, over)
        return ContextProbe(
            num_ctx=num_ctx,
            outcome=outcome,
            predicted_bytes=self.predict(num_ctx),
            memory_bytes=memory,
            peak_bytes=peak,
            size=None if entry is None else entry.size,
            size_vram=None if entry is None else entry.size_vram,
            context_length=None if entry is None else entry.context_length,
            load_s=round(load_s, 4),
            memory_source=None if memory is None or self.source is None else self.source.name,
            rss_bytes=rss_bytes(summary),
            capacity_bytes=self.capacity.available_bytes,
            detail=detail,
            purpose=purpose,
        )

    def _measure(
        self, summary: Mapping[str, Any], entry: LoadedModel | None
    ) -> tuple[int | None, int | None]:
        """(the model's memory, the peak the budget applies to) from the search's source."""
        if entry is None:
            return None, None
        if self.source is None:
            reports = entry.size > 0 and memory_accounting(self.engine) != "none"
            launched = memory_accounting(self.engine) == "process_rss"
            allowance = self.budget.ram_max_bytes is not None
            self.source = choose_source(summary, reports, launched, allowance)
        if self.source is None:
            return None, None
        if self.source.name == PS:
            # The probe's own /api/ps answer, read once the load finished: absolute bytes.
            return (entry.size, entry.size) if entry.size > 0 else (None, None)
        overall: Mapping[str, Mapping[str, Any]] = summary.get("overall") or {}
        stats = overall.get(self.source.metric or "") or {}
        if not stats.get("peak"):
            return None, None
        return int(stats.get("delta") or 0), int(stats["peak"])

    def _over_limit(self, summary: Mapping[str, Any], peak: int | None) -> str | None:
        """The guard on the measured peak, for readings the sampler's own check came after."""
        limit = self._limit_bytes(summary)
        if peak is None or limit is None or peak <= limit or self.source is None:
            return None
        return f"{self.source.name} peak {peak:,} > budget {limit:,} bytes"

    def _limit_bytes(self, summary: Mapping[str, Any]) -> int | None:
        """The bytes the chosen source's peak may reach."""
        if self.source is None or self.capacity is None:
            return None
        if self.source.name == PS or self.budget.ram_max_bytes is not None:
            return self.capacity.available_bytes
        # A device metric (GPU or host memory in use) against the device's capacity x the
        # budget fraction, as the sampler's own guard judges it.
        source = next((s for s in SOURCES if s.name == self.source.name), None)
        if source is None or source.total is None:
            return None
        overall: Mapping[str, Mapping[str, Any]] = summary.get("overall") or {}
        total = (overall.get(source.total) or {}).get("peak")
        if not total:
            return None
        gpu = source.kind == "gpu"
        fraction = self.budget.gpu_max_fraction if gpu else self.budget.ram_max_fraction
        return int(total * fraction)

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
