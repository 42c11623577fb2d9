"""How long the selected cells should take, said before the first one is measured.

A cell's time is its load, the token calibration (two short requests, once per model and
server), and `repeats + 1` requests (the warm-up and the measured ones), each a prefill of
the cell's prompt and `num_predict` decode steps:

    cell_s = load_s + calibration
             + (repeats + 1) x (prompt / prompt_tok_s + num_predict / decode_tok_s)

The rates come from one of two sources, and the output says which:

- **last run**: the same model at the same `num_ctx` and a prompt within 20% of this one's,
  measured by one of the last stored runs (`reports/runs/*/results.json`, newest first) on
  the same kind of server (the simulator with the same machine, or the same real server):
  its load time, prompt and decode tok/s;
- **predicted**: a roofline from the model's size as the server describes it (`/api/tags`
  bytes, `/api/show` parameters and shape) and the machine the matrix is written for (its
  `sim_profile` in harness/sim/profiles/hardware.yaml: memory bandwidth, effective compute,
  disk), the way OLLAMA.md says the speeds are bound:

      prefill_s = prompt x (2 x active parameters + attention) / compute
      decode_s  = (active weights + KV cache read at the prompt's depth) / (bandwidth x efficiency)
      load_s    = file bytes / disk + start-up

  It never asks the simulator how fast it is: a real server has no such answer.

A cell of a model the server does not have, or whose matrix names no machine, gets no
estimate, and the output counts those too.

This module computes; the plugin side (printing the estimate before the first cell, and
the progress lines within a long cell) is `harness.cases.estimate_plugin`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from harness.errors import ResultsError
from harness.matrix.cells import Cell, Matrix
from harness.measure.prompts import CALIBRATION_WORDS, target_prompt_tokens
from harness.report.fmt import seconds as fmt_seconds
from harness.results.schema import Case, RunResults, load_run

if TYPE_CHECKING:  # harness.limits imports scipy: only a run with cells pays for it
    from harness.limits.predict import Prediction

CHUNK_TOKENS = 512  # Ollama's default num_batch: weights are read once per chunk of a prefill
# Tokens per filler word when no calibration is known yet (the calibration measures it).
TOKENS_PER_WORD = 1.2
RUNS_SEARCHED = 10  # the stored runs searched for the same model and context, newest first


@dataclass(frozen=True)
class Rates:
    """What one cell's time is computed from; `source` says where they come from."""

    load_s: float
    prompt_tok_s: float
    decode_tok_s: float
    source: str  # "last run <id>" or "predicted"
    # The prompt the rates were measured at: a prefill rate holds for prompts of about that
    # length only (attention grows with depth), so another length is predicted instead.
    prompt_tokens: int | None = None


@dataclass(frozen=True)
class Machine:
    """The speeds of the machine a matrix is written for (a hardware profile's numbers)."""

    name: str
    cpu_flops: float
    cpu_bandwidth: float  # bytes/s actually reached: the bound x efficiency
    disk_bytes_s: float
    load_overhead_s: float
    gpu_flops: float = 0.0
    gpu_bandwidth: float = 0.0
    gpu_free_bytes: int = 0

    @classmethod
    def from_profile(cls, name: str) -> Machine:
        from harness.sim.profiles import hardware_profile

        hw = hardware_profile(name)
        eff = hw.bandwidth_efficiency
        gpu = hw.gpu
        return cls(
            name=hw.name,
            cpu_flops=hw.cpu.flops,
            cpu_bandwidth=hw.cpu.bandwidth_bytes_s * eff,
            disk_bytes_s=hw.disk_bytes_s,
            load_overhead_s=hw.load_overhead_s,
            gpu_flops=gpu.flops if gpu else 0.0,
            gpu_bandwidth=gpu.bandwidth_bytes_s * eff if gpu else 0.0,
            gpu_free_bytes=gpu.total_bytes - gpu.reserved_bytes if gpu else 0,
        )

    def describe(self) -> str:
        gpu = f", GPU {self.gpu_bandwidth / 1e9:.0f} GB/s" if self.gpu_free_bytes else ""
        return (
            f"{self.name}: {self.cpu_bandwidth / 1e9:.0f} GB/s memory reached, "
            f"{self.cpu_flops / 1e12:g} TFLOPS{gpu}"
        )


