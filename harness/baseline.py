"""Stored baselines of a machine and the verdicts of a run against them.

A baseline is a trimmed copy of one run's `results.json` (schema `harness.results/1`) that
keeps every case's raw samples and the machine fingerprint, saved as
`reports/baselines/NAME.json`. A later run is compared case by case and metric by metric:

    change  = relative change of the p50 (median of ok samples) in the WORSE direction:
              (current - baseline) / baseline for lower-is-better metrics and
              (baseline - current) / baseline for higher-is-better ones, so a positive
              change is always a step back and "regressed 14.2%" reads the same for both.
    regressed = change > tolerance AND the change is statistically significant:
              Mann-Whitney U one-sided p < alpha when both sides have >= min_samples ok
              samples, else a bootstrap (1 - alpha) interval of the ratio of medians that
              lies wholly beyond the tolerance (so it excludes 1). Mann-Whitney cannot
              reach p < 0.01 at 4 vs 4 or fewer (1/70 at best; 5 vs 5 gives 1/252), which is
              why the bootstrap exists; see harness.significance. Improvement is the mirror.
    single values (stability score, peak memory) have no repeats, so no test exists for
              them: they are compared against the tolerance alone, and say so.

Both conditions are needed: the tolerance keeps a real but irrelevant 2% drift quiet, the
test keeps a noisy 12% jump on two samples from failing the nightly job.
"""

from __future__ import annotations

import json
import math
import os
import re
import statistics
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness.errors import ConfigError, ResultsError
from harness.significance import bootstrap_ratio_of_medians, mann_whitney_u

RESULTS_SCHEMA = "harness.results/1"
BASELINE_SCHEMA = "harness.baseline/1"

Verdict = Literal["regressed", "improved", "unchanged", "new", "missing", "incomparable"]
VERDICTS: tuple[Verdict, ...] = (
    "regressed",
    "improved",
    "unchanged",
    "new",
    "missing",
    "incomparable",
)
# "changed": beyond the tolerance but not testable (a single value, or too few samples):
# reported, never a regression, since a regression needs significance as well.
MetricVerdict = Literal["regressed", "improved", "changed", "unchanged", "skipped"]
Direction = Literal["lower", "higher"]

# The per-case keys a baseline keeps. An allow-list rather than "everything but" so that
# bulky additions to the results schema (sampler time series) do not bloat committed files.
KEPT_CASE_KEYS = (
    "id",
    "nodeid",
    "suite",
    "matrix",
    "model",
    "num_ctx",
    "server",
    "outcome",
    "verdict",
    "target_prompt_tokens",
    "samples",
    "metrics",
    "stability",
    "memory",
)
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class MetricSpec:
    """One compared metric: where its values come from and which way is better."""

    name: str
    direction: Direction
    unit: str
    per_sample: bool  # False: a single case-level value at a dotted path


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("ttft_s", "lower", "s", per_sample=True),
    MetricSpec("e2e_s", "lower", "s", per_sample=True),
    MetricSpec("prompt_tok_s", "higher", "tok/s", per_sample=True),
    MetricSpec("decode_tok_s", "higher", "tok/s", per_sample=True),
    MetricSpec("stability.score", "higher", "", per_sample=False),
    MetricSpec("memory.peak_bytes", "lower", "bytes", per_sample=False),
)
SAMPLE_METRICS = tuple(m.name for m in METRICS if m.per_sample)


