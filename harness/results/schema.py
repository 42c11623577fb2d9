"""The typed results model: what a `results.json` (schema `harness.results/1`) holds.

One module for the schema's version, its types and its loader, so the report, the baselines,
the terminal summary and the CLIs read attributes that mypy checks instead of `.get("key")`
on dicts. docs/results-schema.md describes every key; this module types the keys that
something reads.

    run = load_run(path)           # a run folder, a results.json, or a stored baseline
    for case in run.cases:
        case.metrics["ttft_s"].p50 # float | None

Reading is lenient below the envelope, on purpose: a missing or mistyped value becomes None
(or empty), so one odd key in a hand-edited or older file never takes a report down. The
envelope (a JSON object, its schema, `cases` a list of objects) is checked strictly and an
error names the file. Code that must reject bad values rather than ignore them (baseline
comparison) validates the JSON itself (`harness.baseline.store.validate_payload`).

The model is read-only. `raw` keeps the JSON each object was read from, so saving a baseline
or rewriting a file stays byte-identical, keys this module does not type included.

Adding a section: write a frozen dataclass with a `from_json(value: object)` classmethod
that tolerates any JSON value, add a field for it to `RunResults` and one line to
`RunResults.from_json`; until then a section is reachable, untyped, as `run.section(name)`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ResultsError

SCHEMA = "harness.results/1"
BASELINE_SCHEMA = "harness.baseline/1"
RESULTS_FILE = "results.json"

JsonObject = Mapping[str, Any]

# --------------------------------------------------------------------- lenient readers
# The values come from json.loads, so exact-type checks suffice; they are much cheaper than
# isinstance against the collections.abc classes, which matters at 10,000 cases.
_EMPTY: JsonObject = {}


def mapping(value: object) -> JsonObject:
    """`value` if it is a JSON object, else an empty one."""
    return value if type(value) is dict else _EMPTY


def records(value: object) -> list[JsonObject]:
    """The objects inside a JSON list (anything else dropped)."""
    if type(value) is not list:
        return []
    return [item for item in value if type(item) is dict]


def number(value: object) -> float | None:
    """A finite number, or None (bools, strings, NaN and infinities are not numbers here)."""
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else None  # type: ignore[arg-type,return-value]
    if kind is int:
        return float(value)  # type: ignore[arg-type]
    return None


def text(value: object) -> str:
    """A display string: '' for None, the value itself for strings, str() otherwise."""
    if value is None:
        return ""
    return value if type(value) is str else str(value)


def opt_text(value: object) -> str | None:
    """Like `text`, but None stays None (a case without a suite is not one with suite '')."""
    return None if value is None else text(value)


def dig(value: object, *keys: str) -> Any:
    """`value[k1][k2]...` through JSON objects; None as soon as a step is missing."""
    for key in keys:
        if type(value) is not dict:
            return None
        value = value.get(key)
    return value


def _flag(value: object) -> bool | None:
    return value if type(value) is bool else None


def _texts(value: object) -> tuple[str, ...]:
    return tuple(text(v) for v in value) if type(value) is list else ()


def count(value: object) -> int | None:
    """A whole number (a size, a count, bytes) from a JSON number, or None."""
    n = number(value)
    return None if n is None else int(n)


def _object(value: object) -> JsonObject | None:
    """`value` if it is a non-empty JSON object, else None."""
    return value if type(value) is dict and value else None


# ------------------------------------------------------------- throughput, extrapolation


@dataclass(frozen=True)
class Interval:
    """A value with its 95% interval (low and high are None when none was measured)."""

    value: float
    low: float | None = None
    high: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "low": self.low, "high": self.high}

    @classmethod
    def from_json(cls, raw: object, where: str = "interval") -> Interval:
        """Strict, for the job plan's stored intervals: ResultsError names the key."""
        if not isinstance(raw, Mapping):
            raise ResultsError(f"{where} is {raw!r}, not a mapping; re-run `harness plan RUN`")
        if "value" not in raw:
            raise ResultsError(f"{where}: key 'value' is missing; re-run `harness plan RUN`")
        return cls(float(raw["value"]), raw.get("low"), raw.get("high"))

    @classmethod
    def at(cls, data: JsonObject, key: str) -> Interval | None:
        """`key` with its `key_low` / `key_high` bounds, as the extrapolation writes them;
        None when `key` holds no number."""
        value = number(data.get(key))
        if value is None:
            return None
        return cls(value, number(data.get(f"{key}_low")), number(data.get(f"{key}_high")))

    def scaled(self, factor: float) -> Interval:
        def mul(v: float | None) -> float | None:
            return None if v is None else v * factor

        return Interval(self.value * factor, mul(self.low), mul(self.high))


