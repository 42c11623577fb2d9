"""The capacity answer in words: the terminal line and the lines of a text table.

Reads the serialized `capacity` object (results.json), never live objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

NOTE_PREFIX = "capacity: "


def recommended_setting(capacity: Mapping[str, Any], model: str) -> str | None:
    """One line for `model`: the best setting at the largest context that has one."""
    entries = [e for e in (capacity.get("entries") or []) if e.get("model") == model]
    with_best = [e for e in entries if e.get("best")]
    if not with_best:
        return f"{NOTE_PREFIX}{entries[-1]['recommendation']}" if entries else None
    chosen = max(with_best, key=lambda e: int(e["context"]))
    return f"{NOTE_PREFIX}{chosen['recommendation']}"


def summary_notes(capacity: Mapping[str, Any]) -> list[str]:
    """The terminal summary's lines: one recommended setting per model."""
    models = dict.fromkeys(e["model"] for e in capacity.get("entries") or [])
    lines = [recommended_setting(capacity, m) for m in models]
    return [line for line in lines if line]


def table_lines(capacity: Mapping[str, Any]) -> list[str]:
    """A plain-text capacity table (model, context, fit, best, hours) for logs and READMEs."""
    rows = [
        ("model", "context", "max P fit", "best P x clients", "goodput req/s", "h best", "h P=1")
    ]
    for e in capacity.get("entries") or []:
        best = e.get("best") or {}
        load = best.get("concurrency", best.get("rate", "-"))
        rows.append(
            (
                str(e["model"]),
                f"{e['context']:,}",
                "-" if e.get("max_parallel_fit") is None else str(e["max_parallel_fit"]),
                f"{best.get('slots', '-')} x {load}" if best else "-",
                f"{best['goodput_req_s']:.2f}" if best else "-",
                _hours(e.get("job_hours_best")),
                _hours(e.get("job_hours_p1")),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def _hours(value: Any) -> str:
    return "-" if value is None else f"{value:.1f}"
