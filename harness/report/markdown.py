"""`matrix.md`: the performance matrix as GitHub tables, in the layout of the user's plan.

    Model | Context | TTFT | Tok/s | RAM Δ | Stability | Use-case fit

Use-case fit is the case's `use_case` when the matrix gives one, else its verdict. Every cell
that did not pass follows with its verdict and reason, then a limits table with the
recommended settings when the run searched for limits.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from harness.report import fmt
from harness.report.payload import dig, mapping, number, records, text
from harness.report.rows import Problem, problem

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


def matrix_cells(case: Mapping[str, Any]) -> tuple[str, ...]:
    metrics = mapping(case.get("metrics"))
    fit = text(case.get("use_case")) or text(case.get("verdict")) or text(case.get("outcome"))
    return (
        text(case.get("model")),
        fmt.case_ctx(case),
        fmt.seconds(number(dig(metrics, "ttft_s", "p50"))),
        fmt.rate(number(dig(metrics, "decode_tok_s", "p50"))),
        fmt.size(number(dig(case, "memory", "delta_bytes")), signed=True),
        fmt.score(number(dig(case, "stability", "score"))),
        fit,
    )


def render(payload: Mapping[str, Any]) -> str:
    run_id = text(payload.get("run_id"))
    lines = [f"# Performance matrix: {cell(run_id)}", ""]
    if payload.get("simulated") is True:
        lines += ["**SIMULATED**: measured against the harness simulator, not a real server.", ""]
    fp = mapping(payload.get("fingerprint"))
    gpus = ", ".join(text(g.get("name")) for g in records(fp.get("gpus")))
    about = [
        text(fp.get("host")),
        gpus,
        " ".join(p for p in (text(fp.get("engine")), text(fp.get("server_version"))) if p),
        text(payload.get("started_at")),
    ]
    if any(about):
        lines += [cell(" · ".join(a for a in about if a)), ""]
    cases = records(payload.get("cases"))
    lines += table(MATRIX_HEADER, (matrix_cells(c) for c in cases)) if cases else ["No cases."]
    problems = [p for c in cases if (p := problem(c)) is not None]
    if problems:
        # The matrix's last column is the use case when the matrix gives one, so a cell that
        # failed would not say so there: every such cell is listed with its verdict and why.
        lines += ["", "## Cells that did not pass", ""]
        lines += table(PROBLEMS_HEADER, (_problem_cells(p) for p in problems))
    limits = records(payload.get("limits"))
    if limits:
        lines += ["", "## Context limits", ""]
        lines += table(LIMITS_HEADER, (_limit_cells(lim) for lim in limits))
        for lim in limits:
            settings = text(dig(lim, "recommendations", "settings_text"))
            if settings:
                lines += ["", f"{cell(text(lim.get('model')))}:", "", *preformatted(settings)]
    from harness.plan.render import markdown_lines

    lines += markdown_lines(payload)  # throughput, projections, capacity, plan, use cases
    return "\n".join(lines) + "\n"


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


def _limit_cells(lim: Mapping[str, Any]) -> tuple[str, ...]:
    recs = mapping(lim.get("recommendations"))
    return (
        text(lim.get("model")),
        fmt.ctx(number(lim.get("max_context"))),
        fmt.size(number(lim.get("bytes_per_token"))),
        fmt.ctx(number(recs.get("max_context_tokens"))),
        fmt.ctx(number(recs.get("trim_threshold"))),
    )
