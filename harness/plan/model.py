"""The typed results of the plan package: the job plan and the use-case recommendations.

Both are run-level sections of results.json (`job_plan`, `recommendations`), written at the
end of a run and recomputed by `harness plan` for runs stored before they existed. Each class
round-trips through `to_json` / `from_json`; `from_json` raises ResultsError naming the key.

Every number says where it came from (`basis`):
- "measured": read from a real server by this run;
- "simulated": read from the harness simulator (never a real machine's figure);
- "projected": fitted on measured (or simulated) sizes and carried to the job's size;
- "predicted": computed from a fit of measured memory (e.g. the limits suite's line).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from harness.errors import ResultsError
from harness.results.schema import Interval

BASES = ("measured", "simulated", "projected", "predicted")


def _get(raw: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in raw:
        raise ResultsError(f"{where}: key {key!r} is missing; re-run `harness plan RUN`")
    return raw[key]


def _mapping(raw: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise ResultsError(f"{where} is {raw!r}, not a mapping; re-run `harness plan RUN`")
    return raw


def _interval(raw: Any, where: str) -> Interval | None:
    return None if raw is None else Interval.from_json(raw, where)


def _dump(value: Any) -> Any:
    if isinstance(value, Interval):
        return value.to_json()
    if isinstance(value, tuple):
        return [_dump(v) for v in value]
    if hasattr(value, "to_json"):
        return value.to_json()
    return value


def _as_json(obj: Any) -> dict[str, Any]:
    return {f.name: _dump(getattr(obj, f.name)) for f in fields(obj)}


@dataclass(frozen=True)
class Projection:
    """One strategy's measured sizes carried to the job's size."""

    strategy: str
    requests: int
    sizes: tuple[int, ...]
    passed: bool
    reason: str | None
    time_s: Interval
    req_s: float | None
    prompt_tokens: Interval | None
    completion_tokens: Interval | None
    token_savings: Interval | None  # interval: the range over the measured sizes
    trims: Interval | None
    peak_memory_bytes: Interval | None
    warning: str | None
    method: str

    def to_json(self) -> dict[str, Any]:
        return _as_json(self)

    @classmethod
    def from_json(cls, raw: Any, where: str = "projection") -> Projection:
        raw = _mapping(raw, where)
        iv = {k: _interval(raw.get(k), f"{where}.{k}") for k in _PROJECTION_INTERVALS}
        return cls(
            strategy=str(_get(raw, "strategy", where)),
            requests=int(_get(raw, "requests", where)),
            sizes=tuple(int(s) for s in raw.get("sizes") or ()),
            passed=bool(raw.get("passed")),
            reason=raw.get("reason"),
            time_s=Interval.from_json(_get(raw, "time_s", where), f"{where}.time_s"),
            req_s=raw.get("req_s"),
            warning=raw.get("warning"),
            method=str(raw.get("method") or ""),
            **iv,
        )


_PROJECTION_INTERVALS = (
    "prompt_tokens",
    "completion_tokens",
    "token_savings",
    "trims",
    "peak_memory_bytes",
)


@dataclass(frozen=True)
class TrimPlan:
    """The conversation's trim settings for the plan's threshold and the measured growth."""

    trim_strategy: str
    trim_threshold: int
    trim_interval: int
    keep_messages: int
    tokens_per_request: int
    system_tokens: int
    growth_source: str  # "measured" or "simulated" (prompt counts of the run)

    def to_json(self) -> dict[str, Any]:
        return _as_json(self)

    @classmethod
    def from_json(cls, raw: Any, where: str = "trim") -> TrimPlan:
        raw = _mapping(raw, where)
        ints = ("trim_threshold", "trim_interval", "keep_messages", "tokens_per_request")
        return cls(
            trim_strategy=str(_get(raw, "trim_strategy", where)),
            **{k: int(_get(raw, k, where)) for k in ints},
            system_tokens=int(raw.get("system_tokens") or 0),
            growth_source=str(raw.get("growth_source") or "measured"),
        )


@dataclass(frozen=True)
class Missing:
    """A measurement the plan needed and did not have, and how to get it.

    `blocking`: without it the plan gives no settings to paste.
    """

    what: str
    why: str
    fix: str
    blocking: bool

    def to_json(self) -> dict[str, Any]:
        return _as_json(self)

    @classmethod
    def from_json(cls, raw: Any, where: str = "missing") -> Missing:
        raw = _mapping(raw, where)
        return cls(
            what=str(_get(raw, "what", where)),
            why=str(_get(raw, "why", where)),
            fix=str(raw.get("fix") or ""),
            blocking=bool(raw.get("blocking")),
        )


@dataclass(frozen=True)
class PeakMemory:
    """Peak memory of the job against the budget, and where each number came from."""

    peak_bytes: Interval
    basis: str  # "measured", "simulated" (the throughput run's peak) or "predicted"
    source: str  # one line: what the peak is
    budget_bytes: int | None
    budget_source: str

    @property
    def over_budget(self) -> bool:
        high = self.peak_bytes.high if self.peak_bytes.high is not None else self.peak_bytes.value
        return self.budget_bytes is not None and high > self.budget_bytes

    def to_json(self) -> dict[str, Any]:
        return _as_json(self)

    @classmethod
    def from_json(cls, raw: Any, where: str = "memory") -> PeakMemory:
        raw = _mapping(raw, where)
        return cls(
            peak_bytes=Interval.from_json(_get(raw, "peak_bytes", where), f"{where}.peak_bytes"),
            basis=str(_get(raw, "basis", where)),
            source=str(raw.get("source") or ""),
            budget_bytes=raw.get("budget_bytes"),
            budget_source=str(raw.get("budget_source") or ""),
        )


@dataclass(frozen=True)
class JobPlan:
    """One plan for a batch job of `requests` requests, from what one run measured.

    `ready` is False when a blocking measurement is missing or failed: then `strategy`,
    `num_ctx`, `trim` and `num_parallel` may be None and no settings are printed or written.
    """

    requests: int
    simulated: bool
    model: str | None
    strategy: str | None
    num_ctx: int | None
    num_ctx_source: str
    trim: TrimPlan | None
    num_parallel: int | None
    concurrency: int | None
    parallel_source: str
    time_s: Interval | None
    memory: PeakMemory | None
    token_savings: Interval | None
    projections: tuple[Projection, ...]
    measured: tuple[str, ...]  # which suites' results the plan used
    missing: tuple[Missing, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def ready(self) -> bool:
        return not any(m.blocking for m in self.missing) and self.strategy is not None

    @property
    def chosen(self) -> Projection | None:
        return next((p for p in self.projections if p.strategy == self.strategy), None)

    @property
    def basis(self) -> str:
        return "simulated" if self.simulated else "measured"

    def to_json(self) -> dict[str, Any]:
        return {**_as_json(self), "ready": self.ready}

    @classmethod
    def from_json(cls, raw: Any, where: str = "job_plan") -> JobPlan:
        raw = _mapping(raw, where)
        trim, memory = raw.get("trim"), raw.get("memory")
        return cls(
            requests=int(_get(raw, "requests", where)),
            simulated=bool(raw.get("simulated")),
            model=raw.get("model"),
            strategy=raw.get("strategy"),
            num_ctx=raw.get("num_ctx"),
            num_ctx_source=str(raw.get("num_ctx_source") or ""),
            trim=None if trim is None else TrimPlan.from_json(trim, f"{where}.trim"),
            num_parallel=raw.get("num_parallel"),
            concurrency=raw.get("concurrency"),
            parallel_source=str(raw.get("parallel_source") or ""),
            time_s=_interval(raw.get("time_s"), f"{where}.time_s"),
            memory=None if memory is None else PeakMemory.from_json(memory, f"{where}.memory"),
            token_savings=_interval(raw.get("token_savings"), f"{where}.token_savings"),
            projections=tuple(
                Projection.from_json(p, f"{where}.projections[{i}]")
                for i, p in enumerate(raw.get("projections") or ())
            ),
            measured=tuple(str(m) for m in raw.get("measured") or ()),
            missing=tuple(
                Missing.from_json(m, f"{where}.missing[{i}]")
                for i, m in enumerate(raw.get("missing") or ())
            ),
            notes=tuple(str(n) for n in raw.get("notes") or ()),
        )


@dataclass(frozen=True)
class Pick:
    """One model x context cell that met its criteria, with what it measured."""

    case_id: str
    model: str
    num_ctx: int
    ttft_s: float | None
    decode_tok_s: float | None
    stability: float | None
    peak_memory_bytes: int | None
    options: Mapping[str, Any]
    thresholds: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        out = _as_json(self)
        return {**out, "options": dict(self.options), "thresholds": dict(self.thresholds)}

    @classmethod
    def from_json(cls, raw: Any, where: str = "pick") -> Pick:
        raw = _mapping(raw, where)
        return cls(
            case_id=str(_get(raw, "case_id", where)),
            model=str(_get(raw, "model", where)),
            num_ctx=int(_get(raw, "num_ctx", where)),
            ttft_s=raw.get("ttft_s"),
            decode_tok_s=raw.get("decode_tok_s"),
            stability=raw.get("stability"),
            peak_memory_bytes=raw.get("peak_memory_bytes"),
            options=dict(raw.get("options") or {}),
            thresholds=dict(raw.get("thresholds") or {}),
        )


@dataclass(frozen=True)
class Recommendation:
    """For one use case of a matrix: the best cell that met its criteria and the runner-up.

    `best` is None when no cell of the use case passed; `reason` then says why.
    """

    use_case: str
    matrix: str
    simulated: bool
    best: Pick | None
    runner_up: Pick | None
    candidates: int
    passed: int
    reason: str
    preset: str | None = None  # the preset file's name in the run folder

    def to_json(self) -> dict[str, Any]:
        return _as_json(self)

    @classmethod
    def from_json(cls, raw: Any, where: str = "recommendation") -> Recommendation:
        raw = _mapping(raw, where)
        best, runner = raw.get("best"), raw.get("runner_up")
        return cls(
            use_case=str(_get(raw, "use_case", where)),
            matrix=str(raw.get("matrix") or ""),
            simulated=bool(raw.get("simulated")),
            best=None if best is None else Pick.from_json(best, f"{where}.best"),
            runner_up=None if runner is None else Pick.from_json(runner, f"{where}.runner_up"),
            candidates=int(raw.get("candidates") or 0),
            passed=int(raw.get("passed") or 0),
            reason=str(raw.get("reason") or ""),
            preset=raw.get("preset"),
        )