@dataclass(frozen=True)
class CompareConfig:
    """How strict a comparison is; the defaults are the ones CI uses."""

    tolerance: float = 0.10
    per_metric_tolerance: Mapping[str, float] = field(default_factory=dict)
    alpha: float = 0.01
    min_samples: int = 5
    force: bool = False
    bootstrap_resamples: int = 2000
    seed: int = 0

    def __post_init__(self) -> None:
        for metric, tol in {"(default)": self.tolerance, **self.per_metric_tolerance}.items():
            if not 0 <= tol < 10:
                raise ConfigError(f"tolerance {tol!r} for {metric} must be a fraction like 0.10")
        known = {m.name for m in METRICS}
        unknown = sorted(set(self.per_metric_tolerance) - known)
        if unknown:
            raise ConfigError(f"unknown metric(s) {unknown}; known: {sorted(known)}")
        if not 0 < self.alpha < 1:
            raise ConfigError(f"alpha {self.alpha!r} must be between 0 and 1, e.g. 0.01")
        if self.min_samples < 2:
            raise ConfigError(f"min_samples {self.min_samples!r} must be at least 2")
        if self.bootstrap_resamples < 100:
            raise ConfigError(f"bootstrap_resamples {self.bootstrap_resamples!r} is below 100")

    def tolerance_for(self, metric: str) -> float:
        return self.per_metric_tolerance.get(metric, self.tolerance)

    def to_json(self) -> dict[str, Any]:
        return {
            "tolerance": self.tolerance,
            "per_metric_tolerance": dict(self.per_metric_tolerance),
            "alpha": self.alpha,
            "min_samples": self.min_samples,
            "force": self.force,
        }


# --------------------------------------------------------------------------- validation


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def case_key(case: Mapping[str, Any]) -> str:
    """How a case is matched between runs: its id, qualified by its suite when it has one."""
    suite = case.get("suite")
    return f"{suite}::{case['id']}" if suite else str(case["id"])


def _check_optional_number(source: str, where: str, value: object) -> None:
    if value is not None and not _is_number(value):
        raise ResultsError(f"{source}: {where} is {value!r}, expected a number or null")


def _validate_case(source: str, where: str, case: object) -> None:
    if not isinstance(case, dict):
        raise ResultsError(f"{source}: {where} is {type(case).__name__}, expected an object")
    case_id = case.get("id")
    if not isinstance(case_id, str) or not case_id:
        raise ResultsError(f"{source}: {where} has id {case_id!r}, expected a non-empty string")
    samples = case.get("samples") or []
    if not isinstance(samples, list):
        raise ResultsError(f"{source}: {where}.samples is not a list ({case_id!r})")
    for j, sample in enumerate(samples):
        at = f"{where}.samples[{j}]"
        if not isinstance(sample, dict):
            raise ResultsError(f"{source}: {at} is not an object ({case_id!r})")
        if not isinstance(sample.get("outcome"), str):
            raise ResultsError(f"{source}: {at}.outcome is {sample.get('outcome')!r}, expected str")
        for metric in SAMPLE_METRICS:
            _check_optional_number(source, f"{at}.{metric}", sample.get(metric))
    for spec in METRICS:
        if not spec.per_sample:
            section, key = spec.name.split(".")
            block = case.get(section)
            if block is not None and not isinstance(block, dict):
                raise ResultsError(f"{source}: {where}.{section} is not an object ({case_id!r})")
            _check_optional_number(source, f"{where}.{spec.name}", (block or {}).get(key))


def validate_payload(
    data: object, source: str, schemas: Sequence[str], *, unique: bool
) -> dict[str, Any]:
    """Check the parts of a results/baseline payload that comparison relies on.

    Raises ResultsError naming `source` (a file or a run id), where, and what is wrong.
    `unique` rejects two cases with the same key, which would make matching ambiguous.
    """
    if not isinstance(data, dict):
        raise ResultsError(f"{source}: expected a JSON object, got {type(data).__name__}")
    schema = data.get("schema")
    if schema not in schemas:
        raise ResultsError(
            f"{source}: schema is {schema!r}, expected one of {list(schemas)}; "
            "was it written by another tool or edited by hand?"
        )
    fingerprint = data.get("fingerprint")
    if fingerprint is not None and not isinstance(fingerprint, dict):
        raise ResultsError(f"{source}: fingerprint is not an object")
    cases = data.get("cases")
    if not isinstance(cases, list):
        raise ResultsError(f"{source}: cases is {type(cases).__name__}, expected a list")
    seen: dict[str, int] = {}
    for i, case in enumerate(cases):
        _validate_case(source, f"cases[{i}]", case)
        key = case_key(case)
        if unique and key in seen:
            raise ResultsError(f"{source}: cases[{i}] repeats case {key!r} of cases[{seen[key]}]")
        seen[key] = i
    return data