@dataclass(frozen=True)
class ModelSize:
    """What the server says of a model's size: its memory prediction and parameter counts."""

    prediction: Prediction
    params: float
    active_params: float


def model_size(show: Mapping[str, Any], prediction: Prediction) -> ModelSize:
    """Parameters from `/api/show`; a mixture of experts computes with its active share only.

    Active = all - expert weights x (1 - used / count), the experts' weights being
    blocks x experts x 3 (gate, up, down) x embedding x expert feed-forward length.
    """
    info: Mapping[str, Any] = show.get("model_info") or {}
    arch = str(info.get("general.architecture") or prediction.shape.architecture)
    params = float(info.get("general.parameter_count") or 0)
    if not params:  # no count: 4.85 bits a weight (Q4_K_M) from the file size
        params = prediction.shape.weights_bytes * 8 / 4.85
    count = info.get(f"{arch}.expert_count")
    used = info.get(f"{arch}.expert_used_count")
    ffn = info.get(f"{arch}.expert_feed_forward_length")
    active = params
    if count and used and ffn:
        shape = prediction.shape
        experts = shape.block_count * int(count) * 3 * shape.embedding_length * int(ffn)
        active = max(params - experts * (1 - int(used) / int(count)), params * 0.01)
    return ModelSize(prediction, params, active)


def predicted_rates(size: ModelSize, machine: Machine, num_ctx: int, prompt: int) -> Rates:
    """Prompt and decode tok/s of `size` on `machine` at a `prompt`-token depth (roofline)."""
    pred, shape = size.prediction, size.prediction.shape
    local_layers = shape.attention_layers - shape.global_layers
    window = shape.sliding_window or prompt
    per_layer = 4.0 * shape.head_count * shape.head_dim  # QK^T and AV, per token and depth
    # Attention over a prompt: sum over its tokens of the depth each attends to.
    local_sum = min(prompt, window) ** 2 / 2 + max(0, prompt - window) * window
    attention = per_layer * (shape.global_layers * prompt**2 / 2 + local_layers * local_sum)
    prefill_flops = prompt * 2 * size.active_params + attention
    weights = shape.weights_bytes * size.active_params / size.params
    kv_read = shape.kv_bytes_per_token_layer * (
        shape.global_layers * prompt + local_layers * min(prompt, window)
    )
    decode_flops = 2 * size.active_params + per_layer * (
        shape.global_layers * prompt + local_layers * min(prompt, window)
    )
    # The part of the model on the GPU (all of it when it fits) runs at the GPU's speed.
    on_gpu = min(1.0, machine.gpu_free_bytes / max(1, pred.bytes_at(num_ctx)))
    devices = [(on_gpu, machine.gpu_flops, machine.gpu_bandwidth)] if on_gpu > 0 else []
    devices.append((1.0 - on_gpu, machine.cpu_flops, machine.cpu_bandwidth))
    chunks = math.ceil(prompt / CHUNK_TOKENS)
    prefill_s = sum(
        share * max(prefill_flops / flops, chunks * (weights + kv_read) / bandwidth)
        for share, flops, bandwidth in devices
        if share > 0
    )
    decode_s = sum(
        share * max(decode_flops / flops, (weights + kv_read) / bandwidth)
        for share, flops, bandwidth in devices
        if share > 0
    )
    load_s = machine.load_overhead_s + shape.weights_bytes / machine.disk_bytes_s
    return Rates(load_s, prompt / prefill_s, 1.0 / decode_s, "predicted")


def cell_seconds(
    rates: Rates, prompt: int, num_predict: int, requests: int, calibrate: bool
) -> float:
    """The cell's time (module docstring); `calibrate` adds the two calibration requests."""
    one = prompt / rates.prompt_tok_s + num_predict / rates.decode_tok_s
    total = rates.load_s + requests * one
    if calibrate:
        words = sum(CALIBRATION_WORDS)
        total += words * TOKENS_PER_WORD / rates.prompt_tok_s + 2 / rates.decode_tok_s
    return total