@dataclass(frozen=True, slots=True)
class ThroughputEntry:
    """One measured size of one throughput strategy (an element of `throughput`, run-level
    and in a throughput case; written by `harness.batch.throughput.entry_from`)."""

    model: str
    strategy: str
    size: int
    total_s: float
    req_s: float | None
    tokens_sent: float | None  # prompt tokens as the server counted them
    completion_tokens: float | None
    token_savings: float | None
    trims: int | None
    peak_memory_bytes: int | None
    errors: int
    errors_by_code: Mapping[str, int]  # error code -> requests that failed with it

    @classmethod
    def from_json(cls, data: JsonObject) -> ThroughputEntry:
        get = data.get
        return cls(
            model=text(get("model")),
            strategy=text(get("strategy")),
            size=count(get("size")) or 0,
            total_s=number(get("total_s")) or 0.0,
            req_s=number(get("req_s")),
            tokens_sent=number(get("tokens_sent")),
            completion_tokens=number(get("completion_tokens")),
            token_savings=number(get("token_savings")),
            trims=count(get("trims")),
            peak_memory_bytes=count(get("peak_memory_bytes")),
            errors=count(get("errors")) or 0,
            errors_by_code={
                text(code): count(n) or 0 for code, n in mapping(get("errors_by_code")).items()
            },
        )

    @property
    def tokens_s(self) -> float | None:
        """Prompt + completion tokens the server counted, per second of batch time."""
        tokens = (self.tokens_sent or 0.0) + (self.completion_tokens or 0.0)
        return tokens / self.total_s if self.total_s > 0 and tokens else None


@dataclass(frozen=True, slots=True)
class Extrapolation:
    """One strategy's projection to the job's size (`harness.batch.extrapolate`): a
    throughput case's `extrapolation`, and the run-level one, whose `by_strategy` holds
    every strategy's."""

    target: float | None
    strategy: str
    time_s: Interval | None
    prompt_tokens: Interval | None
    completion_tokens: Interval | None
    trims: Interval | None
    peak_memory_bytes: Interval | None
    fit_a: float | None  # time = a + b x N
    fit_b: float | None
    warning: str | None
    method: str
    by_strategy: Mapping[str, Extrapolation]

    @classmethod
    def from_json(cls, value: object) -> Extrapolation | None:
        """None for anything but a non-empty object (a case without a projection)."""
        data = _object(value)
        if data is None:
            return None
        get, fit = data.get, mapping(data.get("fit"))
        by_strategy = {
            text(name): found
            for name, one in mapping(get("by_strategy")).items()
            if (found := cls.from_json(one)) is not None
        }
        return cls(
            target=number(get("target")),
            strategy=text(get("strategy")),
            time_s=Interval.at(data, "time_s"),
            prompt_tokens=Interval.at(data, "prompt_tokens"),
            completion_tokens=Interval.at(data, "completion_tokens"),
            trims=Interval.at(data, "trims"),
            peak_memory_bytes=Interval.at(data, "peak_memory_bytes"),
            fit_a=number(fit.get("a")),
            fit_b=number(fit.get("b")),
            warning=text(get("warning")) if get("warning") else None,
            method=text(get("method")),
            by_strategy=by_strategy,
        )

    def projections(self) -> dict[str, Extrapolation]:
        """strategy -> projection: `by_strategy`, else this one alone (older runs)."""
        if self.by_strategy:
            return dict(self.by_strategy)
        return {self.strategy: self} if self.strategy else {}