def read_json(path: Path) -> object:
    """Parse a JSON file; a missing or malformed file raises ResultsError with line/column."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path}: cannot be read: {exc}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None


def load_run(path: str | Path) -> dict[str, Any]:
    """Read a run's results.json (or a run folder holding one) and validate it."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    return validate_payload(read_json(path), str(path), (RESULTS_SCHEMA,), unique=False)


# ------------------------------------------------------------------------------- storage


@dataclass(frozen=True)
class Baseline:
    """A loaded baseline: the fingerprint of the machine and the cases it measured."""

    name: str
    path: Path
    run_id: str | None
    started_at: str | None
    simulated: bool
    fingerprint: dict[str, Any]
    cases: tuple[dict[str, Any], ...]

    @classmethod
    def from_payload(cls, name: str, path: Path, data: Mapping[str, Any]) -> Baseline:
        return cls(
            name=name,
            path=path,
            run_id=data.get("run_id"),
            started_at=data.get("started_at"),
            simulated=bool(data.get("simulated")),
            fingerprint=dict(data.get("fingerprint") or {}),
            cases=tuple(data["cases"]),
        )

    def by_key(self) -> dict[str, dict[str, Any]]:
        return {case_key(case): case for case in self.cases}


def _baseline_document(name: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "schema": BASELINE_SCHEMA,
        "name": name,
        "run_id": payload.get("run_id"),
        "started_at": payload.get("started_at"),
        "simulated": bool(payload.get("simulated")),
        "fingerprint": payload.get("fingerprint") or {},
        "cases": [{k: case[k] for k in KEPT_CASE_KEYS if k in case} for case in payload["cases"]],
    }


