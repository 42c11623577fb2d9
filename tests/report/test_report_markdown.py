from __future__ import annotations

import re
from typing import TYPE_CHECKING

from harness.report import markdown

if TYPE_CHECKING:
    from conftest import Payloads

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
    matrix, limits = _tables(text)
    assert matrix[0] == "| Model | Context | TTFT | Tok/s | RAM Δ | Stability | Use-case fit |"
    assert matrix[1] == "|---|---|---|---|---|---|---|"
    assert len(matrix) == 2 + 12
    for table in (matrix, limits):
        widths = {len(UNESCAPED_PIPE.findall(line)) for line in table}
        assert len(widths) == 1  # every row has as many cells as the header
    assert "| gemma3:12b | 32K | 400 ms | 36.5 | +1.50 GiB | 0.93 | pass |" in matrix
    assert any(line.endswith("| oom |") for line in matrix)
    assert "MAX_CONTEXT_TOKENS = 36864" in text


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