@dataclass(frozen=True, slots=True)
class ThroughputSettings:
    """The settings a throughput case ran with (`batch_settings`, written by
    `harness.batch.throughput.throughput_case_settings`); defaults are the batch engine's."""

    num_ctx: int | None
    concurrency: int
    trim_strategy: str
    trim_threshold: int
    trim_interval: int
    keep_messages: int
    memory_budget_bytes: int | None

    @classmethod
    def from_json(cls, value: object) -> ThroughputSettings | None:
        data = _object(value)
        if data is None:
            return None
        get = data.get
        return cls(
            num_ctx=count(get("num_ctx")),
            concurrency=count(get("concurrency")) or 1,
            trim_strategy=text(get("trim_strategy")) or "sliding_window",
            trim_threshold=count(get("trim_threshold")) or 0,
            trim_interval=count(get("trim_interval")) or 0,
            keep_messages=count(get("keep_messages")) or 0,
            memory_budget_bytes=count(get("memory_budget_bytes")),
        )


@dataclass(frozen=True)
class Growth:
    """Tokens per request added to a conversation, the system prompt's, and where from
    (`harness.batch.growth` measures it; a throughput case's `trim_plan.growth` holds it)."""

    tokens_per_request: int
    system_tokens: int
    source: str  # "measured" (server counts) or "estimated" (the batch input)
    samples: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "tokens_per_request": self.tokens_per_request,
            "system_tokens": self.system_tokens,
            "source": self.source,
            "samples": self.samples,
        }


def growth_from_json(value: object) -> Growth | None:
    """A trim plan's `growth` (`Growth.as_dict()`); None without tokens per request."""
    data = mapping(value)
    per_request = count(data.get("tokens_per_request"))
    if not per_request:
        return None
    return Growth(
        per_request,
        count(data.get("system_tokens")) or 0,
        text(data.get("source")) or "measured",
        count(data.get("samples")) or 0,
    )


# ----------------------------------------------------------------------------- cases


@dataclass(frozen=True, slots=True)
class Summary:
    """One metric summarised over a case's ok samples (`harness.measure.stats.summarize`)."""

    p50: float | None
    p90: float | None

    @classmethod
    def from_json(cls, value: object) -> Summary:
        data = mapping(value)
        return cls(number(data.get("p50")), number(data.get("p90")))


@dataclass(frozen=True, slots=True)
class Sample:
    """One repeat of a case, raw; only the metrics something compares are typed."""

    outcome: str | None
    error: str | None
    ttft_s: float | None
    e2e_s: float | None
    prompt_tok_s: float | None
    decode_tok_s: float | None

    @classmethod
    def from_json(cls, data: JsonObject) -> Sample:
        get = data.get
        return cls(
            opt_text(get("outcome")),
            opt_text(get("error")) if get("error") else None,
            number(get("ttft_s")),
            number(get("e2e_s")),
            number(get("prompt_tok_s")),
            number(get("decode_tok_s")),
        )


@dataclass(frozen=True, slots=True)
class Check:
    """One threshold applied to a case: `measured op required`, and whether it held."""

    metric: str
    stat: str
    op: str
    required: float | None
    measured: float | None
    passed: bool | None

    @classmethod
    def from_json(cls, data: JsonObject) -> Check:
        get = data.get
        return cls(
            text(get("metric")),
            text(get("stat")),
            text(get("op")),
            number(get("required")),
            number(get("measured")),
            _flag(get("passed")),
        )


Bound = float | str  # a threshold's bound: a number, or whatever text the matrix gave


def _bounds(value: object) -> dict[str, Bound]:
    out: dict[str, Bound] = {}
    for key, bound in mapping(value).items():
        n = number(bound)
        out[text(key)] = text(bound) if n is None else n
    return out


@dataclass(frozen=True, slots=True)
class Stability:
    score: float | None
    components: Mapping[str, float | None]
    formula: str

    @classmethod
    def from_json(cls, value: object) -> Stability | None:
        if type(value) is not dict:
            return None
        data: JsonObject = value
        components = {text(k): number(v) for k, v in mapping(data.get("components")).items()}
        return cls(number(data.get("score")), components, text(data.get("formula")))