def _write_atomically(path: Path, text: str) -> None:
    # A killed process must never leave a half-written baseline that CI would then reject.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class BaselineStore:
    """The baselines folder: NAME.json files and NAME.history.jsonl logs of later runs."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path_for(self, name: str) -> Path:
        if not _NAME_RE.match(name):
            raise ConfigError(
                f"baseline name {name!r} is not usable as a file name; "
                "use letters, digits, '.', '_' and '-', e.g. 'nightly-rtx4080'"
            )
        return self.root / f"{name}.json"

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.stem for p in self.root.glob("*.json") if not p.name.startswith("."))

    def save(self, name: str, payload: Mapping[str, Any]) -> Path:
        """Write NAME.json from a results payload; sorted keys and indent=1 for clean diffs."""
        path = self.path_for(name)
        source = f"run {payload.get('run_id')!r}" if isinstance(payload, Mapping) else "payload"
        validate_payload(payload, source, (RESULTS_SCHEMA,), unique=True)
        text = json.dumps(_baseline_document(name, payload), sort_keys=True, indent=1)
        _write_atomically(path, text + "\n")
        return path

    def resolve(self, name_or_path: str | Path) -> Path:
        text = str(name_or_path)
        as_path = Path(text)
        looks_like_path = os.sep in text or "/" in text or text.endswith(".json")
        if looks_like_path or as_path.is_file():
            return as_path / "results.json" if as_path.is_dir() else as_path
        return self.path_for(text)

    def load(self, name_or_path: str | Path) -> Baseline:
        """Load NAME (from the store) or a path to a baseline or results.json file."""
        path = self.resolve(name_or_path)
        if not path.is_file():
            known = ", ".join(self.names()) or "none"
            raise ResultsError(
                f"baseline {str(name_or_path)!r} not found: {path} does not exist "
                f"(baselines in {self.root}: {known}); create one with "
                "`pytest ... --save-baseline NAME`"
            )
        data = validate_payload(
            read_json(path), str(path), (BASELINE_SCHEMA, RESULTS_SCHEMA), unique=True
        )
        name = data.get("name") if isinstance(data.get("name"), str) else path.stem
        return Baseline.from_payload(str(name), path, data)

    def history_path(self, name: str) -> Path:
        return self.path_for(name).with_suffix(".history.jsonl")

    def append_history(self, name: str, payload: Mapping[str, Any]) -> Path:
        """Append one line per run: run id, start time and every case's p50 per metric."""
        path = self.history_path(name)
        entry = {
            "run_id": payload.get("run_id"),
            "started_at": payload.get("started_at"),
            "cases": {case_key(c): case_p50s(c) for c in payload.get("cases") or []},
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        return path

    def history(self, name: str) -> list[dict[str, Any]]:
        """Every recorded run, oldest first; [] when nothing was recorded yet."""
        path = self.history_path(name)
        if not path.is_file():
            return []
        text = path.read_text(encoding="utf-8")
        lines = text.split("\n")
        # A run killed mid-append leaves a final line without its newline: drop it rather
        # than make every later read fail.
        complete = lines[:-1]
        entries: list[dict[str, Any]] = []
        for number, line in enumerate(complete, start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ResultsError(
                    f"{path}:{number}:{exc.colno}: not valid JSON: {exc.msg}"
                ) from None
            if not isinstance(entry, dict):
                raise ResultsError(f"{path}:{number}: expected an object per line")
            entries.append(entry)
        return entries


# ---------------------------------------------------------------------------- comparison


def ok_values(case: Mapping[str, Any], spec: MetricSpec) -> list[float]:
    """The values a metric has in a case: ok samples only, or the single case-level value."""
    if spec.per_sample:
        raw = [s.get(spec.name) for s in case.get("samples") or [] if s.get("outcome") == "ok"]
    else:
        section, key = spec.name.split(".")
        raw = [(case.get(section) or {}).get(key)]
    # Validation let null through (a repeat that measured nothing); NaN is skipped likewise.
    return [float(v) for v in raw if _is_number(v) and math.isfinite(v)]


def case_p50s(case: Mapping[str, Any]) -> dict[str, float]:
    return {
        spec.name: statistics.median(values)
        for spec in METRICS
        if (values := ok_values(case, spec))
    }


def _ok_count(case: Mapping[str, Any]) -> int:
    return sum(1 for s in case.get("samples") or [] if s.get("outcome") == "ok")


def _outcome_summary(case: Mapping[str, Any]) -> str:
    counts: dict[str, int] = {}
    for sample in case.get("samples") or []:
        counts[str(sample.get("outcome"))] = counts.get(str(sample.get("outcome")), 0) + 1
    return ", ".join(f"{k} x{n}" for k, n in sorted(counts.items())) or "no samples"


def format_value(value: float, unit: str, *, with_unit: bool = True) -> str:
    if unit == "bytes":
        number = f"{value / 2**30:.2f}"
        return f"{number} GiB" if with_unit else number
    if abs(value) >= 100:
        text = f"{value:.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}" if unit and with_unit else text


def format_p(p: float) -> str:
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"


@dataclass(frozen=True)
class MetricComparison:
    """One metric of one case; `change` is the fractional step in the worse direction."""

    metric: str
    direction: Direction
    unit: str
    baseline_p50: float | None
    current_p50: float | None
    ratio: float | None  # current_p50 / baseline_p50
    change: float | None  # > 0 worse, < 0 better; see the module docstring
    tolerance: float
    p_value: float | None
    test: Literal["mann-whitney", "bootstrap", "tolerance", "none"]
    ci: tuple[float, float] | None  # bootstrap interval of the ratio, when used
    n_baseline: int
    n_current: int
    verdict: MetricVerdict
    note: str | None = None

    def message(self) -> str | None:
        """The sentence a human reads in CI; None when there is nothing to say."""
        if self.verdict not in ("regressed", "improved", "changed") or self.change is None:
            return None
        assert self.baseline_p50 is not None
        assert self.current_p50 is not None
        values = (
            f"{format_value(self.baseline_p50, self.unit, with_unit=False)} -> "
            f"{format_value(self.current_p50, self.unit)}"
        )
        counts = f"{self.n_baseline} vs {self.n_current} samples"
        if self.test == "tolerance":
            single = self.n_baseline == self.n_current == 1
            evidence = "single value, not testable" if single else f"not testable, {counts}"
        else:
            assert self.p_value is not None
            prefix = "bootstrap " if self.test == "bootstrap" else ""
            evidence = f"{prefix}{format_p(self.p_value)}, {counts}"
        if self.verdict == "changed":
            way = "worse" if self.change > 0 else "better"
            return f"{self.metric} {abs(self.change) * 100:.1f}% {way} ({values}, {evidence})"
        return f"{self.metric} {self.verdict} {abs(self.change) * 100:.1f}% ({values}, {evidence})"

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "direction": self.direction,
            "unit": self.unit,
            "baseline_p50": self.baseline_p50,
            "current_p50": self.current_p50,
            "ratio": self.ratio,
            "change": self.change,
            "tolerance": self.tolerance,
            "p_value": self.p_value,
            "test": self.test,
            "ci": list(self.ci) if self.ci else None,
            "n_baseline": self.n_baseline,
            "n_current": self.n_current,
            "verdict": self.verdict,
            "note": self.note,
        }


def _skipped(
    spec: MetricSpec, tol: float, base: list[float], cur: list[float], note: str
) -> MetricComparison:
    return MetricComparison(
        metric=spec.name,
        direction=spec.direction,
        unit=spec.unit,
        baseline_p50=statistics.median(base) if base else None,
        current_p50=statistics.median(cur) if cur else None,
        ratio=None,
        change=None,
        tolerance=tol,
        p_value=None,
        test="none",
        ci=None,
        n_baseline=len(base),
        n_current=len(cur),
        verdict="skipped",
        note=note,
    )


def compare_metric(
    spec: MetricSpec, base: list[float], cur: list[float], cfg: CompareConfig
) -> MetricComparison:
    """Apply the tolerance-and-significance rule of the module docstring to one metric."""
    tol = cfg.tolerance_for(spec.name)
    if not base or not cur:
        where = "the baseline" if not base else "this run"
        return _skipped(spec, tol, base, cur, f"no ok value in {where}")
    base_p50, cur_p50 = statistics.median(base), statistics.median(cur)
    if base_p50 <= 0:
        return _skipped(spec, tol, base, cur, "baseline p50 is not positive: no relative change")
    ratio = cur_p50 / base_p50
    change = ratio - 1 if spec.direction == "lower" else 1 - ratio
    worse_alt: Literal["greater", "less"] = "greater" if spec.direction == "lower" else "less"
    better_alt: Literal["greater", "less"] = "less" if worse_alt == "greater" else "greater"
    p_value: float | None = None
    ci: tuple[float, float] | None = None
    note: str | None = None
    test: Literal["mann-whitney", "bootstrap", "tolerance"]
    if not spec.per_sample:
        test, significant = "tolerance", False
        note = "single value per run (no repeats): reported as changed, never a regression"
    elif max(len(base), len(cur)) < 2 or min(base) <= 0:
        # One sample a side has no spread to test against; a zero baseline sample would
        # give resampled medians of zero and no ratio.
        test, significant = "tolerance", False
        note = "too few or zero-valued samples for a test: reported as changed only"
    elif min(len(base), len(cur)) >= cfg.min_samples:
        test = "mann-whitney"
        alt = worse_alt if change > 0 else better_alt
        p_value = mann_whitney_u(cur, base, alternative=alt).p_value
        significant = p_value < cfg.alpha
    else:
        test = "bootstrap"
        interval = bootstrap_ratio_of_medians(
            base, cur, confidence=1 - cfg.alpha, resamples=cfg.bootstrap_resamples, seed=cfg.seed
        )
        p_value, ci = interval.p_value, (interval.low, interval.high)
        # The percentile bootstrap is over-confident on 2-4 samples (measured on the
        # synthetic payloads: "excludes 1 and median beyond tolerance" flagged 0.45% of
        # unchanged metrics at 3 vs 3, ~10% of nightly runs of 6 cases), so the whole
        # interval, expressed as a change, must lie beyond the tolerance (0 flags there).
        low, high = (ci[0] - 1, ci[1] - 1) if spec.direction == "lower" else (1 - ci[1], 1 - ci[0])
        significant = low > tol or high < -tol
        note = (
            f"fewer than {cfg.min_samples} samples on a side: bootstrap {1 - cfg.alpha:.0%} "
            "interval of the ratio of medians, which must lie beyond the tolerance"
        )
    verdict: MetricVerdict = "unchanged"
    if abs(change) > tol:
        if significant:
            verdict = "regressed" if change > 0 else "improved"
        elif test == "tolerance":
            verdict = "changed"
    return MetricComparison(
        metric=spec.name,
        direction=spec.direction,
        unit=spec.unit,
        baseline_p50=base_p50,
        current_p50=cur_p50,
        ratio=ratio,
        change=change,
        tolerance=tol,
        p_value=p_value,
        test=test,
        ci=ci,
        n_baseline=len(base),
        n_current=len(cur),
        verdict=verdict,
        note=note,
    )


@dataclass(frozen=True)
class CaseComparison:
    """The verdict of one case against its baseline, with per-metric evidence."""

    key: str
    case_id: str
    suite: str | None
    verdict: Verdict
    metrics: tuple[MetricComparison, ...] = ()
    messages: tuple[str, ...] = ()
    fingerprint_mismatch: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.case_id,
            "suite": self.suite,
            "verdict": self.verdict,
            "metrics": [m.to_json() for m in self.metrics],
            "messages": list(self.messages),
            "fingerprint_mismatch": list(self.fingerprint_mismatch),
        }


