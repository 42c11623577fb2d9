"""`matrix.md`: the performance matrix as GitHub tables, in the layout of the user's plan.

    Model | Context | TTFT | Tok/s | RAM Δ | Stability | Use-case fit

Use-case fit is the case's `use_case` when the matrix gives one, else its verdict. Every cell
that did not pass follows with its verdict and reason, then a limits table with the
recommended settings when the run searched for limits.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence

from harness.matrix.registry import declared_tables
from harness.report import fmt
from harness.report.rows import Problem, problem
from harness.results.schema import Case, JsonObject, Limit, RunResults, as_run, text

MATRIX_HEADER = ("Model", "Context", "TTFT", "Tok/s", "RAM Δ", "Stability", "Use-case fit")
PROBLEMS_HEADER = ("Case", "Verdict", "Reason")
LIMITS_HEADER = (
    "Model",
    "Max context found",
    "Bytes/token",
    "Recommended max context",
    "Trim threshold",
)


# Most cells (numbers, model names) hold none of these: they are returned as they are,
# without five replace() calls each (70,000 cells in a 10,000-case run).
_SPECIAL = re.compile(r"[\\&<>|\r\n]")


def cell(value: str) -> str:
    """Text safe inside a GitHub table cell: no pipes, newlines or raw HTML."""
    if _SPECIAL.search(value) is None:
        return value
    escaped = (
        value.replace("\\", "\\\\")
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("|", "\\|")
    )
    return "<br>".join(escaped.splitlines()) if "\n" in escaped or "\r" in escaped else escaped


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join([cell(v) for v in row]) + " |" for row in rows]
    return lines


def matrix_cells(case: Case) -> tuple[str, ...]:
    fit = case.use_case or case.verdict or case.outcome
    return (
        case.model,
        fmt.case_ctx(case),
        fmt.seconds(case.p50("ttft_s")),
        fmt.rate(case.p50("decode_tok_s")),
        fmt.size(case.memory.delta_bytes if case.memory else None, signed=True),
        fmt.score(case.stability.score if case.stability else None),
        fit,
    )


def render(payload: RunResults | JsonObject) -> str:
    run = as_run(payload)
    lines = [f"# Performance matrix: {cell(run.run_id or '')}", ""]
    if run.simulated:
        lines += ["**SIMULATED**: measured against the harness simulator, not a real server.", ""]
    fp = run.fingerprint
    gpus = ", ".join(g.name for g in fp.gpus or ())
    about = [
        fp.host,
        gpus,
        " ".join(p for p in (text(fp.engine), fp.server_version) if p),
        run.started_at or "",
    ]
    if any(about):
        lines += [cell(" · ".join(a for a in about if a)), ""]
    cases = run.cases
    lines += table(MATRIX_HEADER, (matrix_cells(c) for c in cases)) if cases else ["No cases."]
    problems = [p for c in cases if (p := problem(c)) is not None]
    if problems:
        # The matrix's last column is the use case when the matrix gives one, so a cell that
        # failed would not say so there: every such cell is listed with its verdict and why.
        lines += ["", "## Cells that did not pass", ""]
        lines += table(PROBLEMS_HEADER, (_problem_cells(p) for p in problems))
    if run.limits:
        lines += ["", "## Context limits", ""]
        lines += table(LIMITS_HEADER, (_limit_cells(lim) for lim in run.limits))
        for lim in run.limits:
            settings = lim.recommendations.settings_text
            if settings:
                lines += ["", f"{cell(lim.model)}:", "", *preformatted(settings)]
    lines += declared_sections(run.raw)
    from harness.plan.render import markdown_lines

    lines += markdown_lines(run)  # throughput, projections, capacity, plan, use cases
    return "\n".join(lines) + "\n"


def declared_sections(payload: JsonObject) -> list[str]:
    """The sections of suites that declare a table renderer (harness/matrix/registry.py)."""
    lines: list[str] = []
    for _, found in declared_tables(payload):
        lines += ["", f"## {cell(found.title)}", "", *table(found.columns, found.rows)]
    return lines


def preformatted(value: str) -> list[str]:
    """A block shown verbatim, with HTML escaped.

    Not a fenced code block: a fence shows entities literally, so a server's `<script>` text
    would have to stay raw in the file, and a backtick run in the text could end the fence
    early. An HTML `<pre>` block ends only at `</pre>` (which escaping removes from the text),
    and GitHub decodes the entities inside it back to the original characters.
    """
    return ["<pre>", html.escape(value.strip("\n"), quote=False), "</pre>"]


def _problem_cells(found: Problem) -> tuple[str, ...]:
    reason = found.reason or "; ".join(found.errors) or found.outcome or "-"
    return (found.id, found.verdict or found.outcome, " ".join(reason.split()))


def _limit_cells(lim: Limit) -> tuple[str, ...]:
    recs = lim.recommendations
    return (
        lim.model,
        fmt.ctx(lim.max_context),
        fmt.size(lim.bytes_per_token),
        fmt.ctx(recs.max_context_tokens),
        fmt.ctx(recs.trim_threshold),
    )