@dataclass(frozen=True, slots=True)
class Memory:
    delta_bytes: float | None
    peak_bytes: float | None

    @classmethod
    def from_json(cls, value: object) -> Memory | None:
        if type(value) is not dict:
            return None
        data: JsonObject = value
        return cls(number(data.get("delta_bytes")), number(data.get("peak_bytes")))


@dataclass(frozen=True, slots=True)
class ContextSetting:
    """Whether the harness could set the context on the server (no: OpenAI-compatible)."""

    set_by_harness: bool | None
    server_context: float | None

    @classmethod
    def from_json(cls, value: object) -> ContextSetting | None:
        if type(value) is not dict:
            return None
        data: JsonObject = value
        return cls(_flag(data.get("set_by_harness")), number(data.get("server_context")))


@dataclass(frozen=True, slots=True)
class MetricChange:
    """One metric of a case's baseline comparison (`MetricComparison.to_json()`)."""

    metric: str
    change: float | None  # > 0 is always a step back
    verdict: str


@dataclass(frozen=True, slots=True)
class CaseBaseline:
    """A case against its baseline, as written by `CaseComparison.to_json()`."""

    verdict: str
    status: str  # the key older files used for the verdict
    messages: tuple[str, ...]
    metrics: tuple[MetricChange, ...]

    @classmethod
    def from_json(cls, value: object) -> CaseBaseline | str | None:
        """A comparison object, a bare verdict string (hand-made files), or None."""
        if value is None:
            return None
        if type(value) is not dict:
            return text(value)
        metrics = tuple(
            MetricChange(text(m.get("metric")), number(m.get("change")), text(m.get("verdict")))
            for m in value.get("metrics") or ()
            if type(m) is dict
        )
        messages = tuple(text(m) for m in value.get("messages") or ())
        return cls(text(value.get("verdict")), text(value.get("status")), messages, metrics)


@dataclass(frozen=True, slots=True)
class Case:
    """One measured cell of a matrix (an element of `cases`)."""

    id: str
    suite: str | None
    model: str
    num_ctx: float | None
    server: str
    outcome: str
    verdict: str
    reason: str
    use_case: str
    context: ContextSetting | None
    thresholds: Mapping[str, Mapping[str, Bound]]
    checks: tuple[Check, ...]
    samples: tuple[Sample, ...]
    metrics: Mapping[str, Summary]
    stability: Stability | None
    memory: Memory | None
    baseline: CaseBaseline | str | None
    load_s: float | None  # the model's load time, as measured for the cell
    target_prompt_tokens: float | None  # the prompt length the cell asked for
    host_load: JsonObject | None  # read by harness.baseline.hostload, which owns its keys
    trim_plan: JsonObject | None  # read by harness.batch.analyze.plan_lines
    matrix: str
    # The server options and thresholds as the matrix gave them: a preset copies them as
    # written (`thresholds` above has the numbers as floats).
    options: JsonObject
    thresholds_as_written: JsonObject
    # A throughput case's: its sizes (None: not a throughput case), projection, settings,
    # and the conversation growth its trim plan measured.
    throughput: tuple[ThroughputEntry, ...] | None
    extrapolation: Extrapolation | None
    batch_settings: ThroughputSettings | None
    growth: Growth | None
    raw: JsonObject = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JsonObject) -> Case:
        get = data.get  # one lookup per key: called 10,000 times for a big run
        host_load, trim_plan, throughput = get("host_load"), get("trim_plan"), get("throughput")
        return cls(
            id=text(get("id")),
            suite=opt_text(get("suite")),
            model=text(get("model")),
            num_ctx=number(get("num_ctx")),
            server=text(get("server")),
            outcome=text(get("outcome")),
            verdict=text(get("verdict")),
            reason=text(get("reason")),
            use_case=text(get("use_case")),
            context=ContextSetting.from_json(get("context")),
            thresholds={text(k): _bounds(v) for k, v in mapping(get("thresholds")).items()},
            checks=tuple(Check.from_json(c) for c in records(get("checks"))),
            samples=tuple(Sample.from_json(s) for s in records(get("samples"))),
            metrics={text(k): Summary.from_json(v) for k, v in mapping(get("metrics")).items()},
            stability=Stability.from_json(get("stability")),
            memory=Memory.from_json(get("memory")),
            baseline=CaseBaseline.from_json(get("baseline")),
            load_s=number(mapping(get("load")).get("load_s")),
            target_prompt_tokens=number(get("target_prompt_tokens")),
            host_load=host_load if type(host_load) is dict else None,
            trim_plan=trim_plan if type(trim_plan) is dict and trim_plan else None,
            matrix=text(get("matrix")),
            options=mapping(get("options")),
            thresholds_as_written=mapping(get("thresholds")),
            throughput=(
                tuple(ThroughputEntry.from_json(e) for e in records(throughput))
                if type(throughput) is list
                else None
            ),
            extrapolation=Extrapolation.from_json(get("extrapolation")),
            batch_settings=ThroughputSettings.from_json(get("batch_settings")),
            growth=growth_from_json(trim_plan.get("growth")) if type(trim_plan) is dict else None,
            raw=data,
        )

    def p50(self, metric: str) -> float | None:
        summary = self.metrics.get(metric)
        return None if summary is None else summary.p50