# -- the last runs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RunKind:
    """Which stored runs measured the same server: the simulator's machine, or the URL."""

    simulated: bool
    sim_profile: str | None
    server_url: str | None

    def matches(self, run: RunResults) -> bool:
        if run.simulated != self.simulated:
            return False
        if self.simulated:
            sim = run.fingerprint.sim
            return sim is not None and sim.profile == self.sim_profile
        return run.fingerprint.server_url == self.server_url


RateKey = tuple[str, int]  # (model, num_ctx)


class RateLookup(Protocol):
    """Where `estimate_cells` finds measured rates: a `StoredRates`, or a plain mapping."""

    def get(self, key: RateKey, /) -> Rates | None: ...


class StoredRates:
    """(model, num_ctx) -> the rates the newest matching stored run measured, read lazily.

    Nothing is read until a cell asks: then the last `RUNS_SEARCHED` runs are read newest
    first, one file at a time and only until one has the key. Of each file only the header
    is typed until it matches this server (`RunKind`), then its cases one at a time.
    """

    def __init__(self, reports_dir: Path, kind: RunKind) -> None:
        self.reports_dir = reports_dir
        self.kind = kind
        self._unread: Iterator[Path] | None = None  # listed at the first lookup
        self._found: dict[RateKey, Rates] = {}
        self.files_read = 0

    def get(self, key: RateKey, /) -> Rates | None:
        while key not in self._found and self._read_next():
            pass
        return self._found.get(key)

    def _read_next(self) -> bool:
        """Read one more stored run; False when none is left."""
        if self._unread is None:
            runs = sorted((self.reports_dir / "runs").glob("*/results.json"), reverse=True)
            self._unread = iter(runs[:RUNS_SEARCHED])
        path = next(self._unread, None)
        if path is None:
            return False
        self.files_read += 1
        try:
            run = load_run(path, type_cases=False)
        except ResultsError:
            return True  # a run being written, or a broken file: the others still count
        if self.kind.matches(run):
            source = f"last run {run.run_id or path.parent.name}"
            for case in run.iter_cases():
                rates = _case_rates(case, source)
                key = (case.model, int(case.num_ctx or 0))
                if rates is not None and key not in self._found:
                    self._found[key] = rates
        return True


def _case_rates(case: Case, source: str) -> Rates | None:
    prompt, decode, load = case.p50("prompt_tok_s"), case.p50("decode_tok_s"), case.load_s
    if not prompt or not decode or load is None:
        return None
    sent = case.target_prompt_tokens
    return Rates(load, prompt, decode, source, None if sent is None else int(sent))


@dataclass(frozen=True)
class CellEstimate:
    nodeid: str
    cell_id: str
    seconds: float | None
    source: str | None
    note: str | None = None


@dataclass
class Estimate:
    cells: list[CellEstimate] = field(default_factory=list)
    machine: Machine | None = None
    time_scale: float = 1.0
    simulated: bool = False

    @property
    def total_s(self) -> float:
        return sum(c.seconds or 0.0 for c in self.cells)

    def lines(self, verbose: bool = False) -> list[str]:
        """What the terminal shows before the first cell (simulated time on the simulator)."""
        known = [c for c in self.cells if c.seconds is not None]
        if not self.cells:
            return []
        if not known:
            notes = "; ".join(sorted({c.note or "no estimate" for c in self.cells}))
            return [
                f"harness: no duration estimate for the {len(self.cells)} selected cells: {notes}"
            ]
        clock = "simulated time" if self.simulated else "on this server"
        if self.simulated and self.time_scale != 1.0:
            # Only a floor: the client's own work is not compressed by the speed-up.
            clock += (
                f"; at --sim-speed {self.time_scale:g}, at least "
                f"{fmt_seconds(self.total_s / self.time_scale)} of wall time"
            )
        out = [
            f"harness: the {len(known)} estimated of {len(self.cells)} selected cells should "
            f"take about {fmt_seconds(self.total_s)} ({clock})"
        ]
        by_source: dict[str, int] = {}
        for c in known:
            by_source[c.source or ""] = by_source.get(c.source or "", 0) + 1
        for source, n in sorted(by_source.items()):
            why = source
            if source == "predicted" and self.machine is not None:
                why = (
                    "predicted from the model's size (the server's /api/tags, /api/show) and "
                    f"the matrix's machine ({self.machine.describe()})"
                )
            out.append(f"  {n} cell(s): {why}")
        missing = [c for c in self.cells if c.seconds is None]
        if missing:
            why_not = "; ".join(sorted({c.note or "no estimate" for c in missing}))
            out.append(f"  {len(missing)} cell(s) without an estimate: {why_not}")
        if known:
            longest = max(known, key=lambda c: c.seconds or 0.0)
            out.append(f"  longest: {longest.cell_id} ~{fmt_seconds(longest.seconds)}")
        capped = [c for c in known if c.note]
        if capped:
            out.append(
                f"  {len(capped)} cell(s) will end at load: their context exceeds the model's "
                "trained one (the server caps it)"
            )
        if verbose:
            out += [
                f"    {c.cell_id}: ~{fmt_seconds(c.seconds)} ({c.source}"
                + (f"; {c.note})" if c.note else ")")
                if c.seconds is not None
                else f"    {c.cell_id}: {c.note}"
                for c in self.cells
            ]
        return out


