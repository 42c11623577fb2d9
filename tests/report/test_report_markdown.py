from __future__ import annotations

import html
import re
from typing import Any

from harness.report import markdown
from tests.report.payloads import Payloads

UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def _tables(text: str) -> list[list[str]]:
    tables: list[list[str]] = []
    current: list[str] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    return tables


def test_matrix_table_has_the_seed_layout(payloads: Payloads) -> None:
    text = markdown.render(payloads.realistic())
    # then harness.plan's: throughput by size, projections, recommendations (tests/plan)
    matrix, problems, limits = _tables(text)[:3]
    assert matrix[0] == "| Model | Context | TTFT | Tok/s | RAM Δ | Stability | Use-case fit |"
    assert matrix[1] == "|---|---|---|---|---|---|---|"
    assert len(matrix) == 2 + 12
    for table in (matrix, problems, limits):
        widths = {len(UNESCAPED_PIPE.findall(line)) for line in table}
        assert len(widths) == 1  # every row has as many cells as the header
    assert "| gemma3:12b | 32K | 400 ms | 36.5 | +1.50 GiB | 0.93 | pass |" in matrix
    assert any(line.endswith("| oom |") for line in matrix)
    assert "MAX_CONTEXT_TOKENS = 36864" in text
    # The use case fills the last column, so the cells that did not pass are listed with why.
    assert problems[0] == "| Case | Verdict | Reason |"
    assert [row.split(" | ")[1] for row in problems[2:]] == ["fail", "oom", "skipped"]


def test_every_cell_that_did_not_pass_has_its_reason_on_one_line(payloads: Payloads) -> None:
    failed = payloads.case(
        "m", use_case="Chat", verdict="error", reason="incomplete: cut\nsecond line"
    )
    text = markdown.render(payloads.run([payloads.case(use_case="Chat"), failed]))
    matrix, problems = _tables(text)[:2]  # then the use-case recommendations
    assert matrix[3].endswith("| Chat |")  # the use case hides the verdict here...
    assert problems[2:] == ["| m-32k | error | incomplete: cut second line |"]  # ...not here


def test_use_case_fit_prefers_the_matrix_use_case(payloads: Payloads) -> None:
    run = payloads.run([payloads.case(use_case="Advanced coding [TARGET]"), payloads.case()])
    rows = _tables(markdown.render(run))[0]
    assert rows[2].endswith("| Advanced coding [TARGET] |")
    assert rows[3].endswith("| pass |")


def test_cells_escape_pipes_newlines_and_html(payloads: Payloads) -> None:
    case = payloads.case("a|b", use_case="line one\nline two <script>")
    rows = _tables(markdown.render(payloads.run([case])))[0]
    assert rows[2].startswith("| a\\|b |")
    assert rows[2].endswith("| line one<br>line two &lt;script&gt; |")
    assert len(UNESCAPED_PIPE.findall(rows[2])) == 8
    assert markdown.cell("back\\slash") == "back\\\\slash"


def test_simulated_header_line(payloads: Payloads) -> None:
    assert "**SIMULATED**" in markdown.render(payloads.run(simulated=True))
    assert "SIMULATED" not in markdown.render(payloads.run(simulated=False))


def test_no_server_text_reaches_the_file_as_html(payloads: Payloads) -> None:
    """Every string of a run carries a script tag: none may appear raw, settings included."""
    script = "<script>alert(1)</script>"

    def hostile(value: Any) -> Any:
        if isinstance(value, str):
            return value + script
        if isinstance(value, dict):
            return {key: hostile(item) for key, item in value.items()}
        if isinstance(value, list):
            return [hostile(item) for item in value]
        return value

    text = markdown.render(hostile(payloads.realistic()))
    assert "<script" not in text.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    # The settings blocks still read as the text they hold once the entities are decoded.
    block = text.split("<pre>\n", 1)[1].split("\n</pre>", 1)[0]
    assert html.unescape(block).startswith("MAX_CONTEXT_TOKENS = ")
    assert html.unescape(block).endswith(script)


def test_settings_block_survives_backticks_and_closing_tags(payloads: Payloads) -> None:
    limit = payloads.limit()
    limit["recommendations"]["settings_text"] = "````\n</pre><b>x</b>\n```"
    text = markdown.render(payloads.run(limits=[limit]))
    assert "<pre>\n````\n&lt;/pre&gt;&lt;b&gt;x&lt;/b&gt;\n```\n</pre>" in text
