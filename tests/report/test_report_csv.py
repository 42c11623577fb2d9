from __future__ import annotations

import csv
import io

from harness.plan.render import CSV_COLUMNS
from harness.report import csvout
from tests.report.payloads import Payloads

EXPECTED_COLUMNS = [
    "id", "model", "num_ctx", "verdict", "outcome", "ttft_s_p50", "ttft_s_p90",
    "prompt_tok_s_p50", "decode_tok_s_p50", "memory_delta_bytes", "stability",
    "baseline_verdict", "server", "simulated", "reason",
]  # fmt: skip


def _read(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def test_one_row_per_case_with_raw_numbers(payloads: Payloads) -> None:
    run = payloads.realistic()
    header, rows = _read(csvout.render(run))
    # The case columns, then the plan package's (rows for sizes, limits, plans: `section`).
    assert header == EXPECTED_COLUMNS + list(CSV_COLUMNS)
    rows = [r for r in rows if not r["section"]]
    assert len(rows) == len(run["cases"])
    first = rows[0]
    assert first["id"] == "gemma3:12b-8k"
    assert first["num_ctx"] == "8192"
    assert float(first["ttft_s_p50"]) == run["cases"][0]["metrics"]["ttft_s"]["p50"]
    assert first["memory_delta_bytes"] == str(run["cases"][0]["memory"]["delta_bytes"])
    assert first["simulated"] == "true"
    assert rows[2]["baseline_verdict"] == "regressed"
    oom = next(r for r in rows if r["verdict"] == "oom")
    assert oom["decode_tok_s_p50"] == ""
    assert "out of memory" in oom["reason"]


def test_awkward_text_survives_the_round_trip(payloads: Payloads) -> None:
    reason = 'has, commas\nand "quotes" and a newline'
    run = payloads.run([payloads.case(reason=reason, baseline="new")], simulated=False)
    _, rows = _read(csvout.render(run))
    assert rows[0]["reason"] == reason
    assert rows[0]["baseline_verdict"] == "new"
    assert rows[0]["simulated"] == "false"


def test_no_cases_gives_just_the_header(payloads: Payloads) -> None:
    expected = ",".join(EXPECTED_COLUMNS + list(CSV_COLUMNS)) + "\n"
    assert csvout.render(payloads.run([])) == expected
