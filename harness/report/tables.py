"""The HTML of the two tables with a line per case: the performance matrix and stability.

Built here rather than in the template because of their size: at 10,000 cases Jinja's
per-value `escape()` (a Markup object and an attribute lookup for each of ~230,000 cells)
took two thirds of the page's render time. Every value is still escaped (`html.escape`,
quotes included, for the title attributes); the template inserts the result as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from harness.report.rows import Row, StabilityTable

# Joins a row's values so that one escape() call covers them all; NUL is not escaped and
# cannot be in HTML text anyway (a value holding one falls back to escaping value by value).
_SEP = "\x00"


def escaped(values: Sequence[str]) -> list[str]:
    """`html.escape` of each value, in one call over the whole row."""
    parts = escape(_SEP.join(values)).split(_SEP)
    return parts if len(parts) == len(values) else [escape(v) for v in values]


def _fail(metric: str, bad: frozenset[str]) -> str:
    return "n fail" if metric in bad else "n"


def matrix_body(rows: Sequence[Row]) -> str:
    """The `<tr>` lines of the performance matrix, one per row, numbered from case-1."""
    out = []
    for index, row in enumerate(rows, 1):
        bad = row.bad
        (cls, case_id, model, ctx, ttft_tip, ttft, prompt_tip, prompt, decode_tip, decode,
         memory, stab_tip, stab, verdict_tip, verdict, base_cls, base_tip, base) = escaped((
            row.cls, row.id, row.model, row.ctx, row.ttft_tip, row.ttft, row.prompt_tip,
            row.prompt, row.decode_tip, row.decode, row.memory, row.stability_tip,
            row.stability, row.verdict_tip, row.verdict, row.baseline_cls, row.baseline_tip,
            row.baseline,
        ))  # fmt: skip
        out.append(
            f'<tr class="{cls}" id="case-{index}"><td title="{case_id}">{model}</td>'
            f'<td class="n">{ctx}</td>'
            f'<td class="{_fail("ttft_s", bad)}" title="{ttft_tip}">{ttft}</td>'
            f'<td class="{_fail("prompt_tok_s", bad)}" title="{prompt_tip}">{prompt}</td>'
            f'<td class="{_fail("decode_tok_s", bad)}" title="{decode_tip}">{decode}</td>'
            f'<td class="n">{memory}</td>'
            f'<td class="{_fail("stability", bad)}" title="{stab_tip}">{stab}</td>'
            f'<td class="v" title="{verdict_tip}">{verdict}</td>'
            f'<td class="{base_cls}-b" title="{base_tip}">{base}</td></tr>\n'
        )
    return "".join(out)


def stability_body(table: StabilityTable) -> str:
    """The `<tr>` lines of the stability table: case, score, then one cell per component."""
    out = []
    for case_id, score, values in table.rows:
        first, second, *rest = escaped((case_id, score, *values))
        cells = "".join(f'<td class="n">{v}</td>' for v in rest)
        out.append(
            f'<tr><td>{first}</td><td class="n"><strong>{second}</strong></td>{cells}</tr>\n'
        )
    return "".join(out)