def estimate_cells(
    cells: Sequence[tuple[str, str, Cell]],
    *,
    matrices: Iterable[Matrix],
    engine: Any,
    stored: RateLookup,
    repeats: int | None,
    time_scale: float,
    simulated: bool = False,
) -> Estimate:
    """The estimate of `cells` ((nodeid, id, cell) in run order) on `engine`'s server."""
    profiles = {m.name: m.sim_profile for m in matrices}
    machines: dict[str, Machine | None] = {}
    sizes: dict[str, ModelSize | str] = {}
    calibrated: set[str] = set()
    out = Estimate(time_scale=time_scale, simulated=simulated)
    for nodeid, cell_id, cell in cells:
        s = cell.settings
        prompt = target_prompt_tokens(cell.num_ctx, s.fill, s.num_predict, s.prompt_tokens)
        rates = stored.get((cell.model, cell.num_ctx))
        if rates is not None and not _similar(rates.prompt_tokens, prompt):
            rates = None
        note = None
        if rates is None:
            profile = profiles.get(cell.matrix) or ""
            if profile not in machines:
                machines[profile] = _machine(profile)
            machine = machines[profile]
            size = sizes.get(cell.model)
            if size is None:
                size = sizes[cell.model] = _size(engine, cell.model)
            if machine is None:
                note = f"matrix {cell.matrix!r} names no machine (sim_profile)"
            elif isinstance(size, str):
                note = size
            else:
                out.machine = machine
                rates = predicted_rates(size, machine, cell.num_ctx, prompt)
                trained = size.prediction.shape.context_length
                if trained and trained < cell.num_ctx:
                    # The server caps the context at the model's trained length, and the cell
                    # ends after its load as `capped`.
                    capped = f"ends at load: the model's trained context is {trained:,}"
                    out.cells.append(
                        CellEstimate(nodeid, cell_id, rates.load_s, rates.source, capped)
                    )
                    continue
        if rates is None:
            out.cells.append(CellEstimate(nodeid, cell_id, None, None, note))
            continue
        first = cell.model not in calibrated
        calibrated.add(cell.model)
        total = cell_seconds(rates, prompt, s.num_predict, (repeats or s.repeats) + 1, first)
        out.cells.append(CellEstimate(nodeid, cell_id, total, rates.source))
    return out


def _similar(measured_at: int | None, prompt: int) -> bool:
    """Within 20% of the prompt length the stored rates were measured at."""
    return measured_at is not None and abs(measured_at - prompt) <= 0.2 * prompt


def _machine(profile: str | None) -> Machine | None:
    if not profile:
        return None
    try:
        return Machine.from_profile(profile)
    except Exception:  # an unknown profile name is the simulator's error to report
        return None


def _size(engine: Any, model: str) -> ModelSize | str:
    from harness.errors import EngineError
    from harness.limits.predict import predict_model

    try:
        prediction = predict_model(engine, model)
        size = model_size(engine.show(model), prediction)
    except EngineError as exc:
        return f"{model}: the server does not describe it ({exc.outcome})"
    if size.params <= 0 or prediction.shape.weights_bytes <= 0:
        # An OpenAI-compatible server has no /api/show and lists no file sizes.
        return f"{model}: the server does not say the model's size"
    return size