def _case_verdict(metrics: Iterable[MetricComparison]) -> Verdict:
    verdicts = {m.verdict for m in metrics}
    if "regressed" in verdicts:
        return "regressed"
    return "improved" if "improved" in verdicts else "unchanged"


def _plain(
    case: Mapping[str, Any], verdict: Verdict, message: str, mismatch: Sequence[str] = ()
) -> CaseComparison:
    """A verdict decided before any metric is looked at, with the one reason for it."""
    return CaseComparison(
        key=case_key(case),
        case_id=str(case["id"]),
        suite=case.get("suite"),
        verdict=verdict,
        messages=(message,),
        fingerprint_mismatch=tuple(mismatch),
    )


def compare_case(
    baseline_case: Mapping[str, Any] | None,
    case: Mapping[str, Any],
    cfg: CompareConfig,
    *,
    mismatch: Sequence[str] = (),
) -> CaseComparison:
    """Compare one case of a run with its baseline case (None when the baseline lacks it)."""
    if baseline_case is None:
        return _plain(case, "new", "new case: not in the baseline")
    if mismatch and not cfg.force:
        text = "measured on a different setup: " + "; ".join(mismatch) + " (--force compares)"
        return _plain(case, "incomparable", text, mismatch)
    if _ok_count(baseline_case) == 0:
        text = f"baseline case has no ok samples ({_outcome_summary(baseline_case)})"
        return _plain(case, "incomparable", text, mismatch)
    if not case.get("samples"):
        text = f"no samples in this run (outcome {case.get('outcome')!r})"
        return _plain(case, "incomparable", text, mismatch)
    if _ok_count(case) == 0:
        # It worked in the baseline and fails on every repeat now: the worst regression.
        text = (
            f"no ok samples in this run ({_outcome_summary(case)}); "
            f"the baseline had {_ok_count(baseline_case)}"
        )
        return _plain(case, "regressed", text, mismatch)
    metrics = tuple(
        compare_metric(spec, ok_values(baseline_case, spec), ok_values(case, spec), cfg)
        for spec in METRICS
        if ok_values(baseline_case, spec) or ok_values(case, spec)
    )
    return CaseComparison(
        key=case_key(case),
        case_id=str(case["id"]),
        suite=case.get("suite"),
        verdict=_case_verdict(metrics),
        metrics=metrics,
        messages=tuple(m for metric in metrics if (m := metric.message())),
        fingerprint_mismatch=tuple(mismatch),
    )


