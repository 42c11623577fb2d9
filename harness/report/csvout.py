"""`matrix.csv`: one row per case, raw numbers in base units, for pandas or a spreadsheet."""

from __future__ import annotations

import csv
import io

from harness.matrix.registry import SectionTable
from harness.results.schema import Case, CaseBaseline, JsonObject, RunResults, as_run

COLUMNS: tuple[str, ...] = (
    "id",
    "model",
    "num_ctx",
    "verdict",
    "outcome",
    "ttft_s_p50",
    "ttft_s_p90",
    "prompt_tok_s_p50",
    "decode_tok_s_p50",
    "memory_delta_bytes",
    "stability",
    "baseline_verdict",
    "server",
    "simulated",
    "reason",
)


def _num(n: float | None) -> str:
    if n is None:
        return ""
    return str(int(n)) if n.is_integer() and abs(n) < 2**53 else repr(n)


def _baseline_verdict(value: CaseBaseline | str | None) -> str:
    if isinstance(value, CaseBaseline):
        return value.verdict or value.status
    return value or ""


def row(case: Case, simulated: str) -> list[str]:
    ttft = case.metrics.get("ttft_s")
    return [
        case.id,
        case.model,
        _num(case.num_ctx),
        case.verdict,
        case.outcome,
        _num(ttft.p50 if ttft else None),
        _num(ttft.p90 if ttft else None),
        _num(case.p50("prompt_tok_s")),
        _num(case.p50("decode_tok_s")),
        _num(case.memory.delta_bytes if case.memory else None),
        _num(case.stability.score if case.stability else None),
        _baseline_verdict(case.baseline),
        case.server,
        simulated,
        case.reason,
    ]


def render(payload: RunResults | JsonObject) -> str:
    run = as_run(payload)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    from harness.plan.render import CSV_COLUMNS, csv_rows

    # One row per case, then one per throughput size, projection, limit, capacity entry,
    # job plan and use-case recommendation, told apart by `section` (empty on case rows).
    header = (*COLUMNS, *CSV_COLUMNS)
    writer.writerow(header)
    simulated = "true" if run.simulated else "false"
    pad = [""] * len(CSV_COLUMNS)
    writer.writerows(row(case, simulated) + pad for case in run.cases)
    writer.writerows([extra.get(c, "") for c in header] for extra in csv_rows(run))
    return out.getvalue()


def render_table(found: SectionTable) -> str:
    """A section a suite declared with a table renderer, as its own CSV (matrix/registry.py)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(found.columns)
    writer.writerows(found.rows)
    return out.getvalue()
