"""The capacity answer in words: the terminal line and the lines of a text table.

Reads the typed `capacity` entries (`harness.results.schema.CapacityEntry`, from
results.json or from the suite's entry dicts), never live objects.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.results.schema import CapacityEntry

NOTE_PREFIX = "capacity: "


def recommended_setting(entries: Sequence[CapacityEntry], model: str) -> str | None:
    """One line for `model`: the best setting at the largest context that has one."""
    mine = [e for e in entries if e.model == model]
    with_best = [e for e in mine if e.best is not None]
    if not with_best:
        return f"{NOTE_PREFIX}{mine[-1].recommendation}" if mine else None
    chosen = max(with_best, key=lambda e: int(e.context or 0))
    return f"{NOTE_PREFIX}{chosen.recommendation}"


def summary_notes(entries: Sequence[CapacityEntry]) -> list[str]:
    """The terminal summary's lines: one recommended setting per model."""
    models = dict.fromkeys(e.model for e in entries)
    lines = [recommended_setting(entries, m) for m in models]
    return [line for line in lines if line]


def table_lines(entries: Sequence[CapacityEntry]) -> list[str]:
    """A plain-text capacity table (model, context, fit, best, hours) for logs and READMEs."""
    rows = [
        ("model", "context", "max P fit", "best P x clients", "goodput req/s", "h best", "h P=1")
    ]
    for e in entries:
        best = e.best
        rows.append(
            (
                e.model,
                "-" if e.context is None else f"{int(e.context):,}",
                e.max_parallel_fit or "-",  # '' when the fit was unknown (null)
                "-" if best is None else f"{best.slots or '-'} x {best.clients or '-'}",
                "-" if best is None or best.goodput_req_s is None else f"{best.goodput_req_s:.2f}",
                _hours(e.job_hours_best),
                _hours(e.job_hours_p1),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def _hours(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