def _missing(case: Mapping[str, Any]) -> CaseComparison:
    return _plain(case, "missing", "in the baseline but not in this run")


# --------------------------------------------------------------------------- fingerprint


def _gpu_names(fingerprint: Mapping[str, Any]) -> list[str]:
    return sorted(str(g.get("name")) for g in fingerprint.get("gpus") or [] if isinstance(g, dict))


def _differs(label: str, base: object, run: object) -> Iterator[str]:
    if base != run:
        yield f"{label}: baseline {base!r}, this run {run!r}"


def fingerprint_mismatch(base: Mapping[str, Any], run: Mapping[str, Any]) -> list[str]:
    """What makes two runs' numbers incomparable, as human-readable differences.

    GPUs, engine kind, simulated or not, sim profile and speed, a model's digest, and for
    real CPU-only runs the CPU. Host name, server version, driver and git sha do not count:
    the whole point is to catch what an upgrade of the server or harness did.
    """
    out = [
        *_differs("GPUs", _gpu_names(base), _gpu_names(run)),
        *_differs("engine", base.get("engine"), run.get("engine")),
    ]
    base_sim, run_sim = base.get("sim") or None, run.get("sim") or None
    if (base_sim is None) != (run_sim is None):
        out += _differs("simulated", base_sim is not None, run_sim is not None)
    elif isinstance(base_sim, dict) and isinstance(run_sim, dict):
        out += _differs("sim profile", base_sim.get("profile"), run_sim.get("profile"))
        out += _differs("sim speed", base_sim.get("speed"), run_sim.get("speed"))
    elif base_sim is None and not _gpu_names(base) and not _gpu_names(run):
        # A CPU-only box: the CPU is what the GPU is elsewhere.
        out += _differs("CPU", base.get("cpu"), run.get("cpu"))
    base_models, run_models = base.get("models") or {}, run.get("models") or {}
    for model in sorted(set(base_models) & set(run_models)):
        b_digest = (base_models[model] or {}).get("digest")
        r_digest = (run_models[model] or {}).get("digest")
        if b_digest and r_digest:
            out += _differs(f"{model} digest", b_digest, r_digest)
    return out