# ----------------------------------------------------------------------- fingerprint


@dataclass(frozen=True, slots=True)
class Gpu:
    name: str
    memory_bytes: float | None
    driver: str

    @classmethod
    def from_json(cls, data: JsonObject) -> Gpu:
        get = data.get
        return cls(text(get("name")), number(get("memory_bytes")), text(get("driver")))


@dataclass(frozen=True, slots=True)
class SimSetup:
    """The simulator a run measured; its profile and speed decide comparability."""

    profile: object  # compared and shown as written (a profile name, or null)
    speed: object

    @classmethod
    def from_json(cls, value: object) -> SimSetup | None:
        if not value or type(value) is not dict:
            return None
        data: JsonObject = value
        return cls(data.get("profile"), data.get("speed"))


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """The machine, server and harness a run measured (`harness.results.fingerprint`)."""

    host: str
    platform: str
    python: str
    cpu: object  # compared as written (CPU-only baselines match on it)
    cpu_count: float | None
    ram_bytes: float | None
    gpus: tuple[Gpu, ...] | None  # None: the key is absent (unknown), () : no GPU
    engine: object
    server_url: str
    server_version: str
    sim: SimSetup | None
    matrices: tuple[str, ...] | None
    harness_version: str
    git_sha: str
    model_digests: Mapping[str, str]
    raw: JsonObject = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, value: object) -> Fingerprint:
        data = mapping(value)
        get = data.get
        gpus = get("gpus")
        return cls(
            host=text(get("host")),
            platform=text(get("platform")),
            python=text(get("python")),
            cpu=get("cpu"),
            cpu_count=number(get("cpu_count")),
            ram_bytes=number(get("ram_bytes")),
            gpus=None if "gpus" not in data else tuple(Gpu.from_json(g) for g in records(gpus)),
            engine=get("engine"),
            server_url=text(get("server_url")),
            server_version=text(get("server_version")),
            sim=SimSetup.from_json(get("sim")),
            matrices=_texts(get("matrices")) if type(get("matrices")) is list else None,
            harness_version=text(get("harness_version")),
            git_sha=text(get("git_sha")),
            model_digests={
                text(name): text(digest)
                for name, info in mapping(get("models")).items()
                if (digest := mapping(info).get("digest"))
            },
            raw=data,
        )

    @property
    def gpu_names(self) -> list[str]:
        return sorted(g.name for g in self.gpus or ())


# ---------------------------------------------------------------------------- limits


@dataclass(frozen=True, slots=True)
class Probe:
    num_ctx: float | None
    outcome: str
    memory_bytes: float | None
    capacity_bytes: float | None  # what the budget left the model on the judged device

    @classmethod
    def from_json(cls, data: JsonObject) -> Probe:
        get = data.get
        return cls(
            number(get("num_ctx")),
            text(get("outcome")),
            number(get("memory_bytes")),
            number(get("capacity_bytes")),
        )


