"""The per-case tables built in Python: every value escaped, even with a NUL inside one."""

from __future__ import annotations

from typing import Any

from harness.report import tables
from harness.report.rows import Row, StabilityTable
from harness.report.rows import matrix_row as row_of
from harness.results.schema import Case


def matrix_row(case: dict[str, Any]) -> Row:
    return row_of(Case.from_json(case))


def test_values_are_escaped_together_and_one_by_one_when_a_nul_splits_them() -> None:
    assert tables.escaped(['<a href="x">', "b&c", "'"]) == [
        "&lt;a href=&quot;x&quot;&gt;", "b&amp;c", "&#x27;"
    ]  # fmt: skip
    assert tables.escaped(["a\x00<", "b"]) == ["a\x00&lt;", "b"]  # no shift between cells


def test_matrix_row_html_escapes_every_cell_and_marks_failed_metrics() -> None:
    evil = '"><script>x</script>'
    row = matrix_row({
        "id": evil, "model": evil, "num_ctx": 4096, "verdict": evil, "reason": evil,
        "checks": [{"metric": "ttft_s", "stat": evil, "op": "<=", "required": 1,
                    "measured": 2, "passed": False}],
        "baseline": {"verdict": evil, "messages": [evil]},
    })  # fmt: skip
    html = tables.matrix_body([row])
    assert "<script>" not in html
    # id, model, TTFT tip, verdict tip and text, baseline tip and text
    assert html.count("&lt;script&gt;") == 7
    assert '<td class="n fail" title="ttft_s &quot;&gt;&lt;script&gt;' in html
    assert html.startswith('<tr class="bad" id="case-1">')


def test_stability_rows_escape_ids_and_values() -> None:
    body = tables.stability_body(StabilityTable(("a",), [("<i>", "0.90", ("<b>",))], ()))
    assert body == (
        '<tr><td>&lt;i&gt;</td><td class="n"><strong>0.90</strong></td>'
        '<td class="n">&lt;b&gt;</td></tr>\n'
    )


def test_the_ttft_cell_says_what_the_servers_counters_leave_out() -> None:
    row = matrix_row({
        "id": "m-2k", "model": "m", "num_ctx": 2048, "verdict": "pass",
        "metrics": {"ttft_s": {"p50": 1.2}, "ttft_gap_s": {"p50": 0.089}},
    })  # fmt: skip
    assert "client TTFT minus the server's load + prompt evaluation" in row.ttft_tip
    assert "89" in row.ttft_tip
    plain = matrix_row({"id": "m-2k", "model": "m", "num_ctx": 2048, "metrics": {}})
    assert "client TTFT" not in plain.ttft_tip