# ---------------------------------------------------------------------------------- runs


@dataclass(frozen=True)
class RunComparison:
    """Every case of a run against a baseline, plus baseline cases the run did not have."""

    baseline_name: str
    baseline_path: str
    baseline_run_id: str | None
    run_id: str | None
    config: CompareConfig
    fingerprint_mismatch: tuple[str, ...]
    cases: tuple[CaseComparison, ...]

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(VERDICTS, 0)
        for case in self.cases:
            counts[case.verdict] += 1
        return counts

    @property
    def regressed(self) -> bool:
        return any(case.verdict == "regressed" for case in self.cases)

    @property
    def warnings(self) -> list[str]:
        if not self.fingerprint_mismatch:
            return []
        what = "; ".join(self.fingerprint_mismatch)
        if self.config.force:
            return [f"compared despite a different setup (--force): {what}"]
        return [f"baseline is from a different setup, cases are incomparable: {what}"]

    def by_key(self) -> dict[str, CaseComparison]:
        return {case.key: case for case in self.cases}

    def to_json(self) -> dict[str, Any]:
        """The run-level summary that goes into results.json's top-level "baseline"."""
        return {
            "name": self.baseline_name,
            "path": self.baseline_path,
            "baseline_run_id": self.baseline_run_id,
            "run_id": self.run_id,
            "verdicts": self.counts,
            "regressed": self.regressed,
            "fingerprint_mismatch": list(self.fingerprint_mismatch),
            "forced": self.config.force and bool(self.fingerprint_mismatch),
            "warnings": self.warnings,
            "config": self.config.to_json(),
            "missing": [c.to_json() for c in self.cases if c.verdict == "missing"],
            "messages": [
                f"{c.key}: {m}"
                for c in self.cases
                for m in c.messages
                if c.verdict in ("regressed", "improved")
            ],
        }

    def table(self) -> str:
        """The verdict table printed by `harness compare` and the plugin's terminal summary."""
        return render_table(self)