@dataclass(frozen=True, slots=True)
class Recommendations:
    max_context_tokens: float | None
    trim_threshold: float | None
    settings_text: str


@dataclass(frozen=True, slots=True)
class LimitPrediction:
    """What the model's shape predicted, against what the search measured (a limit's
    `prediction`; `harness.limits.discover` writes it)."""

    kv_bytes_per_token: float | None  # the KV cache alone, analytic
    kv_bytes_per_token_all_layers: float | None  # ... if every layer kept the whole context
    full_window_caches: bool  # the server keeps full-size sliding-window caches
    bytes_per_token_error: float | None  # predicted / measured bytes per token - 1
    note: str  # why there is no prediction

    @classmethod
    def from_json(cls, value: object) -> LimitPrediction:
        get = mapping(value).get
        return cls(
            number(get("kv_bytes_per_token")),
            number(get("kv_bytes_per_token_all_layers")),
            bool(get("full_window_caches")),
            number(get("bytes_per_token_error")),
            text(get("note")),
        )


@dataclass(frozen=True, slots=True)
class Limit:
    """One model's context-limit search (an element of `limits`)."""

    model: str
    hardware: str
    device: str | None  # "gpu" or "ram": the budget the search measured against
    verdict: str
    reason: str
    bound: str | None  # memory, the server's cap or the model's trained context
    max_context: float | None
    spill_context: float | None  # the smallest context that spilled to the CPU
    bytes_per_token: float | None
    base_bytes: float | None
    r2: float | None
    probes: tuple[Probe, ...]
    recommendations: Recommendations  # every field None when the search recommended nothing
    matrix: str
    budget_bytes: float | None  # the memory the search allowed the model (its prediction's)
    prediction: LimitPrediction
    memory_source: str  # what measured the memory (`memory.name`), and why it was chosen
    memory_reason: str
    search_probes: int | None  # probes of the search itself, and the most it could make
    search_max_probes: int | None
    raw: JsonObject = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JsonObject) -> Limit:
        get = data.get
        recs, memory, search = (
            mapping(get("recommendations")),
            mapping(get("memory")),
            mapping(get("search")),
        )
        return cls(
            model=text(get("model")),
            hardware=text(get("hardware")),
            device=opt_text(get("device")),
            verdict=text(get("verdict")),
            reason=text(get("reason")),
            bound=opt_text(get("bound")),
            max_context=number(get("max_context")),
            spill_context=number(get("spill_context")),
            bytes_per_token=number(get("bytes_per_token")),
            base_bytes=number(get("base_bytes")),
            r2=number(get("r2")),
            probes=tuple(Probe.from_json(p) for p in records(get("probes"))),
            recommendations=Recommendations(
                number(recs.get("max_context_tokens")),
                number(recs.get("trim_threshold")),
                text(recs.get("settings_text")),
            ),
            matrix=text(get("matrix")),
            budget_bytes=number(dig(data, "prediction", "available_bytes")),
            prediction=LimitPrediction.from_json(get("prediction")),
            memory_source=text(memory.get("name")),
            memory_reason=text(memory.get("reason")),
            search_probes=count(search.get("probes")),
            search_max_probes=count(search.get("max_probes")),
            raw=data,
        )


# ------------------------------------------------------------------ concurrency, capacity


@dataclass(frozen=True, slots=True)
class Level:
    """One step of a concurrency sweep: this many clients, and the goodput they got."""

    concurrency: float | None
    goodput_req_s: float | None


@dataclass(frozen=True, slots=True)
class Sweep:
    """One concurrency sweep at one parallel-slots setting (an element of `concurrency`)."""

    model: str
    context: float | None
    slots: str
    spilled: bool  # measured, but off the GPU
    saturated_at: float | None
    levels: tuple[Level, ...]

    @classmethod
    def from_json(cls, data: JsonObject) -> Sweep:
        get = data.get
        levels = tuple(
            Level(number(level.get("concurrency")), number(dig(level, "goodput", "req_s")))
            for level in records(get("levels"))
        )
        return cls(
            text(get("model")),
            number(get("context")),
            text(get("slots")),
            bool(get("spilled")),
            number(get("saturated_at")),
            levels,
        )


