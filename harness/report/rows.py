"""The per-case rows of the report: the matrix, failures and skips, stability.

Every cell is formatted here, once, so the template is a plain loop. The fields read are
those of `harness.results.schema.Case`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from harness.report import fmt
from harness.results.schema import Bound, Case, CaseBaseline, Check, Summary

GOOD = frozenset({"pass", "passed", "ok", "improved", "better", "unchanged", "same"})
NEUTRAL = frozenset({"skipped", "skip", "new", "no_baseline", "noisy", ""})


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the performance matrix, every cell already formatted."""

    id: str
    model: str
    ctx: str
    ttft: str
    ttft_tip: str
    prompt: str
    prompt_tip: str
    decode: str
    decode_tip: str
    memory: str
    stability: str
    stability_tip: str
    verdict: str
    verdict_tip: str
    baseline: str
    baseline_tip: str
    baseline_cls: str
    cls: str  # ok | bad | skip: the row colour
    bad: frozenset[str]  # metrics whose check failed: those cells turn red


@dataclass(frozen=True, slots=True)
class Problem:
    id: str
    verdict: str
    outcome: str
    reason: str
    errors: tuple[str, ...]
    cls: str


@dataclass(frozen=True)
class StabilityTable:
    components: tuple[str, ...]
    rows: list[tuple[str, str, tuple[str, ...]]]  # id, score, component values
    formulas: tuple[str, ...]


def row_class(verdict: str) -> str:
    lowered = verdict.lower()
    if lowered in GOOD:
        return "ok"
    return "skip" if lowered in NEUTRAL else "bad"


def _check_text(check: Check) -> str:
    mark = "ok" if check.passed is True else "FAILED"
    return (
        f"{check.metric} {check.stat} {fmt.general(check.measured)} {check.op} "
        f"{fmt.general(check.required)}: {mark}"
    ).replace("  ", " ")


def _threshold_text(metric: str, bounds: Mapping[str, Bound]) -> str:
    return f"{metric} " + ", ".join(
        f"{k} {fmt.general(v) if isinstance(v, float) else v}" for k, v in bounds.items()
    )


def _tips(case: Case) -> tuple[dict[str, str], set[str]]:
    """Hover text per metric (from checks, else thresholds) and the metrics that failed."""
    tips: dict[str, list[str]] = {}
    failed: set[str] = set()
    for check in case.checks:
        tips.setdefault(check.metric, []).append(_check_text(check))
        if check.passed is False:
            failed.add(check.metric)
    for metric, bounds in case.thresholds.items():
        if metric not in tips:
            tips[metric] = ["threshold: " + _threshold_text(metric, bounds)]
    return {m: "; ".join(t) for m, t in tips.items()}, failed


def baseline_cell(value: CaseBaseline | str | None) -> tuple[str, str, str]:
    """(text, hover, class) for a case's comparison with the baseline.

    Reads `harness.baseline.CaseComparison.to_json()`: `verdict`, `messages` (the evidence,
    shown on hover) and `metrics` [{metric, change, verdict, ...}] where a positive
    `change` is always a step back; the cell names the metric that moved most.
    """
    if not isinstance(value, CaseBaseline):
        return ("", "", "") if value is None else (value, "", row_class(value))
    moved = [
        (m.change, m.metric)
        for m in value.metrics
        if m.verdict in ("regressed", "improved") and m.change is not None
    ]
    shown = value.verdict
    if moved:
        rel, metric = max(moved, key=lambda item: abs(item[0]))
        shown += f" ({metric} {'worse' if rel > 0 else 'better'} by {abs(rel) * 100:.1f}%)"
    return shown, "; ".join(value.messages), row_class(value.verdict)


def _ttft_tip(tip: str, metrics: Mapping[str, Summary]) -> str:
    """The threshold's tip, and what the server's own counters leave out of TTFT."""
    gap = metrics.get("ttft_gap_s")
    if gap is None or gap.p50 is None:
        return tip
    said = f"client TTFT minus the server's load + prompt evaluation: {fmt.seconds(gap.p50)} (p50)"
    return f"{tip}; {said}" if tip else said


_NO_SUMMARY = Summary(None, None)


def matrix_row(case: Case) -> Row:
    metrics = case.metrics
    tips, failed = _tips(case)
    ttft_s = metrics.get("ttft_s", _NO_SUMMARY)
    ttft50, ttft90 = ttft_s.p50, ttft_s.p90
    ttft = fmt.seconds(ttft50) + (f" ({fmt.seconds(ttft90)})" if ttft90 is not None else "")
    stab = case.stability
    components = ", ".join(
        f"{k} {fmt.score(v)}" for k, v in (stab.components if stab else {}).items()
    )
    verdict = case.verdict or case.outcome
    base_text, base_tip, base_cls = baseline_cell(case.baseline)
    stability_tip = tips.get("stability", "")
    return Row(
        id=case.id,
        model=case.model,
        ctx=fmt.case_ctx(case),
        ttft=ttft.strip(),
        ttft_tip=_ttft_tip(tips.get("ttft_s", ""), metrics),
        prompt=fmt.rate(case.p50("prompt_tok_s")),
        prompt_tip=tips.get("prompt_tok_s", ""),
        decode=fmt.rate(case.p50("decode_tok_s")),
        decode_tip=tips.get("decode_tok_s", ""),
        memory=fmt.size(case.memory.delta_bytes if case.memory else None, signed=True),
        stability=fmt.score(stab.score if stab else None),
        stability_tip=f"{components}; {stability_tip}"
        if components and stability_tip
        else components or stability_tip,
        verdict=verdict,
        verdict_tip="; ".join(tips.values()) or case.reason,
        baseline=base_text,
        baseline_tip=base_tip,
        baseline_cls=base_cls,
        cls=row_class(verdict),
        bad=frozenset(failed),
    )


def problem(case: Case) -> Problem | None:
    verdict, outcome = case.verdict, case.outcome
    if row_class(verdict or outcome) == "ok" and outcome in ("", "passed"):
        return None
    errors = dict.fromkeys(s.error for s in case.samples if s.error)
    return Problem(
        id=case.id,
        verdict=verdict,
        outcome=outcome,
        reason=case.reason,
        errors=tuple(list(errors)[:3]),
        cls=row_class(verdict or outcome),
    )


def stability(cases: Sequence[Case]) -> StabilityTable | None:
    names: dict[str, None] = {}
    formulas: dict[str, None] = {}
    scored: list[tuple[str, str, Mapping[str, float | None]]] = []
    for case in cases:
        stab = case.stability
        if stab is None or (stab.score is None and not stab.components):
            continue
        scored.append((case.id, fmt.score(stab.score), stab.components))
        names.update(dict.fromkeys(stab.components))
        if stab.formula:
            formulas[stab.formula] = None
    if not scored:
        return None
    rows = [
        (case_id, score, tuple(fmt.score(components.get(n)) for n in names))
        for case_id, score, components in scored
    ]
    return StabilityTable(tuple(names), rows, tuple(formulas))
