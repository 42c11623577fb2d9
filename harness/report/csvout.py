"""`matrix.csv`: one row per case, raw numbers in base units, for pandas or a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from harness.report.payload import dig, mapping, number, records, text

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


def _num(value: Any) -> str:
    n = number(value)
    if n is None:
        return ""
    return str(int(n)) if n.is_integer() and abs(n) < 2**53 else repr(n)


def _baseline_verdict(value: Any) -> str:
    if isinstance(value, Mapping):
        return text(value.get("verdict") or value.get("status"))
    return text(value)


def row(case: Mapping[str, Any], simulated: str) -> list[str]:
    metrics = mapping(case.get("metrics"))
    return [
        text(case.get("id")),
        text(case.get("model")),
        _num(case.get("num_ctx")),
        text(case.get("verdict")),
        text(case.get("outcome")),
        _num(dig(metrics, "ttft_s", "p50")),
        _num(dig(metrics, "ttft_s", "p90")),
        _num(dig(metrics, "prompt_tok_s", "p50")),
        _num(dig(metrics, "decode_tok_s", "p50")),
        _num(dig(case, "memory", "delta_bytes")),
        _num(dig(case, "stability", "score")),
        _baseline_verdict(case.get("baseline")),
        text(case.get("server")),
        simulated,
        text(case.get("reason")),
    ]


def render(payload: Mapping[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    from harness.plan.render import CSV_COLUMNS, csv_rows

    # One row per case, then one per throughput size, projection, limit, capacity entry,
    # job plan and use-case recommendation, told apart by `section` (empty on case rows).
    header = (*COLUMNS, *CSV_COLUMNS)
    writer.writerow(header)
    simulated = "true" if payload.get("simulated") is True else "false"
    pad = [""] * len(CSV_COLUMNS)
    writer.writerows(row(case, simulated) + pad for case in records(payload.get("cases")))
    writer.writerows([extra.get(c, "") for c in header] for extra in csv_rows(payload))
    return out.getvalue()