@dataclass(frozen=True, slots=True)
class BestSetting:
    slots: str
    clients: str  # concurrent clients, or the request rate of an open-loop sweep
    goodput_req_s: float | None
    num_parallel: int | None  # `slots` as a number (the job plan's OLLAMA_NUM_PARALLEL)
    concurrency: int | None  # concurrent clients (None for an open-loop sweep)


@dataclass(frozen=True, slots=True)
class CapacityEntry:
    """What fits and what is fastest for one model and context (`capacity.entries`)."""

    model: str
    context: float | None
    max_parallel_fit: str
    best: BestSetting | None
    job_hours_best: float | None
    job_hours_p1: float | None
    recommendation: str
    job_requests: int | None  # the job the hours are for

    @classmethod
    def from_json(cls, data: JsonObject) -> CapacityEntry:
        get = data.get
        best = mapping(get("best"))
        setting = None
        if best:
            slots, concurrency = best.get("slots"), best.get("concurrency")
            setting = BestSetting(
                text(slots),
                text(concurrency or best.get("rate")),
                number(best.get("goodput_req_s")),
                count(slots),
                count(concurrency),
            )
        return cls(
            text(get("model")),
            number(get("context")),
            text(get("max_parallel_fit")),
            setting,
            number(get("job_hours_best")),
            number(get("job_hours_p1")),
            text(get("recommendation")),
            count(get("job_requests")),
        )


# ------------------------------------------------------------------ baseline, history


@dataclass(frozen=True, slots=True)
class RunBaseline:
    """The run-level comparison (`RunComparison.to_json()`), as the report shows it."""

    name: str
    verdicts: Mapping[str, str]  # verdict -> count, as written

    @classmethod
    def from_json(cls, value: object) -> RunBaseline:
        data = mapping(value)
        counts = mapping(data.get("verdicts"))
        return cls(text(data.get("name")), {text(k): str(v) for k, v in counts.items()})


@dataclass(frozen=True, slots=True)
class Night:
    """One earlier run of a baseline's history: {case key: {metric: p50}}."""

    run_id: str
    started_at: str
    cases: Mapping[str, Mapping[str, float | None]]

    @classmethod
    def from_json(cls, data: JsonObject) -> Night:
        cases = {
            text(key): {text(m): number(v) for m, v in mapping(values).items()}
            for key, values in mapping(data.get("cases")).items()
        }
        return cls(text(data.get("run_id")), text(data.get("started_at")), cases)


# ------------------------------------------------------------------------------- run


