"""The per-case rows of the report: the matrix, failures and skips, stability.

Every cell is formatted here, once, so the template is a plain loop. The case keys read are
listed in `harness.report.model`'s docstring.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.report import fmt
from harness.report.payload import mapping, number, records, text

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
class Stability:
    components: tuple[str, ...]
    rows: list[tuple[str, str, tuple[str, ...]]]  # id, score, component values
    formulas: tuple[str, ...]


def row_class(verdict: str) -> str:
    lowered = verdict.lower()
    if lowered in GOOD:
        return "ok"
    return "skip" if lowered in NEUTRAL else "bad"


def _check_text(check: Mapping[str, Any]) -> str:
    mark = "ok" if check.get("passed") is True else "FAILED"
    return (
        f"{text(check.get('metric'))} {text(check.get('stat'))} "
        f"{fmt.general(number(check.get('measured')))} {text(check.get('op'))} "
        f"{fmt.general(number(check.get('required')))}: {mark}"
    ).replace("  ", " ")


def _threshold_text(metric: str, bounds: Any) -> str:
    return f"{metric} " + ", ".join(
        f"{text(k)} {fmt.general(number(v)) or text(v)}" for k, v in mapping(bounds).items()
    )


def _tips(case: Mapping[str, Any]) -> tuple[dict[str, str], set[str]]:
    """Hover text per metric (from checks, else thresholds) and the metrics that failed."""
    tips: dict[str, list[str]] = {}
    failed: set[str] = set()
    for check in records(case.get("checks")):
        metric = text(check.get("metric"))
        tips.setdefault(metric, []).append(_check_text(check))
        if check.get("passed") is False:
            failed.add(metric)
    for metric, bounds in mapping(case.get("thresholds")).items():
        if metric not in tips:
            tips[metric] = ["threshold: " + _threshold_text(metric, bounds)]
    return {m: "; ".join(t) for m, t in tips.items()}, failed


def baseline_cell(value: Any) -> tuple[str, str, str]:
    """(text, hover, class) for a case's comparison with the baseline.

    Reads `harness.baseline.CaseComparison.to_json()`: `verdict`, `messages` (the evidence,
    shown on hover) and `metrics` [{metric, change, verdict, ...}] where a positive
    `change` is always a step back; the cell names the metric that moved most.
    """
    if not isinstance(value, Mapping):
        return ("", "", "") if value is None else (text(value), "", row_class(text(value)))
    verdict = text(value.get("verdict"))
    moved = [
        (rel, text(m.get("metric")))
        for m in value.get("metrics") or ()
        if isinstance(m, Mapping)
        and m.get("verdict") in ("regressed", "improved")
        and (rel := number(m.get("change"))) is not None
    ]
    shown = verdict
    if moved:
        rel, metric = max(moved, key=lambda item: abs(item[0]))
        shown += f" ({metric} {'worse' if rel > 0 else 'better'} by {abs(rel) * 100:.1f}%)"
    hover = "; ".join(text(m) for m in value.get("messages") or ())
    return shown, hover, row_class(verdict)


def _ttft_tip(tip: str, metrics: Mapping[str, Any]) -> str:
    """The threshold's tip, and what the server's own counters leave out of TTFT."""
    gap = number(mapping(metrics.get("ttft_gap_s")).get("p50"))
    if gap is None:
        return tip
    said = f"client TTFT minus the server's load + prompt evaluation: {fmt.seconds(gap)} (p50)"
    return f"{tip}; {said}" if tip else said


def matrix_row(case: Mapping[str, Any]) -> Row:
    # Called once per case (10,000 in a big run): one lookup per key, no `dig` loops.
    get = case.get
    metrics = mapping(get("metrics"))
    tips, failed = _tips(case)
    ttft_s = mapping(metrics.get("ttft_s"))
    ttft50, ttft90 = number(ttft_s.get("p50")), number(ttft_s.get("p90"))
    ttft = fmt.seconds(ttft50) + (f" ({fmt.seconds(ttft90)})" if ttft90 is not None else "")
    stab = mapping(get("stability"))
    components = ", ".join(
        f"{k} {fmt.score(number(v))}" for k, v in mapping(stab.get("components")).items()
    )
    verdict = text(get("verdict")) or text(get("outcome"))
    base_text, base_tip, base_cls = baseline_cell(get("baseline"))
    stability_tip = tips.get("stability", "")
    return Row(
        id=text(get("id")),
        model=text(get("model")),
        ctx=fmt.case_ctx(case),
        ttft=ttft.strip(),
        ttft_tip=_ttft_tip(tips.get("ttft_s", ""), metrics),
        prompt=fmt.rate(number(mapping(metrics.get("prompt_tok_s")).get("p50"))),
        prompt_tip=tips.get("prompt_tok_s", ""),
        decode=fmt.rate(number(mapping(metrics.get("decode_tok_s")).get("p50"))),
        decode_tip=tips.get("decode_tok_s", ""),
        memory=fmt.size(number(mapping(get("memory")).get("delta_bytes")), signed=True),
        stability=fmt.score(number(stab.get("score"))),
        stability_tip=f"{components}; {stability_tip}"
        if components and stability_tip
        else components or stability_tip,
        verdict=verdict,
        verdict_tip="; ".join(tips.values()) or text(get("reason")),
        baseline=base_text,
        baseline_tip=base_tip,
        baseline_cls=base_cls,
        cls=row_class(verdict),
        bad=frozenset(failed),
    )


def problem(case: Mapping[str, Any]) -> Problem | None:
    verdict = text(case.get("verdict"))
    outcome = text(case.get("outcome"))
    if row_class(verdict or outcome) == "ok" and outcome in ("", "passed"):
        return None
    errors = dict.fromkeys(
        text(s.get("error")) for s in records(case.get("samples")) if s.get("error")
    )
    return Problem(
        id=text(case.get("id")),
        verdict=verdict,
        outcome=outcome,
        reason=text(case.get("reason")),
        errors=tuple(list(errors)[:3]),
        cls=row_class(verdict or outcome),
    )


def stability(cases: Sequence[Mapping[str, Any]]) -> Stability | None:
    names: dict[str, None] = {}
    formulas: dict[str, None] = {}
    scored: list[tuple[str, str, Mapping[str, Any]]] = []
    for case in cases:
        stab = mapping(case.get("stability"))
        score = number(stab.get("score"))
        if score is None and not stab.get("components"):
            continue
        components = mapping(stab.get("components"))
        scored.append((text(case.get("id")), fmt.score(score), components))
        names.update(dict.fromkeys(components))
        if stab.get("formula"):
            formulas[text(stab.get("formula"))] = None
    if not scored:
        return None
    rows = [
        (case_id, score, tuple(fmt.score(number(components.get(n))) for n in names))
        for case_id, score, components in scored
    ]
    return Stability(tuple(names), rows, tuple(formulas))