def compare_runs(
    baseline: Baseline, payload: Mapping[str, Any], cfg: CompareConfig
) -> RunComparison:
    """Compare every case of a results payload with `baseline`; missing cases come last."""
    mismatch = fingerprint_mismatch(baseline.fingerprint, payload.get("fingerprint") or {})
    base_cases = baseline.by_key()
    run_keys: set[str] = set()
    compared: list[CaseComparison] = []
    for case in payload.get("cases") or []:
        run_keys.add(case_key(case))
        compared.append(compare_case(base_cases.get(case_key(case)), case, cfg, mismatch=mismatch))
    compared += [_missing(c) for k, c in sorted(base_cases.items()) if k not in run_keys]
    return RunComparison(
        baseline_name=baseline.name,
        baseline_path=str(baseline.path),
        baseline_run_id=baseline.run_id,
        run_id=payload.get("run_id"),
        config=cfg,
        fingerprint_mismatch=tuple(mismatch),
        cases=tuple(compared),
    )


# --------------------------------------------------------------------------------- table


def _metric_cells(metric: MetricComparison) -> list[str]:
    def value(v: float | None) -> str:
        return "-" if v is None else format_value(v, metric.unit)

    # The table shows the plain signed change of the value (a drop in tok/s is negative);
    # the RESULT column says whether that is good or bad.
    delta = "-" if metric.ratio is None else f"{(metric.ratio - 1) * 100:+.1f}%"
    p = (
        "-"
        if metric.p_value is None
        else format_p(metric.p_value).removeprefix("p").removeprefix("=")
    )
    return [
        metric.metric,
        value(metric.baseline_p50),
        value(metric.current_p50),
        delta,
        p,
        metric.test,
        metric.verdict,
    ]


def render_table(report: RunComparison) -> str:
    """A fixed-width table: one row per compared metric, then messages and a summary."""
    header = ["CASE", "VERDICT", "METRIC", "BASELINE", "CURRENT", "DELTA", "P", "TEST", "RESULT"]
    rows: list[list[str]] = []
    for case in report.cases:
        lead = [case.key, case.verdict]
        if not case.metrics:
            rows.append([*lead, *["-"] * 7])
        for i, metric in enumerate(case.metrics):
            rows.append([*(lead if i == 0 else ["", ""]), *_metric_cells(metric)])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        f"baseline {report.baseline_name} (run {report.baseline_run_id}, {report.baseline_path})"
        f" vs run {report.run_id}",
        f"rule: change > tolerance ({report.config.tolerance:.0%} unless set per metric) and "
        f"p < {report.config.alpha:g} (Mann-Whitney with >= {report.config.min_samples} "
        "samples a side, else bootstrap)",
        "",
        *(
            "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in [header, *rows]
        ),
    ]
    notes = [
        f"  {c.key}: {m}" for c in report.cases if c.verdict != "unchanged" for m in c.messages
    ]
    lines += ["", *notes] if notes else []
    lines += [f"warning: {w}" for w in report.warnings]
    summary = ", ".join(f"{n} {verdict}" for verdict, n in report.counts.items())
    lines += ["", f"summary: {summary}"]
    return "\n".join(lines) + "\n"