@dataclass(frozen=True, slots=True)
class RunResults:
    """A whole `results.json`, or a stored baseline (the same shape, trimmed cases)."""

    schema: str
    name: str | None  # a baseline's name; None for a run
    run_id: str | None
    started_at: str | None
    duration_s: float | None
    simulated: bool
    fingerprint: Fingerprint
    cases: tuple[Case, ...]
    limits: tuple[Limit, ...]
    concurrency: tuple[Sweep, ...]
    capacity: tuple[CapacityEntry, ...]
    throughput: tuple[ThroughputEntry, ...]  # every strategy's sizes, in the order run
    extrapolation: Extrapolation | None
    baseline: RunBaseline
    history: tuple[Night, ...]
    raw: JsonObject = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JsonObject, *, type_cases: bool = True) -> RunResults:
        """The model of a decoded document whose envelope `check_envelope` accepted.

        `type_cases=False` leaves `cases` empty, for a reader that wants a few fields of a
        big run's cases: `iter_cases()` then types them one at a time.
        """
        get = data.get
        return cls(
            schema=text(get("schema")),
            name=opt_text(get("name")) if type(get("name")) is str else None,
            run_id=opt_text(get("run_id")),
            started_at=opt_text(get("started_at")),
            duration_s=number(get("duration_s")),
            simulated=get("simulated") is True,
            fingerprint=Fingerprint.from_json(get("fingerprint")),
            cases=tuple(Case.from_json(c) for c in records(get("cases"))) if type_cases else (),
            limits=tuple(Limit.from_json(lim) for lim in records(get("limits"))),
            concurrency=tuple(Sweep.from_json(s) for s in records(get("concurrency"))),
            capacity=tuple(
                CapacityEntry.from_json(e) for e in records(mapping(get("capacity")).get("entries"))
            ),
            throughput=tuple(ThroughputEntry.from_json(e) for e in records(get("throughput"))),
            extrapolation=Extrapolation.from_json(get("extrapolation")),
            baseline=RunBaseline.from_json(get("baseline")),
            history=tuple(Night.from_json(h) for h in records(get("history"))),
            raw=data,
        )

    def iter_cases(self) -> Iterator[Case]:
        """The cases, typed one at a time as they are consumed (`type_cases=False`)."""
        return (Case.from_json(c) for c in records(self.raw.get("cases")))

    def section(self, name: str) -> object:
        """A section this module does not type yet, as JSON (None when absent)."""
        return self.raw.get(name)

    def to_json(self) -> JsonObject:
        """The document as it was read: every key kept, typed here or not."""
        return self.raw


def as_run(value: RunResults | JsonObject) -> RunResults:
    """A `RunResults` from itself or from a document already in memory (the plugin's payload,
    a test's); unlike `load_run` it checks no schema, as reports of those never did."""
    return value if isinstance(value, RunResults) else RunResults.from_json(value)


def read_document(path: Path) -> object:
    """Decode one JSON file; any problem raises `ResultsError` naming the file and the fix."""
    try:
        content = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsError(
            f"{path} does not exist: a run folder holds {RESULTS_FILE} once its run finished; "
            "point at a finished run's folder or its results.json"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path}: cannot be read: {exc}") from exc
    try:
        return json.loads(content)
    except json.JSONDecodeError as exc:
        raise ResultsError(
            f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}; if the run was "
            "killed while writing it, results.jsonl in the same folder keeps the finished cases"
        ) from None


def check_envelope(data: object, source: str, schemas: tuple[str, ...]) -> JsonObject:
    """A JSON object with one of `schemas` and `cases` a list of objects, or ResultsError."""
    if type(data) is not dict:
        raise ResultsError(
            f"{source}: holds a JSON {type(data).__name__}, expected an object "
            f"with schema {SCHEMA!r}"
        )
    document: JsonObject = data
    schema = document.get("schema")
    if schema not in schemas:
        expected = repr(schemas[0]) if len(schemas) == 1 else f"one of {list(schemas)}"
        raise ResultsError(
            f"{source}: schema is {schema!r}, expected {expected}; it was written by another "
            "version of the harness or is not a results file"
        )
    cases = document.get("cases", [])
    if type(cases) is not list:
        raise ResultsError(f"{source}: cases is {type(cases).__name__}, expected a list")
    for index, case in enumerate(cases):
        if type(case) is not dict:
            raise ResultsError(
                f"{source}: cases[{index}] is {type(case).__name__}, expected an object"
            )
    return document


def results_path(path: Path) -> Path:
    """A run folder's results.json, or `path` itself when it names a file."""
    return path / RESULTS_FILE if path.is_dir() else path


def load_run(
    path: str | Path,
    schemas: tuple[str, ...] = (SCHEMA,),
    *,
    check: Callable[[JsonObject, str], None] | None = None,
    type_cases: bool = True,
) -> RunResults:
    """Read a run folder, a results.json or (with BASELINE_SCHEMA allowed) a stored baseline.

    `check(document, source)` runs on the JSON before it is typed, for readers that must
    reject values the lenient model would read as None (baseline comparison does).
    `type_cases=False`: see `RunResults.from_json`.
    """
    path = results_path(Path(path))
    document = check_envelope(read_document(path), str(path), schemas)
    if check is not None:
        check(document, str(path))
    return RunResults.from_json(document, type_cases=type_cases)
